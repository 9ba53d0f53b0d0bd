/**
 * The round trip's tracked snapshots are the snapshots a whole read gives: after every kind of
 * change a migration makes (renames others print, drops that cascade, types, domains, functions,
 * triggers, views, row level security and policies, partitions attached and detached, composite
 * types, collations, comments, a new schema, a changed search_path, prepared statements thrown away), and, without the privilege for event triggers, by reading whole every time.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { schemaSnapshot } from '../../lib/engine/catalog.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { linesOf, SchemaTracker, snapshotDifference } from '../../lib/schema/schema-tracker.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;
let connection: Connection;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
});
afterEach(async () => {
  await database.drop();
});

/** Each step as a migration would run it; the tracked snapshot is compared with a whole read after each. */
const STEPS = [
  `CREATE SEQUENCE ticket_numbers`,
  `CREATE FUNCTION next_ticket() RETURNS bigint LANGUAGE sql AS 'SELECT nextval(''ticket_numbers'')'`,
  `CREATE TYPE mood AS ENUM ('sad', 'ok')`,
  `CREATE DOMAIN positive AS integer CHECK (VALUE > 0)`,
  `CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, ticket bigint DEFAULT next_ticket(),
     feeling mood, score positive, CHECK (length(email) > 3))`,
  `CREATE TABLE mood_history (feelings mood[])`,
  `CREATE TABLE account_copies (copy accounts)`,
  `CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id bigint REFERENCES accounts (id),
     number bigint DEFAULT nextval('ticket_numbers'), total numeric(10, 2) NOT NULL)`,
  `CREATE INDEX orders_big ON orders (account_id) WHERE total > 100`,
  `CREATE INDEX accounts_lower_email ON accounts (lower(email))`,
  `CREATE VIEW big_orders AS SELECT o.id, a.email FROM orders o JOIN accounts a ON a.id = o.account_id WHERE o.total > 100`,
  `CREATE MATERIALIZED VIEW order_counts AS SELECT account_id, count(*) FROM orders GROUP BY account_id`,
  `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'`,
  `CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch()`,
  // Renames that other objects print: the foreign key, the view, the index and the default follow.
  `ALTER TABLE accounts RENAME TO customers`,
  `ALTER TABLE customers RENAME COLUMN email TO address`,
  `DROP TABLE account_copies`,
  `ALTER SEQUENCE ticket_numbers RENAME TO ticket_sequence`,
  `ALTER TYPE mood RENAME TO feeling`,
  `ALTER TYPE feeling ADD VALUE 'glad'`,
  `ALTER TYPE feeling RENAME VALUE 'ok' TO 'fine'`,
  `ALTER DOMAIN positive RENAME TO above_zero`,
  `ALTER DOMAIN above_zero ADD CONSTRAINT below_a_million CHECK (VALUE < 1000000)`,
  `ALTER DOMAIN above_zero DROP CONSTRAINT below_a_million`,
  `ALTER FUNCTION next_ticket() RENAME TO take_ticket`,
  `ALTER FUNCTION touch() RENAME TO touch_row`,
  `CREATE OR REPLACE FUNCTION touch_row() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.total = NEW.total; RETURN NEW; END'`,
  `ALTER TRIGGER orders_touch ON orders RENAME TO orders_touched`,
  `ALTER INDEX orders_big RENAME TO orders_large`,
  `ALTER TABLE orders RENAME CONSTRAINT orders_account_id_fkey TO orders_customer`,
  // Column changes, defaults, nullability.
  `ALTER TABLE orders ADD COLUMN note varchar(20)`,
  `ALTER TABLE orders ALTER COLUMN note TYPE varchar(40)`,
  `ALTER TABLE orders ALTER COLUMN note SET DEFAULT 'none'`,
  `ALTER TABLE orders ALTER COLUMN note SET NOT NULL`,
  `ALTER TABLE orders ALTER COLUMN note DROP NOT NULL`,
  `ALTER TABLE orders ALTER COLUMN note DROP DEFAULT`,
  `ALTER TABLE orders DROP COLUMN note`,
  // Row level security and policies, one naming a function and another table.
  `ALTER TABLE orders ENABLE ROW LEVEL SECURITY`,
  `CREATE POLICY orders_big_only ON orders FOR SELECT USING (total > 100)`,
  `CREATE POLICY orders_known ON orders AS RESTRICTIVE FOR INSERT TO PUBLIC
     WITH CHECK (account_id IN (SELECT id FROM customers) AND take_ticket() > 0)`,
  `ALTER POLICY orders_big_only ON orders USING (total > 200)`,
  `ALTER POLICY orders_big_only ON orders RENAME TO orders_large_only`,
  `ALTER FUNCTION take_ticket() RENAME TO draw_ticket`,
  `ALTER TABLE orders FORCE ROW LEVEL SECURITY`,
  `DROP POLICY orders_large_only ON orders`,
  `ALTER TABLE orders DISABLE ROW LEVEL SECURITY`,
  `ALTER TABLE orders NO FORCE ROW LEVEL SECURITY`,
  `ALTER TABLE orders ENABLE ROW LEVEL SECURITY`,
  // Drops of parts, alone and by cascade.
  `DROP INDEX orders_large`,
  `DROP TRIGGER orders_touched ON orders`,
  `ALTER TABLE orders DROP CONSTRAINT orders_customer`,
  `ALTER TABLE orders ADD CONSTRAINT orders_customer FOREIGN KEY (account_id) REFERENCES customers (id) NOT VALID`,
  `ALTER TABLE orders VALIDATE CONSTRAINT orders_customer`,
  `DROP FUNCTION draw_ticket() CASCADE`,
  `DROP TYPE feeling CASCADE`,
  `DROP SEQUENCE ticket_sequence CASCADE`,
  `DROP VIEW big_orders`,
  `CREATE OR REPLACE VIEW customer_emails AS SELECT id, address FROM customers`,
  `ALTER TABLE customers RENAME COLUMN address TO email`,
  // Partitions, a schema of its own, a table moved into it, a search_path that prints names otherwise.
  `CREATE TABLE events (at date NOT NULL, kind text) PARTITION BY RANGE (at)`,
  `CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
  `CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')`,
  `ALTER TABLE events DETACH PARTITION events_2026`,
  `ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
  `ALTER TABLE events_2027 RENAME TO events_next`,
  `DROP TABLE events_next`,
  // Composite types, collations and comments on the kinds of object a comment can name.
  `CREATE TYPE address AS (street text, city text)`,
  `ALTER TYPE address ADD ATTRIBUTE postcode text COLLATE "C"`,
  `ALTER TABLE events ALTER COLUMN kind TYPE text COLLATE "C"`,
  `COMMENT ON TYPE address IS 'where to send it'`,
  `COMMENT ON COLUMN address.city IS 'or town'`,
  `COMMENT ON COLUMN events.kind IS 'what happened'`,
  `COMMENT ON INDEX accounts_email_key IS 'one account per email'`,
  `COMMENT ON CONSTRAINT accounts_email_check ON customers IS 'no blank'`,
  `COMMENT ON FUNCTION touch_row() IS 'keeps the row'`,
  `COMMENT ON SCHEMA public IS 'the app'`,
  `COMMENT ON COLUMN events.kind IS NULL`,
  `DROP TYPE address`,
  `CREATE SCHEMA billing`,
  `ALTER TABLE order_counts SET SCHEMA billing`,
  `CREATE TABLE billing.invoices (id int PRIMARY KEY, customer_id bigint REFERENCES public.customers (id))`,
  `ALTER SCHEMA billing RENAME TO invoicing`,
  `SET search_path = invoicing, public`,
  `CREATE INDEX invoices_customer ON invoices (customer_id)`,
  `RESET search_path`,
  `DISCARD ALL`,
  // Triggers off for a bulk load: DDL meanwhile is noted all the same.
  `SET session_replication_role = replica; CREATE TABLE loaded (id int); RESET session_replication_role`,
  `CREATE INDEX customers_email_prefix ON customers (email text_pattern_ops)`,
  `COMMENT ON TABLE customers IS 'people who order'`,
  `DROP SCHEMA invoicing CASCADE`,
  `DROP TABLE orders, customers CASCADE`,
];

describe('the schema tracker', () => {
  it('holds what a whole read gives after every kind of change, reading only what changed', async () => {
    const tracker = await SchemaTracker.start(connection.db, 'rds_migrate');
    try {
      expect(tracker.tracking).toBe(true);
      await tracker.wholeSnapshot();
      for (const sql of STEPS) {
        await connection.db.query(sql);
        const tracked = linesOf(await tracker.snapshot());
        expect(tracked, `after ${sql}`).toEqual(await schemaSnapshot(connection.db, 'rds_migrate'));
      }
      // The schema, the search_path and the discarded statements read whole; the rest did not.
      expect(tracker.wholeReads).toBeLessThan(8);
    } finally {
      await tracker.stop();
    }
    const left = await connection.db.query<{ count: string }>(
      "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'rds_migrate%'",
    );
    expect(left.rows[0]?.count).toBe('0');
  });

  it('reads every snapshot whole when it may not create event triggers', async () => {
    const role = `${database.name}_plain`;
    await connection.db.query(`CREATE ROLE ${role} LOGIN; GRANT ALL ON DATABASE ${database.name} TO ${role};
      GRANT ALL ON SCHEMA public TO ${role}`);
    try {
      const plain = await database.connect();
      await plain.db.query(`SET ROLE ${role}`);
      const tracker = await SchemaTracker.start(plain.db, 'rds_migrate');
      expect(tracker.tracking).toBe(false);
      const before = await tracker.snapshot();
      await plain.db.query('CREATE TABLE things (id int PRIMARY KEY)');
      const after = await tracker.snapshot();
      expect(linesOf(after)).toEqual(await schemaSnapshot(plain.db, 'rds_migrate'));
      expect(snapshotDifference(before, after).extra).toEqual([
        'column public.things.id integer null=NO default=-',
        'constraint public.things_pkey PRIMARY KEY (id) valid=true',
        'index public.things_pkey CREATE UNIQUE INDEX things_pkey ON public.things USING btree (id)',
        'table public.things',
      ]);
      await tracker.stop();
      await plain.db.query('RESET ROLE; DROP TABLE things');
    } finally {
      await connection.db.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});
