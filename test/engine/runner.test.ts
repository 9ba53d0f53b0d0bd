import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { schemaSnapshot } from '../../lib/engine/catalog.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { DriftError, LockTimeoutError, MigrationFailed } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { migrate, type RunOptions } from '../../lib/engine/runner.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { codeMigration, sqlMigration, tableChain } from '../support/migrations.ts';

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

async function heads(): Promise<string[]> {
  return (await new History().read(connection.db)).heads as string[];
}

describe('migrate', () => {
  it('applies every pending migration and records each in the log', async () => {
    const graph = RevisionGraph.from(tableChain('aaaa01', 'aaaa02', 'aaaa03'));
    const report = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(report.status).toBe('applied');
    expect(report.steps.map((step) => step.revision)).toEqual(['aaaa01', 'aaaa02', 'aaaa03']);
    expect(report.steps.every((step) => step.unit === 1)).toBe(true);
    expect(await heads()).toEqual(['aaaa03']);
    const log = await new History().log(connection.db);
    expect(log.map((row) => `${row.direction} ${row.revision}`)).toEqual([
      'up aaaa03',
      'up aaaa02',
      'up aaaa01',
    ]);
    expect(log.every((row) => row.actor === 'test' && row.hasDownStep && row.durationMs >= 0)).toBe(true);
  });

  it('finds nothing to do on a second run', async () => {
    const graph = RevisionGraph.from(tableChain('aaaa01', 'aaaa02'));
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    const again = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(again.status).toBe('up-to-date');
    expect(again.steps).toEqual([]);
  });

  it('leaves the schema exactly as before after up then down base', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('users1', 'CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE)', {
        down: 'DROP TABLE users',
      }),
      sqlMigration('index1', 'CREATE INDEX users_email_lower ON users (lower(email))', {
        parents: ['users1'],
        down: 'DROP INDEX users_email_lower',
      }),
      sqlMigration('view01', 'CREATE VIEW user_emails AS SELECT email FROM users', {
        parents: ['index1'],
        down: 'DROP VIEW user_emails',
      }),
    ]);
    const before = await schemaSnapshot(connection.db);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    const migrated = await schemaSnapshot(connection.db);
    expect(migrated).not.toEqual(before);
    await migrate(connection.db, graph, { action: 'downgrade', target: 'base' }, options);
    expect(await schemaSnapshot(connection.db)).toEqual(before);
    expect(await heads()).toEqual([]);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(await schemaSnapshot(connection.db)).toEqual(migrated);
  });

  it('rolls the whole plan back when a migration in the middle fails', async () => {
    const good = tableChain('aaaa01');
    await migrate(connection.db, RevisionGraph.from(good), { action: 'upgrade', target: 'head' }, options);
    const before = await schemaSnapshot(connection.db);
    const graph = RevisionGraph.from([
      ...good,
      sqlMigration('aaaa02', 'CREATE TABLE second (id int)', { parents: ['aaaa01'] }),
      sqlMigration('aaaa03', 'ALTER TABLE missing ADD COLUMN x int', { parents: ['aaaa02'] }),
      sqlMigration('aaaa04', 'CREATE TABLE fourth (id int)', { parents: ['aaaa03'] }),
    ]);
    const error = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(MigrationFailed);
    expect(error.revision).toBe('aaaa03');
    expect(error.postgres.code).toBe('42P01');
    expect(error.message).toContain('The database is at aaaa01');
    expect(await schemaSnapshot(connection.db)).toEqual(before);
    expect(await heads()).toEqual(['aaaa01']);
    expect((await new History().log(connection.db)).map((row) => row.revision)).toEqual(['aaaa01']);
  });

  it('rolls back a unit whose first migration fails in the round trip that began it, leaving the session usable', async () => {
    const good = tableChain('aaaa01');
    await migrate(connection.db, RevisionGraph.from(good), { action: 'upgrade', target: 'head' }, options);
    const failing = RevisionGraph.from([
      ...good,
      sqlMigration('aaaa02', 'CREATE TABLE second (id int); ALTER TABLE missing ADD COLUMN x int', {
        parents: ['aaaa01'],
      }),
    ]);
    const error = await migrate(connection.db, failing, { action: 'upgrade', target: 'head' }, options).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(MigrationFailed);
    expect(error.revision).toBe('aaaa02');
    const open = await connection.db.query<{ open: boolean }>(
      "SELECT now() <> statement_timestamp() AS open, to_regclass('second') IS NULL AS gone",
    );
    expect(open.rows[0]).toEqual({ open: false, gone: true });
    const fixed = RevisionGraph.from([
      ...good,
      sqlMigration('aaaa03', 'CREATE TABLE third (id int)', { parents: ['aaaa01'] }),
    ]);
    const report = await migrate(connection.db, fixed, { action: 'upgrade', target: 'head' }, options);
    expect(report.steps.map((step) => step.revision)).toEqual(['aaaa03']);
  });

  it('runs a transaction: false migration alone, between two transactions', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('tbl001', 'CREATE TABLE items (id int PRIMARY KEY, name text)', {
        down: 'DROP TABLE items',
      }),
      sqlMigration('idx001', 'CREATE INDEX CONCURRENTLY items_name ON items (name);\nSELECT 1;', {
        parents: ['tbl001'],
        transaction: false,
        down: 'DROP INDEX CONCURRENTLY items_name',
      }),
      sqlMigration('tbl002', 'CREATE TABLE others (id int)', {
        parents: ['idx001'],
        down: 'DROP TABLE others',
      }),
    ]);
    const report = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(report.steps.map((step) => [step.revision, step.unit, step.transactional])).toEqual([
      ['tbl001', 1, true],
      ['idx001', 2, false],
      ['tbl002', 3, true],
    ]);
    const index = await connection.db.query<{ valid: boolean }>(
      `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'items_name'::regclass`,
    );
    expect(index.rows[0]?.valid).toBe(true);
    const notes = (await new History().log(connection.db)).map((row) => row.note);
    expect(notes).toContain('unit 2 of 3, outside a transaction');
    await migrate(connection.db, graph, { action: 'downgrade', target: 'base' }, options);
    expect(await heads()).toEqual([]);
  });

  it('reverts a transaction: false migration whose down section is empty, as a step that does nothing', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('tbl001', 'CREATE TABLE items (id int PRIMARY KEY)', { down: 'DROP TABLE items' }),
      sqlMigration('nop001', 'SELECT 1', { parents: ['tbl001'], transaction: false, down: '' }),
    ]);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    const report = await migrate(connection.db, graph, { action: 'downgrade', target: 'tbl001' }, options);
    expect(report.steps.map((step) => `${step.direction} ${step.revision}`)).toEqual(['down nop001']);
    expect(await heads()).toEqual(['tbl001']);
    expect((await new History().read(connection.db)).inProgress).toBeUndefined();
    // And the next up is not refused by a leftover interrupted-down mark.
    expect((await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options)).status).toBe(
      'applied',
    );
  });

  it('lists the units that committed when a later one fails', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('aaaa01', 'CREATE TABLE first (id int)'),
      sqlMigration('aaaa02', 'CREATE TABLE second (id int)', { parents: ['aaaa01'] }),
      sqlMigration('idx001', 'CREATE INDEX CONCURRENTLY first_id ON first (id)', {
        parents: ['aaaa02'],
        transaction: false,
      }),
      sqlMigration('aaaa03', 'ALTER TABLE missing ADD COLUMN x int', { parents: ['idx001'] }),
    ]);
    const error = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(MigrationFailed);
    expect(error.committed).toEqual([
      { unit: 1, revisions: ['aaaa01', 'aaaa02'], transactional: true },
      { unit: 2, revisions: ['idx001'], transactional: false },
    ]);
    expect(error.message).toContain(
      'Units 1 (aaaa01, aaaa02), 2 (idx001, outside a transaction) committed before unit 3 of 3 failed. ' +
        'The database is at idx001',
    );
    expect(error.message).not.toContain('\n');
  });

  it('reports the same duration for a step as the log records for it', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('tbl001', 'CREATE TABLE items (id int PRIMARY KEY, name text)'),
      sqlMigration('slow01', 'SELECT pg_sleep(0.05);\nCREATE INDEX CONCURRENTLY items_name ON items (name)', {
        parents: ['tbl001'],
        transaction: false,
      }),
    ]);
    const report = await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    const logged = new Map(
      (await new History().log(connection.db)).map((row) => [
        row.revision,
        Math.round(row.durationMs * 100) / 100,
      ]),
    );
    for (const step of report.steps) expect(step.durationMs).toBe(logged.get(step.revision));
    expect(report.steps.find((step) => step.revision === 'slow01')?.durationMs).toBeGreaterThanOrEqual(50);
  });

  it('refuses to run when an applied migration changed, with both checksums', async () => {
    const original = tableChain('aaaa01', 'aaaa02');
    await migrate(
      connection.db,
      RevisionGraph.from(original),
      { action: 'upgrade', target: 'aaaa01' },
      options,
    );
    const edited = [{ ...original[0], checksum: 'f'.repeat(64) }, original[1]] as typeof original;
    const error = await migrate(
      connection.db,
      RevisionGraph.from(edited),
      { action: 'upgrade', target: 'head' },
      options,
    ).catch((e) => e);
    expect(error).toBeInstanceOf(DriftError);
    expect(error.message).toContain('aaaa01');
    expect(error.message).toContain(original[0]?.checksum);
    expect(error.message).toContain('f'.repeat(64));
    expect(await heads()).toEqual(['aaaa01']);
  });

  it('stamps a revision without running anything', async () => {
    const graph = RevisionGraph.from(tableChain('aaaa01', 'aaaa02'));
    const report = await migrate(connection.db, graph, { action: 'stamp', target: 'head' }, options);
    expect(report.status).toBe('stamped');
    expect(await heads()).toEqual(['aaaa02']);
    const tables = await connection.db.query(`SELECT 1 FROM pg_tables WHERE tablename LIKE 't_aaaa%'`);
    expect(tables.rows).toEqual([]);
    await migrate(connection.db, graph, { action: 'stamp', target: 'base' }, options);
    expect(await heads()).toEqual([]);
  });

  it('gives code migrations the context arguments, a parameterised sql tag and a callable log', async () => {
    const logged: string[] = [];
    const graph = RevisionGraph.from([
      sqlMigration('tbl001', 'CREATE TABLE settings (name text PRIMARY KEY, value text)', {
        down: 'DROP TABLE settings',
      }),
      codeMigration(
        'code01',
        async (ctx) => {
          await ctx.sql`INSERT INTO settings VALUES (${'seeded'}, ${ctx.args.dev_data ?? 'absent'})`;
          ctx.log('seeded', { rows: 1 });
          ctx.log.warn('careful');
        },
        async (ctx) => {
          await ctx.sql`DELETE FROM settings WHERE name = ${'seeded'}`;
        },
        { parents: ['tbl001'] },
      ),
    ]);
    await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      {
        ...options,
        args: { dev_data: "it's true" },
        log: {
          info: (message, details) => logged.push(`info ${message} ${JSON.stringify(details)}`),
          warn: (message, details) => logged.push(`warn ${message} ${JSON.stringify(details)}`),
        },
      },
    );
    const rows = await connection.db.query<{ value: string }>('SELECT value FROM settings');
    expect(rows.rows).toEqual([{ value: "it's true" }]);
    // ctx.log is callable (an info line) as well as ctx.log.info; each line names its migration.
    expect(logged.filter((line) => !line.startsWith('info migrated'))).toEqual([
      'info seeded {"revision":"code01","rows":1}',
      'warn careful {"revision":"code01"}',
    ]);
  });

  it('fails a migration that waits on a lock longer than its lock_timeout, when told not to retry', async () => {
    await connection.db.query('CREATE TABLE busy (id int)');
    const other = await database.connect('blocker');
    await other.db.query('BEGIN');
    await other.db.query('LOCK TABLE busy IN ACCESS EXCLUSIVE MODE');
    const graph = RevisionGraph.from([
      sqlMigration('lock01', 'ALTER TABLE busy ADD COLUMN x int', { lockTimeout: '200ms' }),
    ]);
    const started = Date.now();
    const error = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      { ...options, lockRetries: 0 },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(MigrationFailed);
    expect(error.postgres.code).toBe('55P03');
    expect(Date.now() - started).toBeLessThan(5_000);
    await other.db.query('ROLLBACK');
    expect(await heads()).toEqual([]);
  });

  it('gives up waiting for another runner after the lock wait, naming the holder', async () => {
    const other = await database.connect('rds-migrate other-runner');
    await other.db.query('SELECT pg_advisory_lock($1, hashtext($2))', [0x52444d, 'rds-migrate:rds_migrate']);
    const graph = RevisionGraph.from(tableChain('aaaa01'));
    const warnings: string[] = [];
    const log = {
      info: () => undefined,
      warn: (message: string, details?: Record<string, unknown>) => {
        warnings.push(`${message} ${JSON.stringify(details)}`);
      },
    };
    const error = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      { ...options, lockWaitMs: 300, log },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(error.message).toContain('other-runner');
    // Said as the wait began, not only when it ended.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^another run holds the migration lock; waiting up to 0 s .*other-runner, backend pid \d+/,
    );
  });
});

describe('concurrent runners', () => {
  it('apply each revision exactly once', async () => {
    const graph = RevisionGraph.from(tableChain('cccc01', 'cccc02', 'cccc03', 'cccc04'));
    const sessions = await Promise.all([1, 2, 3, 4].map(() => database.connect()));
    const reports = await Promise.all(
      sessions.map((session) => migrate(session.db, graph, { action: 'upgrade', target: 'head' }, options)),
    );
    expect(reports.filter((report) => report.status === 'applied')).toHaveLength(1);
    expect(reports.filter((report) => report.status === 'up-to-date')).toHaveLength(3);
    const log = await new History().log(connection.db);
    expect(log.map((row) => row.revision).sort()).toEqual(['cccc01', 'cccc02', 'cccc03', 'cccc04']);
  });

  it('read the history only once they hold the lock: one that waited finds what the other applied', async () => {
    const graph = RevisionGraph.from(tableChain('dddd01', 'dddd02'));
    const other = await database.connect('first-runner');
    await other.db.query('SELECT pg_advisory_lock($1, hashtext($2))', [0x52444d, 'rds-migrate:rds_migrate']);
    const waiting = migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    await new Promise((done) => setTimeout(done, 200));
    const first = await migrate(other.db, graph, { action: 'upgrade', target: 'head' }, options);
    await other.db.query('SELECT pg_advisory_unlock($1, hashtext($2))', [
      0x52444d,
      'rds-migrate:rds_migrate',
    ]);
    expect(first.status).toBe('applied');
    expect((await waiting).status).toBe('up-to-date');
    const held = await connection.db.query<{ locks: string }>(
      `SELECT count(*) AS locks FROM pg_locks WHERE locktype = 'advisory' AND classid = $1
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [0x52444d],
    );
    expect(held.rows[0]?.locks).toBe('0');
  });
});
