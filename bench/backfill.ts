/**
 * The backfill case: fill a derived column on 1,000,000 rows three ways, in the same run on the
 * same server: the guide's LIMIT/OFFSET loop, rds-migrate's keyset batch helper (ctx.batch, one
 * transaction per batch, a checkpoint per batch), and one plain UPDATE (the floor, but one long
 * transaction holding every row lock). Each method gets its own copy of the table.
 *
 * Standalone: `npx tsx bench/backfill.ts [rows]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { databaseOf } from '../lib/engine/connection.ts';
import { RevisionGraph } from '../lib/engine/graph.ts';
import type { Migration } from '../lib/engine/migration.ts';
import { migrate } from '../lib/engine/runner.ts';
import { startEmbedded } from '../lib/local/embedded.ts';
import { scratchParent } from './scratch.ts';

export const BATCH = 1000;
/** What both backfill benches compute for each row: the price's digits as a number. */
export const FILL = `coalesce(nullif(regexp_replace(price, '[^0-9.]', '', 'g'), '')::numeric, 0)`;

export interface BackfillResult {
  readonly method: string;
  readonly ms: number;
  readonly ratioToPlainUpdate: number;
  /** Measured up to a time cap, the rest projected: see `offsetLoop`. */
  readonly note?: string;
}

export async function runBackfillBench(
  adminUrl: string,
  rows: number,
  offsetCapMs = 90_000,
): Promise<BackfillResult[]> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS bench_backfill');
  await admin.query('CREATE DATABASE bench_backfill');
  const client = new pg.Client({ connectionString: adminUrl.replace(/\/[^/]*$/, '/bench_backfill') });
  await client.connect();
  try {
    for (const table of ['by_offset', 'by_batch', 'by_update']) await createTable(client, table, rows);
    const offset = await offsetLoop(client, 'by_offset', rows, offsetCapMs);
    const batch = await timed(() => batchHelper(client, 'by_batch'));
    const plain = await timed(() => client.query(`UPDATE by_update SET normalized_price = ${FILL}`));
    for (const table of ['by_offset', 'by_batch', 'by_update']) await assertFilled(client, table, rows);
    return [
      {
        method: 'LIMIT/OFFSET loop (the guide)',
        ms: offset.ms,
        ratioToPlainUpdate: offset.ms / plain,
        note: offset.projected
          ? `measured ${offset.rowsDone.toLocaleString('en-US')} rows in ${(offsetCapMs / 1000).toFixed(0)} s, rest projected`
          : undefined,
      },
      { method: 'rds-migrate ctx.batch (keyset)', ms: batch, ratioToPlainUpdate: batch / plain },
      { method: 'one plain UPDATE', ms: plain, ratioToPlainUpdate: 1 },
    ];
  } finally {
    await client.end();
    await admin.query('DROP DATABASE IF EXISTS bench_backfill WITH (FORCE)');
    await admin.end();
  }
}

async function createTable(client: pg.Client, table: string, rows: number): Promise<void> {
  await client.query(
    `CREATE TABLE ${table} (id bigserial PRIMARY KEY, price text, normalized_price numeric(12, 2))`,
  );
  await client.query(
    `INSERT INTO ${table} (price) SELECT '$' || (i % 5000) || '.' || lpad((i % 100)::text, 2, '0')
     FROM generate_series(1, $1) AS i`,
    [rows],
  );
  await client.query(`VACUUM ANALYZE ${table}`);
}

/**
 * The guide's loop: each batch finds its rows by OFFSET, so batch k re-reads k * BATCH keys and
 * the whole walk is quadratic. Past `capMs` it stops and projects the rest from a straight-line
 * fit of batch time against batch number (measured, not guessed, up to the cap).
 */
async function offsetLoop(
  client: pg.Client,
  table: string,
  rows: number,
  capMs: number,
): Promise<OffsetOutcome> {
  const batchMs: number[] = [];
  const started = performance.now();
  for (let offset = 0; ; offset += BATCH) {
    const batchStarted = performance.now();
    const result = await client.query(
      `UPDATE ${table} SET normalized_price = ${FILL}
       WHERE id IN (SELECT id FROM ${table} ORDER BY id LIMIT ${BATCH} OFFSET ${offset})`,
    );
    batchMs.push(performance.now() - batchStarted);
    const elapsed = performance.now() - started;
    if ((result.rowCount ?? 0) < BATCH) return { ms: elapsed, projected: false, rowsDone: rows };
    if (elapsed > capMs) {
      await client.query(`UPDATE ${table} SET normalized_price = ${FILL} WHERE normalized_price IS NULL`);
      return {
        ms: projectTotal(batchMs, Math.ceil(rows / BATCH)),
        projected: true,
        rowsDone: offset + BATCH,
      };
    }
  }
}

interface OffsetOutcome {
  readonly ms: number;
  readonly projected: boolean;
  readonly rowsDone: number;
}

/** Least-squares line through (k, ms of batch k), summed over every batch of the full walk. */
function projectTotal(batchMs: readonly number[], batches: number): number {
  const n = batchMs.length;
  const meanK = (n - 1) / 2;
  const meanMs = batchMs.reduce((sum, ms) => sum + ms, 0) / n;
  let covariance = 0;
  let variance = 0;
  batchMs.forEach((ms, k) => {
    covariance += (k - meanK) * (ms - meanMs);
    variance += (k - meanK) ** 2;
  });
  const slope = variance === 0 ? 0 : covariance / variance;
  const intercept = meanMs - slope * meanK;
  return batches * intercept + (slope * batches * (batches - 1)) / 2;
}

/** The same work as a data migration through the engine: history, checkpoints and all. */
async function batchHelper(client: pg.Client, table: string): Promise<void> {
  const migration: Migration = {
    revision: 'backfill0001',
    downRevisions: [],
    message: 'backfill',
    transaction: false,
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
  await migrate(
    databaseOf(client),
    RevisionGraph.from([migration]),
    { action: 'upgrade', target: 'head' },
    { actor: 'bench' },
  );
}

/** Every row has its value: the method really did the work it was timed on. */
export async function assertFilled(client: pg.Client, table: string, rows: number): Promise<void> {
  const result = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${table} WHERE normalized_price IS NOT NULL`,
  );
  if (Number(result.rows[0]?.n) !== rows)
    throw new Error(`${table}: ${result.rows[0]?.n} of ${rows} rows filled`);
}

export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export function formatBackfill(rows: number, results: readonly BackfillResult[]): string {
  const lines = [`backfill of ${rows.toLocaleString('en-US')} rows, batches of ${BATCH} (one run each)`];
  for (const result of results) {
    const note = result.note ? `   (${result.note})` : '';
    const ratio = result.ratioToPlainUpdate.toFixed(2);
    lines.push(
      `  ${result.method.padEnd(34)} ${result.ms.toFixed(0).padStart(8)} ms   ${ratio}x plain UPDATE${note}`,
    );
  }
  return lines.join('\n');
}

/** `npm run bench`'s backfill case, on a server of its own. */
export async function benchBackfill(rows = 1_000_000, offsetCapMs = 60_000): Promise<BackfillResult[]> {
  const folder = await mkdtemp(join(await scratchParent(), 'rds-migrate-backfill-'));
  const server = await startEmbedded({
    dataDir: join(folder, 'data'),
    throwaway: true,
    database: 'postgres',
  });
  try {
    const results = await runBackfillBench(server.url('postgres'), rows, offsetCapMs);
    process.stdout.write(`${formatBackfill(rows, results)}\n`);
    return results;
  } finally {
    await server.stop();
    await rm(folder, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) await benchBackfill(Number(process.argv[2] ?? 1_000_000));
