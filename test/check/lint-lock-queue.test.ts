/**
 * Issue 29's families, each judged by the linter and run on the embedded PostgreSQL: brief
 * ACCESS EXCLUSIVE locks on busy tables (the lock queue), a lock held across a backfill, statements
 * the linter cannot see into, an enum label renamed under running code, the primary key's implicit
 * SET NOT NULL, and ATTACH PARTITION sparing its scan. The server shows what the linter claims: the
 * locks the statement holds (pg_locks, from a second connection, before it commits), the scan
 * (DEBUG1 "verifying table" against "implied by existing constraints" or "sufficient to prove"),
 * the rewrite (a new relfilenode), a later query waiting in the lock queue, and the errors deployed
 * code meets. One database for the file; each case in a schema of its own, rolled back after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { analyseSql, type LintInput } from '../../lib/lint/lint.ts';
import { SchemaKnowledge } from '../../lib/lint/model/schema-knowledge.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

interface Case {
  readonly name: string;
  /** Earlier migrations: the schema the linter learns and the server holds, committed. */
  readonly given: string;
  /** The migration's up section, run in a transaction the test rolls back. */
  readonly sql: string;
  /** The migration is `transaction: false`: the statement runs on its own. @default true */
  readonly transactional?: boolean;
  /** The rule ids the linter reports, one per finding. */
  readonly expect: readonly string[];
  /** Locks the migration holds before it commits, as pg_locks names their modes: relation → mode. */
  readonly locks?: Readonly<Record<string, string>>;
  /** The server's DEBUG1 messages while it ran include this (the scan, or the proof that skips it). */
  readonly debug?: RegExp;
  /** ... and not this. */
  readonly noDebug?: RegExp;
  /** A relation whose data files are replaced (a rewrite). */
  readonly rewrites?: string;
  /** A read of this table from another session waits behind the held lock (it times out). */
  readonly blocksReadsOf?: string;
  /** Deployed code's query after the migration, in its transaction, and the error it meets. */
  readonly after?: { readonly sql: string; readonly error: RegExp };
  /** The migration itself fails with this error. */
  readonly error?: RegExp;
  /**
   * The lock queue: while a reader holds ACCESS SHARE on this table, the migration waits, and a
   * later reader queues behind it though nothing conflicts with the first reader; once that
   * reader ends, the migration gets its lock.
   */
  readonly queue?: string;
}

const ORDERS = `CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, total numeric);
CREATE INDEX orders_user_id ON orders (user_id);
INSERT INTO orders SELECT n, n % 7, n FROM generate_series(1, 50) n;`;
const USERS = `CREATE TABLE users (id bigint PRIMARY KEY, email text, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO users (id, email) SELECT n, 'user' || n || '@example.com' FROM generate_series(1, 50) n;`;
const MEASUREMENTS = (key: string, check: string, validate: boolean) =>
  `CREATE TABLE measurements (city_id int NOT NULL, logdate date ${key}, peaktemp int) PARTITION BY RANGE (logdate);
CREATE TABLE measurements_y2026m01 (city_id int NOT NULL, logdate date ${key}, peaktemp int);
INSERT INTO measurements_y2026m01 VALUES (1, '2026-01-15', 20);
ALTER TABLE measurements_y2026m01 ADD CONSTRAINT y2026m01 CHECK (${check}) NOT VALID;
${validate ? 'ALTER TABLE measurements_y2026m01 VALIDATE CONSTRAINT y2026m01;' : ''}`;
const ATTACH_JANUARY = `ALTER TABLE measurements ATTACH PARTITION measurements_y2026m01 FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`;
const EVENTS = (column: string, extra = '') =>
  `CREATE TABLE events (id bigint ${column}, payload text);
INSERT INTO events SELECT n, 'e' FROM generate_series(1, 20) n;
CREATE UNIQUE INDEX events_id ON events (id);
${extra}`;
const PRIMARY_KEY = 'ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id';
const ENUM = `CREATE TYPE order_status AS ENUM ('new', 'canceled');
CREATE TABLE shipments (id int, status order_status);
INSERT INTO shipments VALUES (1, 'canceled');`;

const VERIFYING = /verifying table/;

const FAMILIES: Readonly<Record<string, readonly Case[]>> = {
  'brief ACCESS EXCLUSIVE locks on a busy table (the lock queue)': [
    {
      name: 'DROP INDEX locks the index and its table',
      given: ORDERS,
      sql: 'DROP INDEX orders_user_id',
      expect: ['drop-index-non-concurrently'],
      locks: { orders: 'AccessExclusiveLock', orders_user_id: 'AccessExclusiveLock' },
      queue: 'orders',
    },
    {
      name: 'LOCK TABLE takes ACCESS EXCLUSIVE by default',
      given: ORDERS,
      sql: 'LOCK TABLE orders',
      expect: ['lock-table'],
      locks: { orders: 'AccessExclusiveLock' },
      queue: 'orders',
    },
    {
      name: 'LOCK TABLE outside a transaction block fails',
      given: ORDERS,
      sql: 'LOCK TABLE orders IN ACCESS SHARE MODE',
      transactional: false,
      expect: ['lock-table'],
      error: /LOCK TABLE can only be used in transaction blocks/,
    },
    {
      name: 'TRUNCATE empties the table under ACCESS EXCLUSIVE',
      given: ORDERS,
      sql: 'TRUNCATE orders',
      expect: ['truncate'],
      locks: { orders: 'AccessExclusiveLock' },
      rewrites: 'orders',
      queue: 'orders',
    },
    {
      name: 'DETACH PARTITION locks the partitioned table and the partition',
      given: `CREATE TABLE measurements (logdate date NOT NULL, peaktemp int) PARTITION BY RANGE (logdate);
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');`,
      sql: 'ALTER TABLE measurements DETACH PARTITION measurements_2025',
      expect: ['detach-partition-non-concurrently'],
      locks: { measurements: 'AccessExclusiveLock', measurements_2025: 'AccessExclusiveLock' },
      queue: 'measurements',
    },
    {
      name: 'DROP SCHEMA CASCADE drops a view of another schema that depends on it',
      given: `CREATE SCHEMA reporting;
CREATE TABLE reporting.daily (day date, total numeric);
CREATE VIEW daily_totals AS SELECT * FROM reporting.daily;`,
      sql: 'DROP SCHEMA reporting CASCADE',
      expect: ['drop-schema-cascade'],
      locks: { daily: 'AccessExclusiveLock' },
      after: { sql: 'SELECT * FROM daily_totals', error: /relation "daily_totals" does not exist/ },
    },
    {
      name: 'a table created in the same migration is nobody else’s: no finding',
      given: '',
      sql: `CREATE TABLE imports (id bigint, batch text);
CREATE INDEX imports_batch ON imports (batch);
DROP INDEX imports_batch;
TRUNCATE imports;
LOCK TABLE imports`,
      expect: [],
    },
  ],
  'a lock taken early and held across a backfill': [
    {
      name: 'ADD COLUMN then UPDATE without WHERE',
      given: USERS,
      sql: `ALTER TABLE users ADD COLUMN plan text;
UPDATE users SET plan = 'free'`,
      expect: ['update-without-where', 'lock-held-during-long-step'],
      locks: { users: 'AccessExclusiveLock' },
      blocksReadsOf: 'users',
    },
    {
      name: 'ADD COLUMN then UPDATE ... WHERE plan IS NULL',
      given: USERS,
      sql: `ALTER TABLE users ADD COLUMN plan text;
UPDATE users SET plan = 'free' WHERE plan IS NULL`,
      expect: ['lock-held-during-long-step'],
      locks: { users: 'AccessExclusiveLock' },
      blocksReadsOf: 'users',
    },
    {
      name: 'ADD COLUMN then UPDATE ... WHERE on a one-sided range',
      given: USERS,
      sql: `ALTER TABLE users ADD COLUMN plan text;
UPDATE users SET plan = 'trial' WHERE created_at > '2020-01-01'`,
      expect: ['lock-held-during-long-step'],
      locks: { users: 'AccessExclusiveLock' },
      blocksReadsOf: 'users',
    },
    {
      name: 'ADD COLUMN then one bounded batch: the lock is brief',
      given: USERS,
      sql: `ALTER TABLE users ADD COLUMN plan text;
UPDATE users SET plan = 'free' WHERE id BETWEEN 1 AND 10`,
      expect: [],
      locks: { users: 'AccessExclusiveLock' },
    },
  ],
  'statements the linter cannot see into': [
    {
      name: 'a DO block changing a column type through EXECUTE rewrites the table',
      given: USERS,
      sql: `DO $$ BEGIN EXECUTE 'ALTER TABLE users ALTER COLUMN id TYPE numeric'; END $$`,
      expect: ['opaque-statement'],
      locks: { users: 'AccessExclusiveLock' },
      rewrites: 'users',
    },
    {
      name: 'CALL of a procedure that locks the table',
      given: `${USERS}
CREATE PROCEDURE freeze_users() LANGUAGE plpgsql AS $$ BEGIN LOCK TABLE users IN SHARE MODE; END $$;`,
      sql: 'CALL freeze_users()',
      expect: ['opaque-statement'],
      locks: { users: 'ShareLock' },
    },
    {
      name: 'a function called for its side effects adds a volatile default',
      given: `${USERS}
CREATE FUNCTION add_score() RETURNS void LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE users ADD COLUMN score float8 DEFAULT random(); END $$;`,
      sql: 'SELECT add_score()',
      expect: ['opaque-statement'],
      locks: { users: 'AccessExclusiveLock' },
      rewrites: 'users',
    },
    {
      name: 'an acknowledged block is no finding',
      given: USERS,
      sql: `-- rds-migrate:allow opaque-statement creates the role where it is missing; touches no table
DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'issue29_reader') THEN CREATE ROLE issue29_reader; END IF; END $$`,
      expect: [],
      locks: {},
    },
  ],
  'ALTER TYPE ... RENAME VALUE under running code': [
    {
      name: 'a query comparing the old label fails',
      given: ENUM,
      sql: `ALTER TYPE order_status RENAME VALUE 'canceled' TO 'cancelled'`,
      expect: ['rename-enum-value'],
      after: {
        sql: `SELECT count(*) FROM shipments WHERE status = 'canceled'`,
        error: /invalid input value for enum order_status: "canceled"/,
      },
    },
    {
      name: 'an insert of the old label fails',
      given: ENUM,
      sql: `ALTER TYPE order_status RENAME VALUE 'canceled' TO 'cancelled'`,
      expect: ['rename-enum-value'],
      after: {
        sql: `INSERT INTO shipments VALUES (2, 'canceled')`,
        error: /invalid input value for enum order_status: "canceled"/,
      },
    },
    {
      name: 'renaming a label of a type created in the same migration is no finding',
      given: '',
      sql: `CREATE TYPE shipment_state AS ENUM ('pending', 'shiped');
ALTER TYPE shipment_state RENAME VALUE 'shiped' TO 'shipped'`,
      expect: [],
    },
  ],
  'ADD PRIMARY KEY USING INDEX: the implicit SET NOT NULL': [
    {
      name: 'a nullable column is scanned under ACCESS EXCLUSIVE',
      given: EVENTS(''),
      sql: PRIMARY_KEY,
      expect: ['set-not-null'],
      locks: { events: 'AccessExclusiveLock' },
      debug: /verifying table "events"/,
    },
    {
      name: 'a NOT VALID CHECK (id IS NOT NULL) does not spare the scan',
      given: EVENTS('', 'ALTER TABLE events ADD CONSTRAINT events_id_nn CHECK (id IS NOT NULL) NOT VALID;'),
      sql: PRIMARY_KEY,
      expect: ['set-not-null'],
      debug: /verifying table "events"/,
    },
    {
      name: 'a valid CHECK (id IS NOT NULL) spares it',
      given: EVENTS('', 'ALTER TABLE events ADD CONSTRAINT events_id_nn CHECK (id IS NOT NULL);'),
      sql: PRIMARY_KEY,
      expect: [],
      locks: { events: 'AccessExclusiveLock' },
      debug:
        /existing constraints on column "events.id" are sufficient to prove that it does not contain nulls/,
      noDebug: VERIFYING,
    },
    {
      name: 'a NOT NULL column needs no scan',
      given: EVENTS('NOT NULL'),
      sql: PRIMARY_KEY,
      expect: [],
      noDebug: VERIFYING,
    },
  ],
  'ATTACH PARTITION and the CHECK constraints of earlier migrations': [
    {
      name: 'a validated CHECK matching the bound, on a NOT NULL key, spares the scan',
      given: MEASUREMENTS('NOT NULL', `logdate >= DATE '2026-01-01' AND logdate < DATE '2026-02-01'`, true),
      sql: ATTACH_JANUARY,
      expect: [],
      locks: { measurements: 'ShareUpdateExclusiveLock', measurements_y2026m01: 'AccessExclusiveLock' },
      debug: /partition constraint for table "measurements_y2026m01" is implied by existing constraints/,
      noDebug: VERIFYING,
    },
    {
      name: 'a validated CHECK narrower than the bound spares it too',
      given: MEASUREMENTS('NOT NULL', `logdate BETWEEN '2026-01-02' AND '2026-01-31'`, true),
      sql: ATTACH_JANUARY,
      expect: [],
      debug: /is implied by existing constraints/,
      noDebug: VERIFYING,
    },
    {
      name: 'a list partition whose CHECK names its values',
      given: `CREATE TABLE customers (id int NOT NULL, region text NOT NULL) PARTITION BY LIST (region);
CREATE TABLE customers_west (id int NOT NULL, region text NOT NULL);
ALTER TABLE customers_west ADD CONSTRAINT west CHECK (region IN ('us-west', 'ca-west'));`,
      sql: `ALTER TABLE customers ATTACH PARTITION customers_west FOR VALUES IN ('us-west', 'ca-west', 'mx-west')`,
      expect: [],
      debug: /partition constraint for table "customers_west" is implied by existing constraints/,
    },
    {
      name: 'a CHECK never validated is scanned',
      given: MEASUREMENTS('NOT NULL', `logdate >= DATE '2026-01-01' AND logdate < DATE '2026-02-01'`, false),
      sql: ATTACH_JANUARY,
      expect: ['table-scan-under-lock'],
      locks: { measurements_y2026m01: 'AccessExclusiveLock' },
      debug: /verifying table "measurements_y2026m01"/,
    },
    {
      name: 'a nullable key is scanned: the CHECK lets NULLs through, the bound does not',
      given: MEASUREMENTS('', `logdate >= DATE '2026-01-01' AND logdate < DATE '2026-02-01'`, true),
      sql: ATTACH_JANUARY,
      expect: ['table-scan-under-lock'],
      debug: /verifying table "measurements_y2026m01"/,
    },
    {
      name: 'a CHECK wider than the bound is scanned',
      given: MEASUREMENTS('NOT NULL', `logdate >= DATE '2026-01-01' AND logdate < DATE '2026-03-01'`, true),
      sql: ATTACH_JANUARY,
      expect: ['table-scan-under-lock'],
      debug: /verifying table "measurements_y2026m01"/,
    },
  ],
};

let database: TestDatabase;
/** Runs the migrations; `observer` reads pg_locks and tries reads; `reader` holds a lock for the queue. */
let migrator: Connection;
let observer: Connection;
let reader: Connection;
let schemaNumber = 0;

beforeAll(async () => {
  database = await freshDatabase();
  [migrator, observer, reader] = await Promise.all([
    database.connect('migrator'),
    database.connect('observer'),
    database.connect('reader'),
  ]);
});
afterAll(async () => {
  await database.drop();
});

async function lint(testCase: Case): Promise<string[]> {
  const schema = new SchemaKnowledge();
  const input = (sql: string, revision: string, transactional: boolean): LintInput => ({
    sql,
    source: `${revision}.sql`,
    revision,
    section: 'up',
    transactional,
    pgVersion: 18,
    schema,
  });
  await analyseSql(input(testCase.given, 'earlier', true));
  const { findings } = await analyseSql(input(testCase.sql, 'migration', testCase.transactional !== false));
  return findings.map((finding) => finding.rule);
}

async function failure(query: Promise<unknown>): Promise<{ code?: string; message: string } | undefined> {
  try {
    await query;
    return undefined;
  } catch (error) {
    return error as { code?: string; message: string };
  }
}

/** The relations a session holds locks on, with their modes. */
async function locksOf(pid: number): Promise<Record<string, string[]>> {
  const { rows } = await observer.db.query<{ relname: string; mode: string }>(
    `SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
      WHERE l.pid = $1 AND l.granted AND l.locktype = 'relation'`,
    [pid],
  );
  const held: Record<string, string[]> = {};
  for (const row of rows) held[row.relname] = [...(held[row.relname] ?? []), row.mode];
  return held;
}

/** The relation's data file, as the migration's own transaction sees it (others see it only after commit). */
async function relfilenode(relation: string): Promise<string | undefined> {
  const { rows } = await migrator.db.query<{ file: string }>(
    'SELECT pg_relation_filenode($1::regclass) AS file',
    [relation],
  );
  return rows[0]?.file;
}

/** Whether a read of the table from another session waits (it times out after 50 ms). */
async function readWaits(session: Connection, schema: string, table: string): Promise<boolean> {
  const error = await failure(
    session.db.query(
      `SET lock_timeout = '50ms'; SELECT 1 FROM ${schema}.${table} LIMIT 1; RESET lock_timeout`,
    ),
  );
  if (error) await session.db.query('RESET lock_timeout');
  return error?.code === '55P03';
}

/** The lock queue: a reader holds the table, the migration waits for it, a later reader waits for the migration. */
async function observeQueue(testCase: Case, schema: string, pid: number): Promise<void> {
  const table = testCase.queue ?? '';
  await reader.db.query(`BEGIN; SELECT 1 FROM ${schema}.${table} LIMIT 1`);
  await migrator.db.query(`SET lock_timeout = '1s'; BEGIN`);
  const migration = failure(migrator.db.query(testCase.sql));
  let waiting = false;
  for (let poll = 0; poll < 100 && !waiting; poll += 1) {
    const { rows } = await observer.db.query('SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted', [pid]);
    waiting = rows.length > 0;
  }
  expect(waiting).toBe(true);
  // Nothing conflicts with a reader but the migration's queued request, ahead of this read.
  expect(await readWaits(observer, schema, table)).toBe(true);
  await reader.db.query('ROLLBACK');
  // Once the first reader is gone the migration gets its lock; its transaction is rolled back.
  expect(await migration).toBeUndefined();
  await migrator.db.query('ROLLBACK; RESET lock_timeout');
}

async function run(testCase: Case): Promise<void> {
  schemaNumber += 1;
  const schema = `case_${schemaNumber}`;
  await migrator.db.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
  if (testCase.given) await migrator.db.query(testCase.given);
  const pid = (await migrator.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
  if (testCase.queue) await observeQueue(testCase, schema, pid);

  if (testCase.transactional === false) {
    expect((await failure(migrator.db.query(testCase.sql)))?.message).toMatch(testCase.error ?? /^$/);
    return;
  }
  const before = testCase.rewrites ? await relfilenode(testCase.rewrites) : undefined;
  const notices: string[] = [];
  const listen = (notice: { message?: string }) => notices.push(notice.message ?? '');
  migrator.client.on('notice', listen);
  await migrator.db.query(`BEGIN; SET LOCAL client_min_messages = debug1`);
  try {
    const error = await failure(migrator.db.query(testCase.sql));
    expect(error?.message).toBe(undefined);
    const held = await locksOf(pid);
    for (const [relation, mode] of Object.entries(testCase.locks ?? {}))
      expect(held[relation]).toContain(mode);
    if (testCase.debug) expect(notices.join('\n')).toMatch(testCase.debug);
    if (testCase.noDebug) expect(notices.join('\n')).not.toMatch(testCase.noDebug);
    if (testCase.rewrites) expect(await relfilenode(testCase.rewrites)).not.toBe(before);
    if (testCase.blocksReadsOf) expect(await readWaits(observer, schema, testCase.blocksReadsOf)).toBe(true);
    if (testCase.after) {
      expect((await failure(migrator.db.query(testCase.after.sql)))?.message).toMatch(testCase.after.error);
    }
  } finally {
    migrator.client.off('notice', listen);
    await migrator.db.query('ROLLBACK');
  }
}

describe.each(Object.entries(FAMILIES))('%s', (_family, cases) => {
  it.each(cases)('$name: the linter says what the server shows', async (testCase) => {
    expect(await lint(testCase)).toEqual(testCase.expect);
    await run(testCase);
  });
});
