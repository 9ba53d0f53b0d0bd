/**
 * The catalog stamp lets a run and status skip deparsing the schema when no catalog row changed
 * since the fingerprint was recorded. It must never say "unchanged" when the fingerprint would
 * differ: every kind of change the schema snapshot shows moves it, and so does a change by a
 * transaction that was still open when it was taken. One database for the whole file.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { catalogQuery, FINGERPRINT_FORMAT } from '../../lib/engine/catalog.ts';
import {
  catalogStampSql,
  catalogUnchangedSql,
  SNAPSHOT_HORIZON_SQL,
  STAMPED_CATALOGS,
} from '../../lib/engine/catalog-stamp.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { migrate } from '../../lib/engine/runner.ts';
import { readSchemaDrift } from '../../lib/engine/schema-fingerprint.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration } from '../support/migrations.ts';

const history = new History();
/** A role of this file's own: roles are the server's, shared by every test database on it. */
const ROLE = `stamp_role_${process.pid}`;
let database: TestDatabase;
let connection: Connection;

beforeAll(async () => {
  database = await freshDatabase();
  connection = await database.connect();
});
afterAll(async () => {
  await database.drop();
});

async function stampNow(): Promise<string> {
  const result = await connection.db.query<{ stamp: string }>(
    `SELECT ${catalogStampSql(SNAPSHOT_HORIZON_SQL)} AS stamp`,
  );
  return result.rows[0]?.stamp as string;
}

async function unchangedSince(stamp: string | null): Promise<boolean> {
  const literal = stamp === null ? 'NULL::text' : `'${stamp.replace(/'/g, "''")}'::text`;
  const result = await connection.db.query<{ unchanged: boolean }>(
    `SELECT ${catalogUnchangedSql(literal)} AS unchanged`,
  );
  return result.rows[0]?.unchanged as boolean;
}

/**
 * The catalog's query (catalog.ts's lines and objects) at each fingerprint format: a recorded
 * fingerprint is compared only with one of its own format. How the lines are hashed is pinned by
 * test/schema/fingerprint.test.ts, against the server's hashing of format 2.
 */
const CATALOG_SQL_BY_FORMAT: Readonly<Record<number, string>> = {
  // (Pinned with the server's hashing, as computed then.)
  1: '05056477c1377f3c',
  // Detached partitions (a partition's bounds), composite types, comments and column collations.
  2: 'a312814c10a8084f',
};

describe('the fingerprint format', () => {
  it('is bumped when what the fingerprint says changes', () => {
    const hash = createHash('sha256').update(catalogQuery(history.schema)).digest('hex').slice(0, 16);
    expect(
      hash,
      `the catalog's query changed (catalog.ts). If its lines or object names changed, bump ` +
        `FINGERPRINT_FORMAT (catalog.ts) and add the new format here, so fingerprints recorded before ` +
        `read as stale, not as a change to every object; if not (the same lines, faster), update the ` +
        `hash of format ${FINGERPRINT_FORMAT}`,
    ).toBe(CATALOG_SQL_BY_FORMAT[FINGERPRINT_FORMAT]);
  });
});

describe('the catalog stamp', () => {
  it('covers every catalog the schema snapshot reads', () => {
    const read = new Set(
      [...catalogQuery(history.schema).matchAll(/\b(?:FROM|JOIN)\s+(pg_[a-z_]+)/g)].map(
        (match) => match[1] as string,
      ),
    );
    expect(read.size).toBeGreaterThan(8);
    expect([...read].filter((catalog) => !(catalog in STAMPED_CATALOGS))).toEqual([]);
  });

  it('stays the same while only data changes: rows, sequences, statistics', async () => {
    await connection.db.query(
      'CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL); CREATE INDEX accounts_email ON accounts (email)',
    );
    const stamp = await stampNow();
    await connection.db.query(
      "INSERT INTO accounts (email) SELECT 'a' || g FROM generate_series(1, 500) g; ANALYZE accounts; DELETE FROM accounts WHERE id < 10",
    );
    await connection.db.query('VACUUM accounts');
    expect(await unchangedSince(stamp)).toBe(true);
  });

  it('moves with every kind of change the schema snapshot shows', async () => {
    await connection.db.query(`
      CREATE TABLE orders (id int PRIMARY KEY, total numeric DEFAULT 0, note text);
      CREATE TYPE mood AS ENUM ('sad', 'ok');
      CREATE DOMAIN positive AS int CHECK (VALUE > 0);
      CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2';
      CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
      CREATE VIEW big_orders AS SELECT id FROM orders WHERE total > 100;
      CREATE SEQUENCE tickets;
      CREATE SCHEMA extra;
      CREATE TABLE events (at date) PARTITION BY RANGE (at);
      CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      CREATE TYPE pair AS (a int);`);
    const changes = [
      'ALTER TABLE orders ADD COLUMN placed_at timestamptz',
      // An expression names a text search configuration by name ('stamp_fts'::regconfig).
      `CREATE TEXT SEARCH CONFIGURATION stamp_fts (COPY = english);
       CREATE INDEX orders_words ON orders USING gin (to_tsvector('stamp_fts', id::text))`,
      'ALTER TEXT SEARCH CONFIGURATION stamp_fts RENAME TO stamp_words',
      'ALTER TABLE orders ALTER COLUMN total SET DEFAULT 1',
      `COMMENT ON COLUMN orders.total IS 'with tax'`,
      `COMMENT ON COLUMN orders.total IS 'without tax'`,
      `COMMENT ON SCHEMA public IS 'the app'`,
      'ALTER TABLE orders ALTER COLUMN note TYPE text COLLATE "C"',
      'ALTER TYPE pair ADD ATTRIBUTE b int',
      'ALTER TABLE events DETACH PARTITION events_2026',
      'ALTER TABLE orders ALTER COLUMN note SET NOT NULL',
      'ALTER TABLE orders ALTER COLUMN note TYPE varchar(200)',
      'ALTER TABLE orders RENAME COLUMN note TO remark',
      'ALTER TABLE orders DROP COLUMN remark',
      'CREATE INDEX orders_total ON orders (total)',
      'DROP INDEX orders_total',
      'ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0) NOT VALID',
      'ALTER TABLE orders VALIDATE CONSTRAINT total_positive',
      'ALTER TABLE orders DROP CONSTRAINT total_positive',
      "ALTER TYPE mood ADD VALUE 'happy'",
      "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
      'ALTER DOMAIN positive SET DEFAULT 1',
      "CREATE OR REPLACE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS 'SELECT x + x'",
      'ALTER FUNCTION twice(int) RENAME TO double',
      'CREATE OR REPLACE VIEW big_orders AS SELECT id FROM orders WHERE total > 200',
      'CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch()',
      'ALTER TABLE orders DISABLE TRIGGER orders_touch',
      'ALTER TABLE orders ENABLE ROW LEVEL SECURITY',
      'CREATE POLICY mine ON orders USING (id > 0)',
      'ALTER POLICY mine ON orders USING (id > 1)',
      // The policy's line names its role: a role is a row of pg_authid, shared by every database.
      `CREATE ROLE ${ROLE}; CREATE POLICY theirs ON orders TO ${ROLE} USING (true)`,
      `ALTER ROLE ${ROLE} RENAME TO ${ROLE}_renamed`,
      'ALTER SEQUENCE tickets INCREMENT BY 5',
      'ALTER TABLE orders SET SCHEMA extra',
      'ALTER SCHEMA extra RENAME TO more',
      'ALTER TYPE mood RENAME TO feeling',
      'CREATE EXTENSION IF NOT EXISTS pg_trgm',
      'DROP VIEW big_orders',
      'DROP TABLE more.orders',
      'SET search_path = more, public',
      'RESET search_path',
    ];
    const missed: string[] = [];
    onTestFinished(async () => {
      await connection.db
        .query(`DROP OWNED BY ${ROLE}_renamed; DROP ROLE IF EXISTS ${ROLE}_renamed`)
        .catch(() => undefined);
      await connection.db.query(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
    });
    for (const change of changes) {
      const stamp = await stampNow();
      await connection.db.query(change);
      if (await unchangedSince(stamp)) missed.push(change);
    }
    expect(missed).toEqual([]);
  });

  it('moves with a change a transaction still open when it was taken commits later', async () => {
    await connection.db.query('CREATE TABLE late (id int)');
    const other = await database.connect('stamp-other');
    try {
      await other.db.query('BEGIN');
      await other.db.query('ALTER TABLE late ADD COLUMN added int');
      const stamp = await stampNow();
      await other.db.query('COMMIT');
      expect(await unchangedSince(stamp)).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('compares unequal with no stamp, a malformed one, or a horizon too far behind', async () => {
    const stamp = await stampNow();
    expect(await unchangedSince(stamp)).toBe(true);
    expect(await unchangedSince(null)).toBe(false);
    expect(await unchangedSince('not a stamp')).toBe(false);
    expect(await unchangedSince(`1 ${stamp.split(' ')[1]}`)).toBe(false);
  });

  it('is recorded with each run’s fingerprint and lets status answer from it, until a hand edit', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('cccc00000001', 'CREATE TABLE stamped (id bigint PRIMARY KEY)', {
        down: 'DROP TABLE stamped',
      }),
    ]);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'heads' }, { actor: 'test', history });
    const recorded = await connection.db.query<{ catalog_stamp: string | null }>(
      'SELECT catalog_stamp FROM rds_migrate.schema_fingerprints ORDER BY id DESC LIMIT 1',
    );
    const stamp = recorded.rows[0]?.catalog_stamp ?? null;
    expect(stamp).toMatch(/^\d+ [0-9a-f]{32}$/);
    expect(await unchangedSince(stamp)).toBe(true);
    // Not even planned: the server plans all of a statement, and planning the deparse costs about what the stamp does.
    const sent: string[] = [];
    const counted: typeof connection.db = {
      query: (text, values) => {
        sent.push(String(text));
        return connection.db.query(text, values);
      },
    } as typeof connection.db;
    const deparses = () => sent.filter((text) => text.includes('pg_get_indexdef')).length;
    expect((await readSchemaDrift(counted, history)).state).toBe('matches');
    expect(deparses()).toBe(0);

    await connection.db.query('ALTER TABLE stamped ADD COLUMN by_hand text');
    expect(await unchangedSince(stamp)).toBe(false);
    const drift = await readSchemaDrift(counted, history);
    expect(drift).toMatchObject({ state: 'changed', objects: { changed: ['table public.stamped'] } });
    expect(deparses()).toBe(1);
  });
});
