/**
 * The linter beyond locks (issue 33): for each case, what the linter reports, and on the run's
 * embedded PostgreSQL the hazard itself, the way it shows: an application role's view of the
 * table (row level security), the error a statement meets on real rows or afterwards, the locks a
 * second connection sees in pg_locks, and the relfilenode for rewrites. Quiet near-misses are
 * checked the same way. One database for the file; each case in a schema of its own.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { analyseSql } from '../../lib/lint/lint.ts';
import { SchemaKnowledge } from '../../lib/lint/model/schema-knowledge.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

/** How the hazard shows on the server. `{app}` in SQL is the application role. */
type Shows =
  /** A query run as the application role, before and after the migration: a count, or 'fails'. */
  | { readonly seen: string; readonly before: number | 'fails'; readonly after: number | 'fails' }
  /** The migration fails on the rows (or, with `afterwards`, the application's next statement does). */
  | { readonly fails: RegExp; readonly afterwards?: string }
  /** Locks the migration holds, as a second connection reads them from pg_locks; `notOn`: none there. */
  | {
      readonly locks: readonly (readonly [relation: string, mode: string])[];
      readonly notOn?: readonly string[];
    }
  /** Whether the table gets a new relfilenode. */
  | { readonly rewrites: string; readonly rewritten: boolean };

interface Case {
  readonly name: string;
  /** An earlier migration: the linter reads it first, the server runs it. */
  readonly given: string;
  /** What the real database holds (server only). */
  readonly rows?: string;
  readonly sql: string;
  readonly transactional?: boolean;
  /** Every rule the linter reports on `sql`, sorted; empty for a near-miss that must stay quiet. */
  readonly findings: readonly string[];
  readonly shows: Shows;
}

const APP_SEES_TWO = "INSERT INTO {t} VALUES (1, '{app}'), (2, 'someone else'); GRANT ALL ON {t} TO {app};";

const APPLICATION_SEES: Case[] = [
  {
    name: 'ENABLE ROW LEVEL SECURITY without a policy: the application role reads no rows',
    given: 'CREATE TABLE accounts (id int PRIMARY KEY, owner text);',
    rows: APP_SEES_TWO.replaceAll('{t}', 'accounts'),
    sql: 'ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;',
    findings: ['rls-without-policy'],
    shows: { seen: 'SELECT * FROM accounts', before: 2, after: 0 },
  },
  {
    name: 'a policy created with row level security in the same migration: the role keeps its own rows (quiet)',
    given: 'CREATE TABLE wallets (id int PRIMARY KEY, owner text);',
    rows: APP_SEES_TWO.replaceAll('{t}', 'wallets'),
    sql: 'CREATE POLICY wallets_owner ON wallets USING (owner = current_user); ALTER TABLE wallets ENABLE ROW LEVEL SECURITY;',
    findings: [],
    shows: { seen: 'SELECT * FROM wallets', before: 2, after: 1 },
  },
  {
    name: 'CREATE POLICY while row level security is off: the role still reads every row',
    given: 'CREATE TABLE documents (id int PRIMARY KEY, owner text);',
    rows: APP_SEES_TWO.replaceAll('{t}', 'documents'),
    sql: 'CREATE POLICY documents_owner ON documents USING (owner = current_user);',
    findings: ['policy-without-rls'],
    shows: { seen: 'SELECT * FROM documents', before: 2, after: 2 },
  },
  {
    name: 'FORCE ROW LEVEL SECURITY: the owning application role loses its bypass',
    given:
      'CREATE TABLE notes (id int PRIMARY KEY, owner text); ALTER TABLE notes ENABLE ROW LEVEL SECURITY; ' +
      'CREATE POLICY notes_owner ON notes USING (owner = current_user);',
    rows: "INSERT INTO notes VALUES (1, 'someone'), (2, 'someone else'); ALTER TABLE notes OWNER TO {app};",
    sql: 'ALTER TABLE notes FORCE ROW LEVEL SECURITY;',
    findings: ['force-row-level-security'],
    shows: { seen: 'SELECT * FROM notes', before: 2, after: 0 },
  },
  {
    name: 'REPLICA IDENTITY NOTHING on a published table: the next DELETE fails',
    given: 'CREATE TABLE events (id int PRIMARY KEY, payload text);',
    rows: "INSERT INTO events VALUES (1, 'x'); CREATE PUBLICATION events_feed FOR TABLE events;",
    sql: 'ALTER TABLE events REPLICA IDENTITY NOTHING;',
    findings: ['replica-identity-change'],
    shows: {
      fails: /does not have a replica identity and publishes deletes/,
      afterwards: 'DELETE FROM events',
    },
  },
  {
    name: 'a keyless table added to a publication: the next UPDATE fails',
    given: 'CREATE TABLE audit_log (at timestamptz, message text);',
    rows: "INSERT INTO audit_log VALUES (now(), 'x');",
    sql: 'CREATE PUBLICATION audit_feed FOR TABLE audit_log;',
    findings: ['publication-without-replica-identity'],
    shows: {
      fails: /does not have a replica identity and publishes updates/,
      afterwards: "UPDATE audit_log SET message = 'y'",
    },
  },
  {
    name: 'a keyless table published with REPLICA IDENTITY FULL: updates keep working (quiet)',
    given: 'CREATE TABLE raw_log (at timestamptz, message text); ALTER TABLE raw_log REPLICA IDENTITY FULL;',
    rows: "INSERT INTO raw_log VALUES (now(), 'x'); GRANT ALL ON raw_log TO {app};",
    sql: 'CREATE PUBLICATION raw_feed FOR TABLE raw_log;',
    findings: [],
    shows: { seen: "UPDATE raw_log SET message = 'y'", before: 1, after: 1 },
  },
  {
    name: 'DROP COLUMN of a UNIQUE key column: the duplicate it refused is now accepted',
    given:
      'CREATE TABLE members (id int PRIMARY KEY, email text, tenant int NOT NULL DEFAULT 1, UNIQUE (email, tenant));',
    rows: "INSERT INTO members VALUES (1, 'a@example.com'); GRANT ALL ON members TO {app};",
    sql: 'ALTER TABLE members DROP COLUMN tenant;',
    findings: ['drop-column', 'drop-column-with-dependents'],
    shows: { seen: "INSERT INTO members (id, email) VALUES (2, 'a@example.com')", before: 'fails', after: 1 },
  },
  {
    name: 'DROP COLUMN of a column a foreign key references: the migration fails',
    given:
      'CREATE TABLE products (id int PRIMARY KEY, sku text NOT NULL UNIQUE); ' +
      'CREATE TABLE order_lines (id int PRIMARY KEY, sku text REFERENCES products (sku));',
    sql: 'ALTER TABLE products DROP COLUMN sku;',
    findings: ['drop-column', 'drop-column-with-dependents', 'drop-column-with-dependents'],
    shows: { fails: /cannot drop column sku of table products because other objects depend on it/ },
  },
  {
    name: 'autovacuum turned off: the table is left out of autovacuum',
    given: 'CREATE TABLE page_views (id int PRIMARY KEY, path text);',
    sql: 'ALTER TABLE page_views SET (autovacuum_enabled = off);',
    findings: ['autovacuum-disabled'],
    shows: {
      seen: "SELECT 1 FROM pg_class WHERE relname = 'page_views' AND 'autovacuum_enabled=off' = ANY (reloptions)",
      before: 0,
      after: 1,
    },
  },
];

const FAILS_ON_ROWS: Case[] = [
  {
    name: 'ALTER SEQUENCE ... AS smallint on a sequence past 32767 fails',
    given: 'CREATE SEQUENCE ticket_numbers;',
    rows: "SELECT setval('ticket_numbers', 40000);",
    sql: 'ALTER SEQUENCE ticket_numbers AS smallint;',
    findings: ['narrowing-type-change'],
    shows: { fails: /RESTART value \(40000\) cannot be greater than MAXVALUE \(32767\)/ },
  },
  {
    name: 'bigint to integer fails on a row past 2147483647',
    given: 'CREATE TABLE readings (id bigint PRIMARY KEY, value int);',
    rows: 'INSERT INTO readings VALUES (3000000000, 1);',
    sql: 'ALTER TABLE readings ALTER COLUMN id TYPE integer;',
    findings: ['alter-column-type', 'narrowing-type-change'],
    shows: { fails: /integer out of range/ },
  },
  {
    name: 'a shorter varchar fails on a longer value',
    given: 'CREATE TABLE handles (id int PRIMARY KEY, name varchar(40));',
    rows: "INSERT INTO handles VALUES (1, 'a name of more than ten characters');",
    sql: 'ALTER TABLE handles ALTER COLUMN name TYPE varchar(10);',
    findings: ['alter-column-type', 'narrowing-type-change'],
    shows: { fails: /value too long for type character varying\(10\)/ },
  },
  {
    name: 'identity added without moving its sequence: the first INSERT taking the default fails',
    given: 'CREATE TABLE invoices (id int NOT NULL PRIMARY KEY, total numeric);',
    rows: 'INSERT INTO invoices VALUES (1, 10), (2, 20);',
    sql: 'ALTER TABLE invoices ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;',
    findings: ['identity-without-restart'],
    shows: {
      fails: /duplicate key value violates unique constraint "invoices_pkey"/,
      afterwards: 'INSERT INTO invoices (total) VALUES (30)',
    },
  },
  {
    name: 'identity moved past the rows with setval in the same migration: the INSERT works (quiet)',
    given: 'CREATE TABLE receipts (id int NOT NULL PRIMARY KEY, total numeric);',
    rows: 'INSERT INTO receipts VALUES (1, 10), (2, 20); GRANT ALL ON receipts TO {app};',
    sql:
      'ALTER TABLE receipts ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY; ' +
      "SELECT setval(pg_get_serial_sequence('receipts', 'id'), coalesce(max(id), 0) + 1, false) FROM receipts;",
    findings: [],
    shows: { seen: 'INSERT INTO receipts (total) VALUES (30)', before: 'fails', after: 1 },
  },
  {
    name: 'ALTER DOMAIN ... SET NOT NULL fails on a NULL in a column using it',
    given: 'CREATE DOMAIN label AS text; CREATE TABLE tags (id int PRIMARY KEY, name label);',
    rows: 'INSERT INTO tags VALUES (1, NULL);',
    sql: 'ALTER DOMAIN label SET NOT NULL;',
    findings: ['table-scan-under-lock'],
    shows: { fails: /column "name" of table "tags" contains null values/ },
  },
  {
    name: 'ALTER DOMAIN ... ADD CHECK fails on a violating row',
    given: 'CREATE DOMAIN quantity AS int; CREATE TABLE stock (id int PRIMARY KEY, amount quantity);',
    rows: 'INSERT INTO stock VALUES (1, -1);',
    sql: 'ALTER DOMAIN quantity ADD CONSTRAINT quantity_positive CHECK (VALUE > 0);',
    findings: ['table-scan-under-lock'],
    shows: { fails: /column "amount" of table "stock" contains values that violate the new constraint/ },
  },
  {
    name: 'DROP NOT NULL on a primary key column fails',
    given: 'CREATE TABLE api_keys (id int PRIMARY KEY, label text);',
    sql: 'ALTER TABLE api_keys ALTER COLUMN id DROP NOT NULL;',
    findings: ['drop-not-null-on-key'],
    shows: { fails: /column "id" is in a primary key/ },
  },
  {
    name: 'a CHECK on a parent fails on a row of the table inheriting it',
    given:
      'CREATE TABLE vehicles (id int, wheels int); CREATE TABLE trucks (payload int) INHERITS (vehicles);',
    rows: 'INSERT INTO trucks VALUES (1, 0, 5);',
    sql: 'ALTER TABLE vehicles ADD CONSTRAINT wheels_positive CHECK (wheels > 0);',
    findings: ['add-check-without-not-valid'],
    shows: { fails: /check constraint "wheels_positive" of relation "trucks" is violated by some row/ },
  },
  {
    name: 'a column of a NOT NULL domain without a default fails on the first row',
    given: 'CREATE DOMAIN nickname AS text NOT NULL; CREATE TABLE people (id int PRIMARY KEY);',
    rows: 'INSERT INTO people VALUES (1);',
    sql: 'ALTER TABLE people ADD COLUMN nick nickname;',
    findings: ['add-column-not-null-without-default', 'table-rewrite'],
    shows: { fails: /domain nickname does not allow null values/ },
  },
];

const PARTITIONS =
  'CREATE TABLE {t} (at date NOT NULL, value int) PARTITION BY RANGE (at); ' +
  "CREATE TABLE {t}_2025 PARTITION OF {t} FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'); " +
  "CREATE TABLE {t}_2026 PARTITION OF {t} FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');";

const PARTITIONED: Case[] = [
  {
    name: 'CREATE INDEX on a partitioned table locks every partition against writes while it builds',
    given: PARTITIONS.replaceAll('{t}', 'metrics'),
    sql: 'CREATE INDEX metrics_value ON metrics (value);',
    findings: ['partitioned-index'],
    shows: {
      locks: [
        ['metrics', 'ShareLock'],
        ['metrics_2025', 'ShareLock'],
        ['metrics_2026', 'ShareLock'],
      ],
    },
  },
  {
    name: 'CREATE INDEX ON ONLY the parent locks no partition (quiet)',
    given: PARTITIONS.replaceAll('{t}', 'temps'),
    sql: 'CREATE INDEX temps_value ON ONLY temps (value);',
    findings: [],
    shows: { locks: [['temps', 'ShareLock']], notOn: ['temps_2025', 'temps_2026'] },
  },
  {
    name: 'CREATE INDEX CONCURRENTLY on a partitioned table fails',
    given: PARTITIONS.replaceAll('{t}', 'clicks'),
    sql: 'CREATE INDEX CONCURRENTLY clicks_value ON clicks (value);',
    transactional: false,
    findings: ['partitioned-index'],
    shows: { fails: /cannot create index on partitioned table "clicks" concurrently/ },
  },
  {
    name: 'ADD CONSTRAINT ... USING INDEX on a partitioned table fails',
    given: `${PARTITIONS.replaceAll('{t}', 'visits')} CREATE UNIQUE INDEX visits_key ON visits (at, value);`,
    sql: 'ALTER TABLE visits ADD CONSTRAINT visits_unique UNIQUE USING INDEX visits_key;',
    findings: ['partitioned-index'],
    shows: { fails: /ADD CONSTRAINT USING INDEX is not supported on partitioned tables/ },
  },
  {
    name: 'a new partition beside a DEFAULT partition holds ACCESS EXCLUSIVE on the default and the parent',
    given: `${PARTITIONS.replaceAll('{t}', 'sales')} CREATE TABLE sales_default PARTITION OF sales DEFAULT;`,
    sql: "CREATE TABLE sales_2027 PARTITION OF sales FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');",
    findings: ['partition-with-default'],
    shows: {
      locks: [
        ['sales', 'AccessExclusiveLock'],
        ['sales_default', 'AccessExclusiveLock'],
      ],
    },
  },
  {
    name: 'a new partition fails when the DEFAULT partition holds a row of its range',
    given: `${PARTITIONS.replaceAll('{t}', 'orders')} CREATE TABLE orders_default PARTITION OF orders DEFAULT;`,
    rows: "INSERT INTO orders VALUES ('2027-06-01', 1);",
    sql: "CREATE TABLE orders_2027 PARTITION OF orders FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');",
    findings: ['partition-with-default'],
    shows: {
      fails:
        /updated partition constraint for default partition "orders_default" would be violated by some row/,
    },
  },
  {
    name: 'DETACH PARTITION CONCURRENTLY fails beside a DEFAULT partition',
    given: `${PARTITIONS.replaceAll('{t}', 'loads')} CREATE TABLE loads_default PARTITION OF loads DEFAULT;`,
    sql: 'ALTER TABLE loads DETACH PARTITION loads_2025 CONCURRENTLY;',
    transactional: false,
    findings: ['partition-with-default'],
    shows: { fails: /cannot detach partitions concurrently when a default partition exists/ },
  },
];

const REWRITES: Case[] = [
  {
    name: 'ADD COLUMN of a domain with a CHECK rewrites the table',
    given:
      'CREATE DOMAIN percent AS int CHECK (VALUE BETWEEN 0 AND 100); CREATE TABLE scores (id int PRIMARY KEY);',
    rows: 'INSERT INTO scores SELECT generate_series(1, 10);',
    sql: 'ALTER TABLE scores ADD COLUMN done percent;',
    findings: ['table-rewrite'],
    shows: { rewrites: 'scores', rewritten: true },
  },
  {
    name: 'ADD COLUMN of a domain without constraints does not (quiet)',
    given: "CREATE DOMAIN handle AS text DEFAULT 'anonymous'; CREATE TABLE authors (id int PRIMARY KEY);",
    rows: 'INSERT INTO authors SELECT generate_series(1, 10);',
    sql: 'ALTER TABLE authors ADD COLUMN nick handle;',
    findings: [],
    shows: { rewrites: 'authors', rewritten: false },
  },
  {
    name: 'SET ACCESS METHOD to another method rewrites the table',
    given:
      'CREATE ACCESS METHOD heap_copy TYPE TABLE HANDLER heap_tableam_handler; CREATE TABLE archive (id int PRIMARY KEY);',
    rows: 'INSERT INTO archive SELECT generate_series(1, 10);',
    sql: 'ALTER TABLE archive SET ACCESS METHOD heap_copy;',
    findings: ['table-rewrite'],
    shows: { rewrites: 'archive', rewritten: true },
  },
  {
    name: 'SET ACCESS METHOD to the one the table has does not (quiet)',
    given: 'CREATE TABLE ledger (id int PRIMARY KEY);',
    rows: 'INSERT INTO ledger SELECT generate_series(1, 10);',
    sql: 'ALTER TABLE ledger SET ACCESS METHOD heap;',
    findings: [],
    shows: { rewrites: 'ledger', rewritten: false },
  },
  {
    name: 'SET EXPRESSION of a stored generated column rewrites the table',
    given:
      'CREATE TABLE lines (id int PRIMARY KEY, qty int, price int, total int GENERATED ALWAYS AS (qty * price) STORED);',
    rows: 'INSERT INTO lines (id, qty, price) VALUES (1, 2, 3);',
    sql: 'ALTER TABLE lines ALTER COLUMN total SET EXPRESSION AS (qty * price * 2);',
    findings: ['table-rewrite'],
    shows: { rewrites: 'lines', rewritten: true },
  },
  {
    name: 'SET EXPRESSION of a virtual generated column does not (quiet)',
    given:
      'CREATE TABLE boxes (id int PRIMARY KEY, w int, h int, area int GENERATED ALWAYS AS (w * h) VIRTUAL);',
    rows: 'INSERT INTO boxes (id, w, h) VALUES (1, 2, 3);',
    sql: 'ALTER TABLE boxes ALTER COLUMN area SET EXPRESSION AS (w * h * 2);',
    findings: [],
    shows: { rewrites: 'boxes', rewritten: false },
  },
  {
    name: 'ADD COLUMN ... VIRTUAL does not (quiet)',
    given: 'CREATE TABLE crates (id int PRIMARY KEY, w int, h int);',
    rows: 'INSERT INTO crates VALUES (1, 2, 3);',
    sql: 'ALTER TABLE crates ADD COLUMN area int GENERATED ALWAYS AS (w * h) VIRTUAL;',
    findings: [],
    shows: { rewrites: 'crates', rewritten: false },
  },
  {
    name: 'DROP EXPRESSION does not (quiet)',
    given:
      'CREATE TABLE parcels (id int PRIMARY KEY, w int, h int, area int GENERATED ALWAYS AS (w * h) STORED);',
    rows: 'INSERT INTO parcels (id, w, h) VALUES (1, 2, 3);',
    sql: 'ALTER TABLE parcels ALTER COLUMN area DROP EXPRESSION;',
    findings: [],
    shows: { rewrites: 'parcels', rewritten: false },
  },
];

let database: TestDatabase;
let migrating: Connection;
let watching: Connection;
let app: string;
let migratingPid: number;
let schemas = 0;

beforeAll(async () => {
  database = await freshDatabase();
  migrating = await database.connect('lint-beyond-locks');
  watching = await database.connect('lint-beyond-locks-watch');
  app = `app_${database.name}`;
  await migrating.client.query(`CREATE ROLE ${app}`);
  const { rows } = await migrating.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  migratingPid = rows[0]?.pid ?? 0;
});

afterAll(async () => {
  await migrating?.client.query(`DROP OWNED BY ${app}; DROP ROLE ${app}`);
  await database?.drop();
});

async function findings(testCase: Case): Promise<string[]> {
  const schema = new SchemaKnowledge();
  const common = { source: 'migrations/test.sql', section: 'up' as const, pgVersion: 18, schema };
  await analyseSql({ ...common, sql: testCase.given, revision: 'earlier', transactional: true });
  const { findings: found } = await analyseSql({
    ...common,
    sql: testCase.sql,
    revision: 'now',
    transactional: testCase.transactional !== false,
  });
  return found.map((finding) => finding.rule).sort();
}

/** A schema of its own for the case, the given migration and the rows in it, on both sessions. */
async function prepare(testCase: Case): Promise<void> {
  schemas += 1;
  const schema = `case_${schemas}`;
  const setup = [
    `CREATE SCHEMA ${schema}`,
    `GRANT USAGE ON SCHEMA ${schema} TO ${app}`,
    `SET search_path = ${schema}`,
    testCase.given,
    testCase.rows ?? '',
  ].join('; ');
  await migrating.client.query(setup.replaceAll('{app}', app));
  await watching.client.query(`SET search_path = ${schema}`);
}

async function migrate(testCase: Case): Promise<void> {
  const sql = testCase.transactional === false ? testCase.sql : `BEGIN; ${testCase.sql} COMMIT`;
  await migrating.client.query(sql).catch(async (error: unknown) => {
    await migrating.client.query('ROLLBACK');
    throw error;
  });
}

async function asApp(query: string): Promise<number | 'fails'> {
  await migrating.client.query(`SET ROLE ${app}`);
  try {
    const result = await migrating.client.query(query);
    return result.rowCount ?? 0;
  } catch {
    return 'fails';
  } finally {
    await migrating.client.query('RESET ROLE');
  }
}

async function relfilenode(client: pg.Client, table: string): Promise<string> {
  const result = await client.query<{ relfilenode: string }>(
    'SELECT relfilenode::text FROM pg_class WHERE oid = $1::regclass',
    [table],
  );
  return result.rows[0]?.relfilenode ?? '';
}

/** The locks the migration's session holds before it commits, as the second session reads them. */
async function locksHeld(testCase: Case): Promise<[string, string][]> {
  await migrating.client.query(`BEGIN; ${testCase.sql}`);
  try {
    const { rows } = await watching.client.query<{ relname: string; mode: string }>(
      `SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE l.pid = $1 AND c.relnamespace = current_schema()::regnamespace`,
      [migratingPid],
    );
    return rows.map((row) => [row.relname, row.mode]);
  } finally {
    await migrating.client.query('ROLLBACK');
  }
}

async function verify(testCase: Case): Promise<void> {
  const shows = testCase.shows;
  if ('seen' in shows) {
    expect(await asApp(shows.seen)).toBe(shows.before);
    await migrate(testCase);
    expect(await asApp(shows.seen)).toBe(shows.after);
  } else if ('fails' in shows) {
    if (!shows.afterwards) {
      await expect(migrate(testCase)).rejects.toThrow(shows.fails);
      return;
    }
    await migrate(testCase);
    await expect(migrating.client.query(shows.afterwards)).rejects.toThrow(shows.fails);
  } else if ('locks' in shows) {
    const held = await locksHeld(testCase);
    expect(held).toEqual(expect.arrayContaining(shows.locks.map(([relation, mode]) => [relation, mode])));
    for (const relation of shows.notOn ?? []) expect(held.map(([name]) => name)).not.toContain(relation);
  } else {
    const before = await relfilenode(migrating.client, shows.rewrites);
    await migrate(testCase);
    const after = await relfilenode(migrating.client, shows.rewrites);
    expect(after !== before).toBe(shows.rewritten);
  }
}

describe.each([
  ['changes the application sees', APPLICATION_SEES],
  ['statements that pass on an empty database and fail on real data', FAILS_ON_ROWS],
  ['partitioned tables', PARTITIONED],
  ['rewrites in other clothes', REWRITES],
])('%s', (_family, cases) => {
  it.each(cases.map((testCase) => [testCase.name, testCase] as const))('%s', async (_name, testCase) => {
    expect(await findings(testCase)).toEqual([...testCase.findings].sort());
    await prepare(testCase);
    await verify(testCase);
  });
});
