/**
 * Background migrations in the engine, on real PostgreSQL: applied as pending, split into key
 * ranges, walked by worker connections (as `up` does), completed exactly once; the gate that
 * makes the contract step wait; a revert that stops the run.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { completeRun, runRange, splitRun } from '../../lib/engine/background.ts';
import { BackgroundRunBlocked } from '../../lib/engine/background-blockers.ts';
import { BackgroundGateClosed } from '../../lib/engine/background-gate.ts';
import { runBackgroundLocally } from '../../lib/engine/background-local.ts';
import { BackgroundMigrationError, batchPlanOf } from '../../lib/engine/background-plan.ts';
import { BackgroundRuns } from '../../lib/engine/background-runs.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { integerBoundaries, splitKeyRange } from '../../lib/engine/key-ranges.ts';
import { parseSqlMigration } from '../../lib/engine/loader.ts';
import type { Migration, MigrationContext } from '../../lib/engine/migration.ts';
import { migrate, type RunOptions } from '../../lib/engine/runner.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration } from '../support/migrations.ts';

const silent = { info: () => undefined, warn: () => undefined };
const options: RunOptions = { actor: 'test', log: silent };
const history = new History();
let database: TestDatabase;
let connection: Connection;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
});
afterEach(async () => {
  await database.drop();
});

const expand = sqlMigration(
  'exp001',
  `CREATE TABLE items (id bigint PRIMARY KEY, email text NOT NULL, email_lower text, touched int NOT NULL DEFAULT 0);
   INSERT INTO items (id, email) SELECT i, 'User' || i || '@Example.com' FROM generate_series(1, 5000) AS i`,
  { down: 'DROP TABLE items' },
);

/** A batch of `size` rows that sleeps `sleepMs` in its transaction: walkers then have one in flight. */
function backfill(parents = ['exp001'], { size = 300, sleepMs = 0 } = {}): Migration {
  return {
    revision: 'bkf001',
    downRevisions: parents,
    message: 'backfill email_lower',
    transaction: false,
    background: true,
    timeouts: {},
    up: {
      kind: 'code',
      run: async (ctx: MigrationContext) => {
        await ctx.batch<string>({
          table: 'items',
          size,
          run: async (ids, sql) => {
            await sql`UPDATE items SET email_lower = lower(email), touched = touched + 1 WHERE id = ANY(${ids}::bigint[])`;
            if (sleepMs > 0) await sql`SELECT pg_sleep(${sleepMs / 1000})`;
          },
        });
      },
    },
    down: { kind: 'sql', sql: 'UPDATE items SET email_lower = NULL', line: 1 },
    source: 'bkf001.ts',
    checksum: 'bkf001',
  };
}

const contract = {
  ...sqlMigration('con001', 'ALTER TABLE items ALTER COLUMN email_lower SET NOT NULL', {
    parents: ['bkf001'],
    transaction: true,
    down: 'ALTER TABLE items ALTER COLUMN email_lower DROP NOT NULL',
  }),
  requiresComplete: ['bkf001'],
} satisfies Migration;

const graph = RevisionGraph.from([expand, backfill(), contract]);

async function touched(): Promise<number[]> {
  const result = await connection.db.query<{ touched: number }>(
    'SELECT DISTINCT touched FROM items ORDER BY touched',
  );
  return result.rows.map((row) => row.touched);
}

function local(ranges = 8, concurrency = 4) {
  return runBackgroundLocally({
    connect: async () => {
      const session = await database.connect();
      return { db: session.db, close: () => session.close() };
    },
    history,
    graph,
    args: {},
    log: silent,
    ranges,
    concurrency,
    actor: 'test',
  });
}

describe('a background migration', () => {
  it('is recorded as pending by the plan, which moves on past it', async () => {
    const report = await migrate(connection.db, graph, { action: 'upgrade', target: 'bkf001' }, options);
    expect(report.to).toEqual(['bkf001']);
    expect(report.backgroundStarted).toEqual(['bkf001']);
    const run = await new BackgroundRuns(history).find(connection.db, 'bkf001');
    expect(run).toMatchObject({ state: 'pending', table: 'items', key: 'id', batchSize: 300 });
    expect(await touched()).toEqual([0]);
  });

  it('runs over 8 ranges with 4 worker connections, each row once, and completes once', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'bkf001' }, options);
    const [report] = await local();
    expect(report).toMatchObject({ revision: 'bkf001', completed: true, rows: 5000, ranges: 8 });
    expect(await touched()).toEqual([1]);
    const again = await completeRun(
      { db: connection.db, history, graph, args: {}, log: silent },
      'bkf001',
      'second',
    );
    expect(again).toEqual({ completed: true, already: true });
    const [progress] = await new BackgroundRuns(history).progress(connection.db);
    expect(progress).toMatchObject({
      state: 'completed',
      rangesDone: 8,
      rangeCount: 8,
      rows: 5000,
      completedBy: 'test',
    });
  });

  it('resumes a range from its checkpoint after a batch fails, without doing a batch twice', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'bkf001' }, options);
    const runs = new BackgroundRuns(history);
    await runs.claim(connection.db, 'bkf001', 'exec-1', ['pending']);
    const context = { db: connection.db, history, graph, args: {}, log: silent };
    const pending = await splitRun(context, 'bkf001', 2);
    expect(pending).toEqual([0, 1]);
    // A trigger fails the batch that reaches id 1200: that batch's transaction rolls back.
    await connection.db.query(`
      CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = 1200 AND NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'failed_once') THEN
          RAISE EXCEPTION 'batch failed on purpose';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_once BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION fail_once();`);
    await expect(runRange(context, 'bkf001', 0, 'exec-1')).rejects.toThrow('batch failed on purpose');
    await connection.db.query('CREATE TABLE failed_once ()');
    const resumed = await runRange(context, 'bkf001', 0, 'exec-1');
    expect(resumed).toMatchObject({ done: true, rows: 2500 - 900 });
    await runRange(context, 'bkf001', 1, 'exec-1');
    expect(await touched()).toEqual([1]);
    expect(await completeRun(context, 'bkf001', 'test', 'exec-1')).toEqual({
      completed: true,
      already: false,
    });
  });

  it('stops a walker whose run was taken over or paused, at the next batch', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'bkf001' }, options);
    const runs = new BackgroundRuns(history);
    await runs.claim(connection.db, 'bkf001', 'exec-1', ['pending']);
    const context = { db: connection.db, history, graph, args: {}, log: silent };
    await splitRun(context, 'bkf001', 2);
    await runs.transition(connection.db, 'bkf001', 'paused', ['running']);
    expect(await runRange(context, 'bkf001', 0, 'exec-1')).toMatchObject({
      done: true,
      rows: 0,
      stopped: 'the run is paused',
    });
    await runs.claim(connection.db, 'bkf001', 'exec-2', ['paused']);
    expect((await runRange(context, 'bkf001', 0, 'exec-1')).stopped).toBe('the run belongs to exec-2 now');
    expect(await runRange(context, 'bkf001', 0, 'exec-2')).toMatchObject({ done: true, rows: 2500 });
  });

  it('marks its run reverted when a down step goes past it, so no batch starts after', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'bkf001' }, options);
    const runs = new BackgroundRuns(history);
    await runs.claim(connection.db, 'bkf001', 'exec-1', ['pending']);
    const context = { db: connection.db, history, graph, args: {}, log: silent };
    await splitRun(context, 'bkf001', 2);
    await migrate(connection.db, graph, { action: 'downgrade', target: 'exp001' }, options);
    expect((await runs.find(connection.db, 'bkf001'))?.state).toBe('reverted');
    expect((await runRange(context, 'bkf001', 0, 'exec-1')).stopped).toMatch(/no longer applied|reverted/);
    expect(await touched()).toEqual([0]);
  });
});

/** 4 ranges; walkers on the first 3, 50 rows and 40 ms per batch, so each has a batch in flight. */
const slowGraph = RevisionGraph.from([expand, backfill(['exp001'], { size: 50, sleepMs: 40 })]);

async function walkersRunning() {
  await migrate(connection.db, slowGraph, { action: 'upgrade', target: 'bkf001' }, options);
  const runs = new BackgroundRuns(history);
  await runs.claim(connection.db, 'bkf001', 'exec-1', ['pending']);
  await splitRun({ db: connection.db, history, graph: slowGraph, args: {}, log: silent }, 'bkf001', 4);
  const walkers = await Promise.all([0, 1, 2].map((index) => database.connect(`walker-${index}`)));
  const walking = Promise.all(
    walkers.map((walker, index) =>
      runRange(
        { db: walker.db, history, graph: slowGraph, args: {}, log: silent },
        'bkf001',
        index,
        'exec-1',
      ),
    ),
  );
  while ((await batchesCommitted()) < 3) await new Promise((resolve) => setTimeout(resolve, 10));
  return { runs, walking };
}

async function batchesCommitted(): Promise<number> {
  const result = await connection.db.query<{ batches: string }>(
    "SELECT coalesce(sum(batches), 0) AS batches FROM rds_migrate.checkpoints WHERE revision = 'bkf001'",
  );
  return Number(result.rows[0]?.batches);
}

/** A session that took `locks` in a transaction and sits idle in it, as a walker stuck mid-batch would. */
async function stuckSession(locks: string): Promise<{ session: Connection; pid: number }> {
  const session = await database.connect('stuck-session');
  const pid = (await session.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
  await session.db.query('BEGIN');
  await session.db.query(locks);
  return { session, pid };
}

/** What a batch holds while it runs: its range's checkpoint (here the 4th range's, which no walker walks). */
const A_BATCH_LOCKS =
  "SELECT last_key FROM rds_migrate.checkpoints WHERE revision = 'bkf001' AND name LIKE '%#4/4' FOR UPDATE";

/** Every row the checkpoints count was touched once, and no other. */
async function expectCheckpointsMatchRows(): Promise<void> {
  const result = await connection.db.query<{ counted: string; once: string; twice: string }>(
    `SELECT (SELECT coalesce(sum(rows), 0) FROM rds_migrate.checkpoints WHERE revision = 'bkf001') AS counted,
            (SELECT count(*) FROM items WHERE touched = 1) AS once,
            (SELECT count(*) FROM items WHERE touched > 1) AS twice`,
  );
  const row = result.rows[0];
  expect(Number(row?.counted)).toBe(Number(row?.once));
  expect(Number(row?.twice)).toBe(0);
}

describe('stopping a background run while it walks', () => {
  it.each(['paused', 'cancelled'] as const)(
    'is %s within one batch per walker, queueing behind no walker nor a session stuck mid-batch',
    async (state) => {
      const { runs, walking } = await walkersRunning();
      await stuckSession(A_BATCH_LOCKS);
      const started = Date.now();
      expect(await runs.transition(connection.db, 'bkf001', state, ['running'])).toBe(true);
      expect(Date.now() - started).toBeLessThan(1000);
      // Once the stop committed, a walker may only finish the batch it has in flight.
      const stopped = await batchesCommitted();
      const outcomes = await walking;
      expect(outcomes.map((outcome) => outcome.stopped)).toEqual(Array(3).fill(`the run is ${state}`));
      expect((await batchesCommitted()) - stopped).toBeLessThanOrEqual(3);
      expect((await runs.find(connection.db, 'bkf001'))?.state).toBe(state);
      await expectCheckpointsMatchRows();
    },
  );

  it('fails fast when a session holds the run row, naming it, and changes nothing', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'bkf001' }, options);
    const runs = new BackgroundRuns(history);
    await runs.claim(connection.db, 'bkf001', 'exec-1', ['pending']);
    const { pid } = await stuckSession(
      "SELECT state FROM rds_migrate.background_runs WHERE revision = 'bkf001' FOR SHARE",
    );
    const started = Date.now();
    const error = await runs
      .transition(connection.db, 'bkf001', 'paused', ['running'], { lockTimeout: '200ms' })
      .catch((caught: unknown) => caught as Error);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(BackgroundRunBlocked);
    expect((error as Error).message).toMatch(
      new RegExp(
        `pid ${pid} \\(application 'stuck-session', idle in transaction for \\d+ s: SELECT state FROM rds_migrate\\.background_runs WHERE revision = \\$1 FOR SHARE\\)`,
      ),
    );
    expect((error as Error).message).toMatch(`End session ${pid} (SELECT pg_terminate_backend(${pid}))`);
    expect((error as Error).message).not.toContain("'bkf001'");
    expect((await runs.find(connection.db, 'bkf001'))?.state).toBe('running');
  });

  it('reverts within one batch per walker; a session stuck mid-batch fails the revert fast, named, changing nothing', async () => {
    const { runs, walking } = await walkersRunning();
    const { session: stuck, pid } = await stuckSession(A_BATCH_LOCKS);
    const down = { ...options, timeouts: { lockTimeout: '300ms' } };
    const started = Date.now();
    const error = await migrate(
      connection.db,
      slowGraph,
      { action: 'downgrade', target: 'exp001' },
      down,
    ).catch((caught: unknown) => caught as Error);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((error as Error).message).toMatch(
      new RegExp(
        `cannot be marked reverted: .*pid ${pid} \\(application 'stuck-session', idle in transaction`,
      ),
    );
    expect((error as Error).message).toMatch(
      `it is not the migration that failed: end session ${pid} (SELECT pg_terminate_backend(${pid}))`,
    );
    expect((error as Error).message).not.toMatch(/fix the migration/i);
    expect((await runs.find(connection.db, 'bkf001'))?.state).toBe('running');
    expect((await history.read(connection.db)).heads).toEqual(['bkf001']);

    await stuck.db.query('ROLLBACK');
    await migrate(connection.db, slowGraph, { action: 'downgrade', target: 'exp001' }, down);
    for (const outcome of await walking) expect(outcome.stopped).toMatch(/reverted|no longer applied/);
    expect((await runs.find(connection.db, 'bkf001'))?.state).toBe('reverted');
    // The down step ran after the last batch committed: nothing a batch wrote is left, no row twice.
    const left = await connection.db.query<{ left: string; twice: string }>(
      `SELECT count(*) FILTER (WHERE email_lower IS NOT NULL) AS left, count(*) FILTER (WHERE touched > 1) AS twice
       FROM items`,
    );
    expect(left.rows[0]).toEqual({ left: '0', twice: '0' });
  });

  it('cuts off a walker stuck idle in its batch, rolling the batch back and freeing its checkpoint', async () => {
    let release!: () => void;
    const stuckInBatch = new Promise<void>((resolve) => {
      release = resolve;
    });
    let keepalives: unknown;
    const stuckBackfill: Migration = {
      ...backfill(),
      up: {
        kind: 'code',
        run: async (ctx: MigrationContext) => {
          await ctx.batch<string>({
            table: 'items',
            size: 300,
            run: async (ids, sql) => {
              await sql`UPDATE items SET touched = touched + 1 WHERE id = ANY(${ids}::bigint[])`;
              keepalives = (await sql<{ tcp_keepalives_idle: string }>`SHOW tcp_keepalives_idle`)[0];
              await stuckInBatch;
            },
          });
        },
      },
    };
    const stuckGraph = RevisionGraph.from([expand, stuckBackfill]);
    await migrate(connection.db, stuckGraph, { action: 'upgrade', target: 'bkf001' }, options);
    await new BackgroundRuns(history).claim(connection.db, 'bkf001', 'exec-1', ['pending']);
    const context = { db: connection.db, history, graph: stuckGraph, args: {}, log: silent };
    await splitRun(context, 'bkf001', 1);
    const walker = await database.connect('stuck-walker');
    const walking = runRange(
      { ...context, db: walker.db, idleInTransactionTimeout: '300ms' },
      'bkf001',
      0,
      'exec-1',
    ).catch((caught: unknown) => caught as Error);

    const gone = async () =>
      (
        await connection.db.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'stuck-walker' AND datname = current_database()",
        )
      ).rows.length === 0;
    const started = Date.now();
    while (!(await gone()) && Date.now() - started < 3000)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await gone()).toBe(true);
    expect(keepalives).toEqual({ tcp_keepalives_idle: '30' });
    const free = await connection.db.query(
      "SELECT 1 FROM rds_migrate.checkpoints WHERE revision = 'bkf001' FOR UPDATE NOWAIT",
    );
    expect(free.rows).toHaveLength(1);
    expect(await touched()).toEqual([0]);
    release();
    expect(await walking).toBeInstanceOf(Error);
  });
});

describe('the gate (requires_complete)', () => {
  it('refuses the contract step while the backfill runs, saying how far it is', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'bkf001' }, options);
    const error = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(BackgroundGateClosed);
    expect((error as Error).message).toMatch(
      /migration con001 \(con001.sql\) requires background migration bkf001 complete, and it is pending: not split yet, 0 rows/,
    );
    expect((await history.read(connection.db)).heads).toEqual(['bkf001']);
  });

  it('says to revert and apply it again when the run was cancelled: a cancelled run never completes', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'bkf001' }, options);
    await new BackgroundRuns(history).transition(connection.db, 'bkf001', 'cancelled', ['pending']);
    const error = (await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options).catch(
      (caught: unknown) => caught,
    )) as Error;
    expect(error).toBeInstanceOf(BackgroundGateClosed);
    expect(error.message).toMatch(
      /and it is cancelled: .*Background migration bkf001 was cancelled, so it never completes: revert it \(down to exp001\) and apply it again, then apply con001/,
    );
    expect(error.message).not.toMatch(/once the background migration has completed/);
  });

  it('opens once the run has completed', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'bkf001' }, options);
    await local();
    const report = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(report.to).toEqual(['con001']);
  });

  it('runs a backfill in-process when the same plan needs it complete (a fresh database)', async () => {
    const report = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(report.to).toEqual(['con001']);
    expect(report.backgroundStarted).toBeUndefined();
    expect(await touched()).toEqual([1]);
    expect((await new BackgroundRuns(history).find(connection.db, 'bkf001'))?.state).toBe('completed');
  });
});

describe('the key ranges', () => {
  it('splits an integer key evenly between its min and max', () => {
    expect(integerBoundaries(1n, 100n, 4)).toEqual(['25', '50', '75']);
    expect(integerBoundaries(1n, 3n, 8)).toEqual(['1', '2']);
  });

  it('gives one range for an empty table, and no more ranges than keys', async () => {
    await connection.db.query('CREATE TABLE t (id int PRIMARY KEY, code text UNIQUE)');
    expect(await splitKeyRange(connection.db, 't', 'id', 8)).toEqual([{}]);
    await connection.db.query("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    expect(await splitKeyRange(connection.db, 't', 'id', 8)).toEqual([
      { upTo: '1' },
      { after: '1', upTo: '2' },
      { after: '2' },
    ]);
    expect(await splitKeyRange(connection.db, 't', 'code', 8)).toEqual([
      { upTo: 'a' },
      { after: 'a', upTo: 'b' },
      { after: 'b' },
    ]);
  });

  it('splits any ordered key by rows (percentiles), e.g. text', async () => {
    await connection.db.query(
      "CREATE TABLE t (code text PRIMARY KEY); INSERT INTO t SELECT 'k' || lpad(i::text, 4, '0') FROM generate_series(1, 1000) AS i",
    );
    const ranges = await splitKeyRange(connection.db, 't', 'code', 4);
    expect(ranges).toEqual([
      { upTo: 'k0250' },
      { after: 'k0250', upTo: 'k0500' },
      { after: 'k0500', upTo: 'k0750' },
      { after: 'k0750' },
    ]);
  });
});

describe('a background migration as written', () => {
  it('is read from a SQL file: one statement per batch, the keys as $1', async () => {
    const migration = parseSqlMigration(
      '202611250900_backfill.sql',
      `-- revision: bkf002
-- down_revision: exp001
-- background: true
-- batch_table: items
-- batch_size: 250

-- migrate:up
UPDATE items SET email_lower = lower(email) WHERE id = ANY($1::bigint[]);

-- migrate:down
UPDATE items SET email_lower = NULL;
`,
    );
    expect(migration).toMatchObject({ background: true, transaction: false });
    const plan = await batchPlanOf(migration, {});
    expect(plan).toMatchObject({ table: 'items', key: 'id', size: 250 });
  });

  it('is refused when it runs SQL outside its ctx.batch walk', async () => {
    const migration: Migration = {
      ...backfill(),
      up: {
        kind: 'code',
        run: async (ctx) => {
          await ctx.sql`ALTER TABLE items ADD COLUMN x int`;
        },
      },
    };
    await expect(batchPlanOf(migration, {})).rejects.toThrow(BackgroundMigrationError);
    await expect(batchPlanOf(migration, {})).rejects.toThrow(/holds data work only/);
  });

  it('refuses transaction: true and a requires_complete of its own', () => {
    expect(() =>
      parseSqlMigration(
        'x.sql',
        '-- revision: bkf003\n-- background: true\n-- transaction: true\n-- batch_table: t\n-- migrate:up\nSELECT $1\n',
      ),
    ).toThrow(/leave transaction out/);
    expect(() =>
      parseSqlMigration(
        'x.sql',
        '-- revision: con002\n-- requires_complete: bkf001, bkf002\n-- migrate:up\nSELECT 1\n',
      ),
    ).not.toThrow();
  });
});
