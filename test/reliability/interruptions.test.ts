/**
 * Runs that stop half-way: a failed or interrupted non-transactional migration, a dropped
 * connection, a deadline. After each, the state is one the next run can explain and finish.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { schemaSnapshot } from '../../lib/engine/catalog.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { ConnectionLostError, HistoryError, MigrationFailed } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { migrate } from '../../lib/engine/runner.ts';
import { readStatus } from '../../lib/engine/status.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { codeMigration, sqlMigration } from '../support/migrations.ts';

let database: TestDatabase;
let connection: Connection;
const actor = 'test';

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
});
afterEach(async () => {
  await database.drop();
});

async function indexValid(name: string): Promise<boolean | undefined> {
  const result = await connection.db.query<{ valid: boolean }>(
    'SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass($1)',
    [name],
  );
  return result.rows[0]?.valid;
}

describe('an interrupted CREATE INDEX CONCURRENTLY', () => {
  const graph = RevisionGraph.from([
    sqlMigration('tbl001', 'CREATE TABLE t (id int PRIMARY KEY, v int)', { down: 'DROP TABLE t' }),
    sqlMigration('uidx01', 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_v_unique ON t (v)', {
      parents: ['tbl001'],
      transaction: false,
      down: 'DROP INDEX CONCURRENTLY IF EXISTS t_v_unique',
    }),
  ]);

  it('is reported by status, then its INVALID index is dropped and rebuilt by the next up', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'tbl001' }, { actor });
    await connection.db.query('INSERT INTO t VALUES (1, 7), (2, 7)');

    const failed = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      { actor },
    ).catch((e) => e);
    expect(failed).toBeInstanceOf(MigrationFailed);
    expect(failed.postgres.code).toBe('23505');
    expect(await indexValid('t_v_unique')).toBe(false);
    const status = await readStatus(connection.db, graph);
    expect(status.current).toEqual(['tbl001']);
    expect(status.inProgress).toMatchObject({ revision: 'uidx01', direction: 'up' });

    await connection.db.query('DELETE FROM t WHERE id = 2');
    const warnings: string[] = [];
    const report = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      { actor, log: { info: () => undefined, warn: (message) => warnings.push(message) } },
    );
    expect(report.resumed).toBe('uidx01');
    expect(warnings).toContain('dropping an INVALID index left by the interrupted run');
    expect(await indexValid('t_v_unique')).toBe(true);
    expect((await readStatus(connection.db, graph)).inProgress).toBeUndefined();
  });

  it('blocks other plans until it is finished or stamped', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'tbl001' }, { actor });
    await connection.db.query('INSERT INTO t VALUES (1, 7), (2, 7)');
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, { actor }).catch(
      () => undefined,
    );

    const refused = await migrate(
      connection.db,
      graph,
      { action: 'downgrade', target: 'base' },
      { actor },
    ).catch((e) => e);
    expect(refused).toBeInstanceOf(HistoryError);
    expect(refused.message).toContain('uidx01 was interrupted during up');
    expect(refused.message).toContain('rds-migrate up uidx01');

    await migrate(connection.db, graph, { action: 'stamp', target: 'tbl001' }, { actor });
    expect((await new History().read(connection.db)).inProgress).toBeUndefined();
  });
});

describe('a dropped connection', () => {
  it('fails with a message that says the connection was lost, leaving the old revision', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('fast01', 'CREATE TABLE first_table (id int)'),
      sqlMigration('slow01', 'CREATE TABLE slow_table (id int); SELECT pg_sleep(5)', { parents: ['fast01'] }),
    ]);
    const before = await schemaSnapshot(connection.db);
    const runner = await database.connect('rds-migrate victim');
    const killer = await database.connect('killer');
    const running = migrate(runner.db, graph, { action: 'upgrade', target: 'head' }, { actor }).catch(
      (e) => e,
    );
    for (let tries = 0; tries < 100; tries++) {
      const victim = await killer.db.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'rds-migrate victim' AND query LIKE '%pg_sleep(5)%'`,
      );
      if (victim.rows[0]) {
        await killer.db.query('SELECT pg_terminate_backend($1)', [victim.rows[0].pid]);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const error = await running;
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error.message).toContain('lost the connection to PostgreSQL during up slow01');
    expect(await schemaSnapshot(connection.db)).toEqual(before);
    expect((await new History().read(connection.db)).heads).toEqual([]);
  });
});

describe('a deadline', () => {
  const rows = 50;
  const batched = (size: number) =>
    RevisionGraph.from([
      sqlMigration(
        'data01',
        `CREATE TABLE items (id int PRIMARY KEY, done boolean NOT NULL DEFAULT false);
        INSERT INTO items SELECT i FROM generate_series(1, ${rows}) AS i`,
      ),
      codeMigration(
        'fill01',
        async (ctx) => {
          await ctx.batch<number>({
            table: 'items',
            size,
            run: async (ids, sql) => {
              await sql`UPDATE items SET done = true WHERE id = ANY(${ids}::int[])`;
              await sql`SELECT pg_sleep(0.2)`;
            },
          });
        },
        async (ctx) => {
          await ctx.sql`UPDATE items SET done = false`;
        },
        { parents: ['data01'], transaction: false },
      ),
      sqlMigration('last01', 'CREATE TABLE after_fill (id int)', { parents: ['fill01'] }),
    ]);

  it('stops a batched data migration at a checkpoint, and the next run resumes from it', async () => {
    // 10 batches of 0.2 s against a deadline 1 s away: some run, some are left, even on a loaded machine.
    const graph = batched(5);
    const first = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      { actor, deadline: Date.now() + 1_000 },
    );
    expect(first.status).toBe('stopped');
    expect(first.to).toEqual(['data01']);
    expect(first.remaining).toBe(2);
    const done = async () =>
      Number(
        (await connection.db.query<{ n: string }>('SELECT count(*) AS n FROM items WHERE done')).rows[0]?.n,
      );
    const doneAtStop = await done();
    expect(doneAtStop).toBeGreaterThan(0);
    expect(doneAtStop).toBeLessThan(rows);
    expect(doneAtStop % 5).toBe(0);
    const checkpoint = await connection.db.query<{ rows: string }>(
      'SELECT rows FROM rds_migrate.checkpoints',
    );
    expect(Number(checkpoint.rows[0]?.rows)).toBe(doneAtStop);
    const status = await readStatus(connection.db, graph);
    expect(status.batches).toHaveLength(1);
    expect(status.batches[0]).toMatchObject({ revision: 'fill01', name: 'items:id', rows: doneAtStop });
    expect(status.batches[0]?.rowsPerSecond).toBeGreaterThan(0);
    expect(status.inProgress).toMatchObject({ revision: 'fill01', direction: 'up' });

    const batchesRun: number[] = [];
    const second = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      {
        actor,
        log: {
          info: (message, details) => {
            if (message === 'batch done') batchesRun.push(Number(details?.batches));
          },
          warn: () => undefined,
        },
      },
    );
    expect(second.status).toBe('applied');
    expect(second.resumed).toBe('fill01');
    expect(await done()).toBe(rows);
    expect(batchesRun[0]).toBe(doneAtStop / 5 + 1);
    expect((await connection.db.query('SELECT * FROM rds_migrate.checkpoints')).rows).toEqual([]);
  });

  it('lets a batch that began before it finish, rather than cancel it for a timeout cut short', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('slow01', 'CREATE TABLE slow_items (id int PRIMARY KEY, done boolean DEFAULT false)'),
      sqlMigration('slow02', 'INSERT INTO slow_items (id) SELECT generate_series(1, 4)', {
        parents: ['slow01'],
      }),
      codeMigration(
        'slow03',
        async (ctx) => {
          await ctx.batch<number>({
            table: 'slow_items',
            size: 2,
            run: async (ids, sql) => {
              await sql`UPDATE slow_items SET done = true WHERE id = ANY(${ids}::int[])`;
              await sql`SELECT pg_sleep(1.5)`;
            },
          });
        },
        async (ctx) => {
          await ctx.sql`UPDATE slow_items SET done = false`;
        },
        { parents: ['slow02'], transaction: false },
      ),
    ]);
    // The step begins with less than a second left, so its session timeout is under a second;
    // the first batch, which takes 1.5 s, still finishes, and the run stops after it.
    const result = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      { actor, deadline: Date.now() + 1_000 },
    );
    expect(result.status).toBe('stopped');
    expect(result.to).toEqual(['slow02']);
    const done = await connection.db.query<{ n: string }>('SELECT count(*) AS n FROM slow_items WHERE done');
    expect(Number(done.rows[0]?.n)).toBe(2);
    const finished = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, { actor });
    expect(finished.status).toBe('applied');
  });

  it('never lets a statement run past it: the server cancels it and the plan rolls back', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('long01', 'CREATE TABLE long_table (id int); SELECT pg_sleep(3)'),
    ]);
    const started = Date.now();
    const error = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      { actor, deadline: Date.now() + 300 },
    ).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(MigrationFailed);
    expect(error.postgres.code).toBe('57014');
    expect(error.message).toContain('cancelled at the deadline');
    expect((await new History().read(connection.db)).exists).toBe(false);
  });
});
