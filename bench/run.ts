import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import pg from 'pg';
import { startEmbedded } from '../lib/local/embedded.ts';
import { type Cell, formatTable, type LargeNoOp, ontoHistoryLines, summarise, verdicts } from './report.ts';
import { scratchParent } from './scratch.ts';
import { median } from './stats.ts';
import { kysely } from './tools/kysely.ts';
import { nodePgMigrate } from './tools/node-pg-migrate.ts';
import { rawOneQuery, rawOneTransaction, rawPerMigration } from './tools/raw-pg.ts';
import { rdsMigrate } from './tools/rds-migrate.ts';
import { PHASES, type PhaseDetails, type Tool } from './tools/tool.ts';
import { workload } from './workload.ts';

const TOOLS: readonly Tool[] = [
  rawOneTransaction,
  rawPerMigration,
  rawOneQuery,
  rdsMigrate,
  kysely,
  nodePgMigrate(false),
  nodePgMigrate(true),
];

/** Issue 18 asks how a no-op `up` grows: rds-migrate alone, at this size, after the table's sizes. */
const LARGE_NO_OP = 2000;

/** What most deploys do: a few migrations onto a history earlier runs wrote (every tool). */
const ONTO = { applied: 100, n: 10 } as const;

// A collection before each timed phase, so one tool's garbage is not another's pause.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

interface Sample {
  readonly tool: string;
  readonly n: number;
  readonly phase: string;
  readonly ms: number;
  readonly details?: Readonly<Record<string, number>>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sizes: { type: 'string', default: '10,100,500' }, runs: { type: 'string', default: '3' } },
  });
  const sizes = values.sizes.split(',').map(Number);
  const runs = Number(values.runs);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(runs) || runs < 1) {
    throw new Error('--sizes takes positive integers (10,100,500), --runs a positive integer');
  }

  const started = performance.now();
  const loadBefore = loadavg()[0] ?? 0;
  const root = await mkdtemp(join(await scratchParent(), 'rds-migrate-bench-'));
  try {
    await benchIn(root, sizes, runs, started, loadBefore);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function benchIn(
  root: string,
  sizes: readonly number[],
  runs: number,
  started: number,
  loadBefore: number,
): Promise<void> {
  const server = await startEmbedded({ dataDir: join(root, 'data'), throwaway: true, database: 'postgres' });
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  try {
    await admin.connect();
    const version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]
      ?.server_version;
    const bench = new Bench(admin, server.url.bind(server), root);
    process.stderr.write(`PostgreSQL ${version} on port ${server.port}; warming up\n`);
    for (const tool of TOOLS) await bench.measure(tool, 10);
    bench.samples.length = 0;

    for (const n of sizes) {
      for (let run = 0; run < runs; run++) {
        // Rotate the order so no tool always runs first (or right after the biggest drop).
        const order = TOOLS.map((_, index) => TOOLS[(index + run) % TOOLS.length] as Tool);
        for (const tool of order) await bench.measure(tool, n);
      }
      process.stderr.write(`N = ${n}: ${runs} run(s) of ${TOOLS.length} tools done\n`);
    }

    const largeNoOp = await bench.measureNoOp(LARGE_NO_OP, runs);
    process.stderr.write(`N = ${LARGE_NO_OP}: ${runs} no-op up(s) of rds-migrate done\n`);
    const ontoSamples: Sample[] = [];
    for (let run = 0; run < runs; run++) {
      const order = TOOLS.map((_, index) => TOOLS[(index + run) % TOOLS.length] as Tool);
      for (const tool of order) ontoSamples.push(await bench.measureOnto(tool, ONTO.applied, ONTO.n));
    }
    process.stderr.write(
      `N = ${ONTO.n} onto ${ONTO.applied}: ${runs} run(s) of ${TOOLS.length} tools done\n`,
    );
    const ontoCells = summarise(ontoSamples, TOOLS, [ONTO.n]);
    const cells = summarise(bench.samples, TOOLS, sizes);
    const totalMs = performance.now() - started;
    process.stdout.write(
      `\n${formatTable(cells, TOOLS)}\n\n${verdicts(cells, sizes, largeNoOp).join('\n')}\n` +
        `\n${ontoHistoryLines(ontoCells, ONTO.applied).join('\n')}\n`,
    );
    // Other work on the machine shows up as spread between runs: say how busy it was.
    const load = `load average ${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after`;
    process.stdout.write(
      `\nmedians of ${runs} runs; total bench time ${(totalMs / 1000).toFixed(1)} s; ${load}\n`,
    );
    await writeResults({
      generatedAt: new Date().toISOString(),
      node: process.version,
      postgres: version,
      runs,
      sizes,
      tools: TOOLS.map((tool) => ({ name: tool.name, transactions: tool.transactions })),
      cells,
      largeNoOp,
      ontoHistory: { applied: ONTO.applied, cells: ontoCells },
      samples: bench.samples,
      totalMs,
      loadAverage: { before: loadBefore, after: loadavg()[0] },
    });
  } finally {
    await admin.end().catch(() => undefined);
    await server.stop();
  }
}

class Bench {
  readonly samples: Sample[] = [];
  private count = 0;

  constructor(
    private readonly admin: pg.Client,
    private readonly urlOf: (database: string) => string,
    private readonly root: string,
  ) {}

  /**
   * `work` on a database and a folder of its own (and a second session to check the work with),
   * both removed afterwards.
   */
  private async inScratch<T>(
    work: (scratch: { url: string; folder: string; check: pg.Client }) => Promise<T>,
  ): Promise<T> {
    this.count += 1;
    const database = `bench_${this.count}`;
    const folder = join(this.root, `run_${this.count}`);
    await mkdir(folder);
    await this.admin.query(`CREATE DATABASE ${database}`);
    const url = this.urlOf(database);
    const check = new pg.Client({ connectionString: url });
    try {
      await check.connect();
      return await work({ url, folder, check });
    } finally {
      await check.end();
      await this.admin.query(`DROP DATABASE ${database} WITH (FORCE)`);
      await rm(folder, { recursive: true, force: true });
    }
  }

  /** rds-migrate's no-op `up` on `n` migrations, `runs` times on one database (its `up` untimed). */
  measureNoOp(n: number, runs: number): Promise<LargeNoOp> {
    return this.inScratch(async ({ url, folder }) => {
      const run = await rdsMigrate.prepare({ url, folder, migrations: workload(n) });
      try {
        await run.phases.up?.();
        const samples: { ms: number; details: PhaseDetails }[] = [];
        for (let index = 0; index < runs; index++) {
          collectGarbage();
          const before = performance.now();
          const details = (await run.phases['no-op up']?.()) ?? {};
          samples.push({ ms: performance.now() - before, details });
        }
        const parts = [...new Set(samples.flatMap((sample) => Object.keys(sample.details)))];
        return {
          n,
          medianMs: median(samples.map((sample) => sample.ms)),
          samplesMs: samples.map((sample) => sample.ms),
          details: Object.fromEntries(
            parts.map((part) => [part, median(samples.map((sample) => sample.details[part] ?? 0))]),
          ),
        };
      } finally {
        await run.close();
      }
    });
  }

  /**
   * `up` of `n` migrations onto `applied` that the same tool applied (untimed) to a fresh
   * database before: the history, the lock's table and the catalog are warm as on a deploy.
   */
  measureOnto(tool: Tool, applied: number, n: number): Promise<Sample> {
    return this.inScratch(async ({ url, folder, check }) => {
      const earlier = await tool.prepare({ url, folder, migrations: workload(applied) });
      try {
        await earlier.phases.up?.();
      } finally {
        await earlier.close();
      }
      const run = await tool.prepare({ url, folder, migrations: workload(applied + n), applied });
      try {
        collectGarbage();
        const before = performance.now();
        const details = await run.phases.up?.();
        const ms = performance.now() - before;
        await expectTables(check, tool, applied + n);
        return { tool: tool.name, n, phase: 'up', ms, ...(details ? { details } : {}) };
      } finally {
        await run.close();
      }
    });
  }

  /** One run: a fresh database and folder, then up, no-op up and down, each timed. */
  measure(tool: Tool, n: number): Promise<void> {
    return this.inScratch(async ({ url, folder, check }) => {
      const run = await tool.prepare({ url, folder, migrations: workload(n) });
      try {
        for (const phase of PHASES) {
          const work = run.phases[phase];
          if (!work) continue;
          collectGarbage();
          const before = performance.now();
          const details = await work();
          const ms = performance.now() - before;
          this.samples.push({ tool: tool.name, n, phase, ms, ...(details ? { details } : {}) });
          await expectTables(check, tool, phase === 'down' ? 0 : n);
        }
      } finally {
        await run.close();
      }
    });
  }
}

/** Every tool must really have done the work it was timed on. */
async function expectTables(check: pg.Client, tool: Tool, expected: number): Promise<void> {
  const result = await check.query<{ count: string }>(
    `SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'bench\\_%'`,
  );
  const found = Number(result.rows[0]?.count);
  if (found !== expected) throw new Error(`${tool.name}: ${found} bench tables, expected ${expected}`);
}

async function writeResults(results: Record<string, unknown> & { cells: readonly Cell[] }): Promise<void> {
  const folder = fileURLToPath(new URL('../.bench/', import.meta.url));
  await mkdir(folder, { recursive: true });
  const file = join(folder, 'results.json');
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`results written to ${file}\n`);
}

await main();
await (await import('./cli.ts')).benchCli();
await (await import('./check.ts')).benchCheck();
await (await import('./backfill.ts')).benchBackfill();
await (await import('./background.ts')).benchBackground();
await (await import('./handler.ts')).benchHandler();
await (await import('./deploy.ts')).benchDeploy();
await (await import('./autogen.ts')).benchAutogen();
await (await import('./squash.ts')).benchSquash();
await (await import('./fleet.ts')).benchFleet();
