import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type CheckReport, checkMigrations, formatProblem } from '../lib/check/check.ts';
import { startEmbedded } from '../lib/local/embedded.ts';
import { scratchParent } from './scratch.ts';
import { workload } from './workload.ts';

export interface CheckBenchResult {
  readonly migrations: number;
  readonly loadMs: number;
  readonly lintMs: number;
  readonly driftMs: number;
  readonly roundTripMs: number;
  /** `check` with the round trip, wall clock. */
  readonly checkMs: number;
  /** `check --static`, wall clock: no database. */
  readonly staticMs: number;
}

export async function benchCheck(count = 500): Promise<CheckBenchResult> {
  const root = await mkdtemp(join(await scratchParent(), 'rds-migrate-bench-check-'));
  const migrationsDir = join(root, 'migrations');
  await writeMigrations(migrationsDir, count);
  const server = await startEmbedded({ dataDir: join(root, 'data'), throwaway: true, database: 'postgres' });
  try {
    const serverOptions = { databaseUrl: server.url('postgres'), env: {}, cwd: root };
    // Warm-up: the parser's WASM and the first connections, outside the clock.
    await checkMigrations({ migrationsDir, cwd: root, static: true });

    let started = performance.now();
    const full = await checkMigrations({ migrationsDir, cwd: root, server: serverOptions });
    const checkMs = performance.now() - started;
    assertClean(full);
    started = performance.now();
    assertClean(await checkMigrations({ migrationsDir, cwd: root, static: true }));
    const staticMs = performance.now() - started;

    const result: CheckBenchResult = {
      migrations: count,
      loadMs: full.timingsMs.load,
      lintMs: full.timingsMs.lint,
      driftMs: full.timingsMs.drift,
      roundTripMs: full.timingsMs.roundTrip,
      checkMs: Math.round(checkMs),
      staticMs: Math.round(staticMs),
    };
    process.stdout.write(`${formatResult(result, full)}\n`);
    await writeResult(result);
    return result;
  } finally {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

async function writeMigrations(directory: string, count: number): Promise<void> {
  await mkdir(directory, { recursive: true });
  let parent = 'none';
  for (const migration of workload(count)) {
    const text =
      `-- revision: ${migration.revision}\n-- down_revision: ${parent}\n\n` +
      `-- migrate:up\n${migration.up}\n\n-- migrate:down\n${migration.down}\n`;
    await writeFile(join(directory, `${migration.ordinal}_bench_${migration.index}.sql`), text);
    parent = migration.revision;
  }
}

function assertClean(report: CheckReport): void {
  if (report.ok) return;
  const problems = report.problems.slice(0, 5).flatMap(formatProblem).join('\n');
  throw new Error(`check found problems in the bench workload:\n${problems}`);
}

function formatResult(result: CheckBenchResult, report: CheckReport): string {
  const per = (ms: number) => `${(ms / result.migrations).toFixed(2)} ms per migration`;
  const row = (name: string, ms: number, note = '') =>
    `  ${name.padEnd(22)} ${String(ms).padStart(7)} ms  ${note}`;
  return [
    `rds-migrate check on ${result.migrations} generated migrations`,
    row('load + graph', result.loadMs),
    row('lint', result.lintMs, `${per(result.lintMs)}, up and down sections`),
    row('drift', result.driftMs, '(no history: connect and look)'),
    row(
      'round trip',
      result.roundTripMs,
      `${per(result.roundTripMs)}; ${report.checks.roundTrip.summary.split(' on ')[0]}`,
    ),
    row('check (wall)', result.checkMs),
    row('check --static (wall)', result.staticMs, 'what cdk synth runs'),
  ].join('\n');
}

async function writeResult(result: CheckBenchResult): Promise<void> {
  const folder = fileURLToPath(new URL('../.bench/', import.meta.url));
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'check.json'), `${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const count = Number(process.argv[2] ?? 500);
  if (!Number.isInteger(count) || count < 1)
    throw new Error('usage: tsx bench/check.ts [migrations, e.g. 500]');
  await benchCheck(count);
}
