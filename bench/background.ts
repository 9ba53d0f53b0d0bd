/**
 * The background case: fill a derived column on 1,000,000 rows, in the same run on the same
 * server: one plain UPDATE (the floor: one transaction holding every row lock), one `ctx.batch`
 * walk (one session, a transaction and a checkpoint per batch), and the background run (the
 * deployed state machine's split, range walks and completion, in-process as `rds-migrate up`
 * runs them) over 1, 2, 4 and 8 key ranges with as many worker connections. Each method gets its
 * own copy of the table; batches of 1,000 rows throughout.
 *
 * Standalone: `npx tsx bench/background.ts [rows]`.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runBackgroundLocally } from '../lib/engine/background-local.ts';
import { databaseOf } from '../lib/engine/connection.ts';
import { RevisionGraph } from '../lib/engine/graph.ts';
import { History } from '../lib/engine/history.ts';
import type { Migration } from '../lib/engine/migration.ts';
import { migrate } from '../lib/engine/runner.ts';
import { startEmbedded } from '../lib/local/embedded.ts';
import { assertFilled, BATCH, FILL, timed } from './backfill.ts';
import { scratchParent } from './scratch.ts';

const RANGES = [1, 2, 4, 8] as const;

export interface BackgroundResult {
  readonly method: string;
  readonly ms: number;
  readonly rowsPerSecond: number;
  /** This method's time over one plain UPDATE's: 1 is the floor. */
  readonly ratioToPlainUpdate: number;
}

export async function runBackgroundBench(adminUrl: string, rows: number): Promise<BackgroundResult[]> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS bench_background');
  await admin.query('CREATE DATABASE bench_background');
  const url = adminUrl.replace(/\/[^/]*$/, '/bench_background');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = ['by_update', 'by_batch', ...RANGES.map((ranges) => `by_ranges_${ranges}`)];
    await createTables(client, tables, rows);
    const plain = await timed(() => client.query(`UPDATE by_update SET normalized_price = ${FILL}`));
    const batch = await timed(() => oneWalk(client, 'by_batch'));
    const results: BackgroundResult[] = [
      result('one plain UPDATE', plain, rows, plain),
      result('ctx.batch, one walk', batch, rows, plain),
    ];
    for (const ranges of RANGES) {
      const ms = await backgroundRun(client, url, `by_ranges_${ranges}`, ranges);
      results.push(
        result(
          `background, ${ranges} range${ranges === 1 ? '' : 's'} (${ranges} worker${ranges === 1 ? '' : 's'})`,
          ms,
          rows,
          plain,
        ),
      );
    }
    for (const table of tables) await assertFilled(client, table, rows);
    return results;
  } finally {
    await client.end();
    await admin.query('DROP DATABASE IF EXISTS bench_background WITH (FORCE)');
    await admin.end();
  }
}

function result(method: string, ms: number, rows: number, plain: number): BackgroundResult {
  return { method, ms, rowsPerSecond: Math.round((rows * 1000) / ms), ratioToPlainUpdate: ms / plain };
}

async function createTables(client: pg.Client, tables: readonly string[], rows: number): Promise<void> {
  const [first, ...copies] = tables as [string, ...string[]];
  await client.query(
    `CREATE TABLE ${first} (id bigserial PRIMARY KEY, price text, normalized_price numeric(12, 2));
     INSERT INTO ${first} (price) SELECT '$' || (i % 5000) || '.' || lpad((i % 100)::text, 2, '0')
     FROM generate_series(1, ${Number(rows)}) AS i`,
  );
  for (const table of copies) {
    await client.query(
      `CREATE TABLE ${table} (LIKE ${first} INCLUDING ALL); INSERT INTO ${table} SELECT * FROM ${first}`,
    );
  }
  for (const table of tables) await client.query(`VACUUM ANALYZE ${table}`);
}

function backfill(table: string, background: boolean): Migration {
  return {
    revision: `fill_${table}`,
    downRevisions: [],
    message: `backfill ${table}`,
    transaction: false,
    ...(background ? { background: true } : {}),
    timeouts: { statementTimeout: '1h' },
    source: 'bench',
    checksum: 'bench',
    up: {
      kind: 'code',
      run: async (ctx) => {
        await ctx.batch<string>({
          table,
          size: BATCH,
          run: async (ids, sql) => {
            await sql.unsafe(`UPDATE ${table} SET normalized_price = ${FILL} WHERE id = ANY($1::bigint[])`, [
              ids,
            ]);
          },
        });
      },
    },
  };
}

/** `ctx.batch` through the engine: the run's history, a checkpoint per batch. */
async function oneWalk(client: pg.Client, table: string): Promise<void> {
  await migrate(
    databaseOf(client),
    RevisionGraph.from([backfill(table, false)]),
    { action: 'upgrade', target: 'head' },
    { actor: 'bench', history: new History(`history_${table}`), recordFingerprint: false },
  );
}

/** Applied (recorded as pending, untimed), then run as `up` runs it: split, walks, completion (timed). */
async function backgroundRun(client: pg.Client, url: string, table: string, ranges: number): Promise<number> {
  const graph = RevisionGraph.from([backfill(table, true)]);
  const history = new History(`history_${table}`);
  await migrate(
    databaseOf(client),
    graph,
    { action: 'upgrade', target: 'head' },
    {
      actor: 'bench',
      history,
      recordFingerprint: false,
    },
  );
  let report: Awaited<ReturnType<typeof runBackgroundLocally>> = [];
  const ms = await timed(async () => {
    report = await runBackgroundLocally({
      connect: async () => {
        const session = new pg.Client({ connectionString: url });
        await session.connect();
        return { db: databaseOf(session), close: () => session.end() };
      },
      history,
      graph,
      args: {},
      log: { info: () => undefined, warn: (message) => process.stderr.write(`warning: ${message}\n`) },
      ranges,
      concurrency: ranges,
      actor: 'bench',
    });
  });
  if (!report[0]?.completed)
    throw new Error(`${table}: the background run did not complete (${report[0]?.reason})`);
  return ms;
}

export function formatBackground(rows: number, results: readonly BackgroundResult[]): string {
  const lines = [
    `background backfill of ${rows.toLocaleString('en-US')} rows, batches of ${BATCH}, ${cpus().length} cores (one run each)`,
    `  ${'method'.padEnd(34)} ${'ms'.padStart(8)}   ${'rows/s'.padStart(9)}   time / plain UPDATE`,
  ];
  for (const result of results) {
    lines.push(
      `  ${result.method.padEnd(34)} ${result.ms.toFixed(0).padStart(8)}   ${result.rowsPerSecond.toLocaleString('en-US').padStart(9)}   ${result.ratioToPlainUpdate.toFixed(2)}x`,
    );
  }
  return lines.join('\n');
}

/** `npm run bench`'s background case, on a server of its own. */
export async function benchBackground(rows = 1_000_000): Promise<BackgroundResult[]> {
  const folder = await mkdtemp(join(await scratchParent(), 'rds-migrate-background-'));
  const server = await startEmbedded({
    dataDir: join(folder, 'data'),
    throwaway: true,
    database: 'postgres',
  });
  try {
    const results = await runBackgroundBench(server.url('postgres'), rows);
    process.stdout.write(`${formatBackground(rows, results)}\n`);
    return results;
  } finally {
    await server.stop();
    await rm(folder, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) await benchBackground(Number(process.argv[2] ?? 1_000_000));
