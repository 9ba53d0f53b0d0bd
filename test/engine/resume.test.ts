/**
 * Work done and work recorded, never two commits apart: a run that stops between them (a crash,
 * a failure after the work) must resume without doing the work twice. The process-kill trials
 * of the same windows are test/reliability/deploy-crash.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { MigrationFailed } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import type { MigrationContext } from '../../lib/engine/migration.ts';
import { migrate, type RunOptions } from '../../lib/engine/runner.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { codeMigration, sqlMigration } from '../support/migrations.ts';

const options: RunOptions = { actor: 'test' };
let database: TestDatabase;
let connection: Connection;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
});
afterEach(async () => {
  await database.drop();
});

const table = sqlMigration(
  'tbl001',
  `CREATE TABLE items (id int PRIMARY KEY, applied int NOT NULL DEFAULT 0);
   INSERT INTO items (id) SELECT generate_series(1, 250);
   CREATE TABLE switches (name text PRIMARY KEY)`,
  { down: 'DROP TABLE items; DROP TABLE switches' },
);

async function switchOn(name: string): Promise<void> {
  await connection.db.query('INSERT INTO switches VALUES ($1) ON CONFLICT DO NOTHING', [name]);
}

async function timesApplied(): Promise<number[]> {
  const result = await connection.db.query<{ applied: number }>(
    'SELECT DISTINCT applied FROM items ORDER BY applied',
  );
  return result.rows.map((row) => row.applied);
}

/** A backfill that counts each row it touches, then fails while the `fail-after-batch` switch is on. */
const backfill = codeMigration(
  'fill01',
  async (ctx: MigrationContext) => {
    await ctx.batch<number>({
      table: 'items',
      size: 100,
      run: async (ids, sql) => {
        await sql`UPDATE items SET applied = applied + 1 WHERE id = ANY(${ids}::int[])`;
      },
    });
    const [failing] = await ctx.sql`SELECT 1 FROM switches WHERE name = 'fail-after-batch'`;
    if (failing) throw new Error('the code after the batch failed');
  },
  async () => undefined,
  { parents: ['tbl001'], transaction: false },
);

describe('a batch walk that finished before its step was recorded', () => {
  it('is not walked again when the step resumes: every row applied once', async () => {
    const graph = RevisionGraph.from([table, backfill]);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'tbl001' }, options);
    await switchOn('fail-after-batch');
    await expect(
      migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options),
    ).rejects.toThrow(MigrationFailed);
    expect(await timesApplied()).toEqual([1]);
    const state = await new History().read(connection.db);
    expect(state.inProgress?.revision).toBe('fill01');
    const checkpoint = await connection.db.query('SELECT rows, completed FROM rds_migrate.checkpoints');
    expect(checkpoint.rows).toEqual([{ rows: '250', completed: true }]);

    await connection.db.query('DELETE FROM switches');
    const resumed = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(resumed.resumed).toBe('fill01');
    expect(await timesApplied()).toEqual([1]);
    // The checkpoint went with the step's finish record.
    expect((await connection.db.query('SELECT * FROM rds_migrate.checkpoints')).rows).toEqual([]);
    expect((await new History().read(connection.db)).heads).toEqual(['fill01']);
  });

  it('is walked again from scratch by a later, separate run of the same migration', async () => {
    const graph = RevisionGraph.from([table, backfill]);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    await migrate(connection.db, graph, { action: 'downgrade', target: 'tbl001' }, options);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(await timesApplied()).toEqual([2]);
  });
});

describe('a SQL migration outside a transaction, interrupted between statements', () => {
  const statements = sqlMigration(
    'many01',
    [
      'CREATE TABLE made_once (id int)',
      'UPDATE items SET applied = applied + 1 WHERE id = 1',
      'CREATE INDEX CONCURRENTLY items_applied ON items (applied)',
      "SELECT 1 / (1 - (SELECT count(*)::int FROM switches WHERE name = 'fail-at-4'))",
    ].join(';\n'),
    { parents: ['tbl001'], transaction: false, down: 'DROP TABLE made_once; DROP INDEX items_applied' },
  );

  it('resumes after the last statement done, running none twice', async () => {
    const graph = RevisionGraph.from([table, statements]);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'tbl001' }, options);
    await switchOn('fail-at-4');
    const error = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(MigrationFailed);
    expect(error.postgres.code).toBe('22012');
    expect((await new History().read(connection.db)).inProgress).toMatchObject({
      revision: 'many01',
      statementsDone: 3,
    });

    await connection.db.query('DELETE FROM switches');
    const report = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(report.resumed).toBe('many01');
    const counted = await connection.db.query<{ applied: number }>('SELECT applied FROM items WHERE id = 1');
    expect(counted.rows[0]?.applied).toBe(1);
    expect((await new History().read(connection.db)).heads).toEqual(['many01']);
  });
});
