/**
 * The deployed function's cold start as far as we control it: the size of the prebuilt handler
 * (`npm run build` writes the same files to dist/handler) and its module init time, the time
 * `import('./index.mjs')` takes in a fresh `node` with no node_modules around, as Lambda's init
 * phase runs it. Median of `runs` fresh processes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildHandler, HANDLER_FILES } from '../lib/construct/bundling.ts';
import { scratchParent } from './scratch.ts';
import { median } from './stats.ts';

export interface HandlerBenchResult {
  readonly bytes: Readonly<Record<string, number>>;
  readonly initMs: number;
  readonly initSamplesMs: readonly number[];
}

const IMPORT_TIMED =
  "const started = performance.now(); await import('./index.mjs'); " +
  'process.stdout.write(String(performance.now() - started));';

export async function benchHandler(runs = 15): Promise<HandlerBenchResult> {
  const folder = await mkdtemp(join(await scratchParent(), 'rds-migrate-bench-handler-'));
  try {
    buildHandler(join(import.meta.dirname, '..', 'lambda', 'handler.ts'), folder);
    const bytes: Record<string, number> = {};
    for (const name of HANDLER_FILES) bytes[name] = (await stat(join(folder, name))).size;
    // No warnings: on Node 20 the SDK warns about Node 22 being needed soon, which Lambda's Node 22 never does.
    const env = {
      PATH: process.env.PATH,
      AWS_REGION: 'eu-west-1',
      LOG_LEVEL: 'CRITICAL',
      NODE_NO_WARNINGS: '1',
    };
    const samples: number[] = [];
    for (let run = 0; run < runs + 1; run++) {
      const output = execFileSync(process.execPath, ['--input-type=module', '-e', IMPORT_TIMED], {
        cwd: folder,
        env,
        encoding: 'utf8',
      });
      // The first process warms the file cache; Lambda reads from a warm disk image too.
      if (run > 0) samples.push(Number(output));
    }
    const result = { bytes, initMs: median(samples), initSamplesMs: samples };
    const mb = (name: string) => ((bytes[name] ?? 0) / 1024 / 1024).toFixed(2);
    process.stdout.write(
      `\nprebuilt handler: index.mjs ${mb('index.mjs')} MB, libpg-query.wasm ${mb('libpg-query.wasm')} MB ` +
        `(source map ${mb('index.mjs.map')} MB); module init ${result.initMs.toFixed(1)} ms ` +
        `(median of ${runs} fresh node processes, ${process.version})\n`,
    );
    return result;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchHandler();
