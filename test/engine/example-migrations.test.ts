import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBackgroundLocally } from '../../lib/engine/background-local.ts';
import { schemaSnapshot } from '../../lib/engine/catalog.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { loadMigrations } from '../../lib/engine/loader.ts';
import { migrate } from '../../lib/engine/runner.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const folder = resolve(import.meta.dirname, '../../migrations');
let database: TestDatabase;
let connection: Connection;
let graph: RevisionGraph;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
  graph = RevisionGraph.from(await loadMigrations(folder));
});
afterEach(async () => {
  await database.drop();
});

async function count(sql: string): Promise<number> {
  return Number((await connection.db.query<{ n: string }>(sql)).rows[0]?.n);
}

describe('the example migrations', () => {
  it('form one chain with a single head', () => {
    expect(graph.size).toBe(9);
    expect(graph.heads).toHaveLength(1);
  });

  it('backfill normalized_price in batches, then make it NOT NULL', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'b7a4e19c03d5' }, { actor: 'test' });
    await connection.db.query(`
      INSERT INTO products (marketplace, shop_name, title, price)
      SELECT 'm', 's' || (i % 7), 't' || i, '$' || i || '.25' FROM generate_series(1, 2500) AS i`);
    await connection.db.query(
      `INSERT INTO products (marketplace, shop_name, title, price) VALUES ('m', 's', 'free', NULL)`,
    );
    const logs: Record<string, unknown>[] = [];
    const report = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'f4b1e6a2c9d8' },
      {
        actor: 'test',
        args: { batch_size: '1000' },
        log: { info: (_m, d) => logs.push(d ?? {}), warn: () => undefined },
      },
    );
    expect(report.steps.map((step) => step.transactional)).toEqual([false, false, true]);
    expect(await count('SELECT count(*) AS n FROM products WHERE normalized_price IS NULL')).toBe(0);
    expect(await count(`SELECT normalized_price * 100 AS n FROM products WHERE title = 't42'`)).toBe(4225);
    expect(
      await count(`SELECT count(*) AS n FROM products WHERE title = 'free' AND normalized_price = 0`),
    ).toBe(1);
    const column = await connection.db.query<{ is_nullable: string }>(
      `SELECT is_nullable FROM information_schema.columns WHERE table_name = 'products' AND column_name = 'normalized_price'`,
    );
    expect(column.rows[0]?.is_nullable).toBe('NO');
    expect(
      logs.filter((details) => details.table === 'products' && details.batches !== undefined),
    ).toHaveLength(3);
    const index = await connection.db.query<{ valid: boolean }>(
      `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'idx_users_email_active'::regclass`,
    );
    expect(index.rows[0]?.valid).toBe(true);
  });

  it('seed sample rows only with -x dev_data=true', async () => {
    const seed = 'f4b1e6a2c9d8';
    await migrate(connection.db, graph, { action: 'upgrade', target: seed }, { actor: 'test' });
    expect(await count('SELECT count(*) AS n FROM users')).toBe(0);
    await migrate(connection.db, graph, { action: 'downgrade' }, { actor: 'test' });
    await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: seed },
      { actor: 'test', args: { dev_data: 'true' } },
    );
    expect(await count('SELECT count(*) AS n FROM users')).toBe(3);
    await migrate(connection.db, graph, { action: 'downgrade' }, { actor: 'test' });
    expect(await count('SELECT count(*) AS n FROM users')).toBe(0);
  });

  it('expand, backfill in the background, then contract behind the gate (users.email_normalized)', async () => {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'f4b1e6a2c9d8' }, { actor: 'test' });
    await connection.db.query(
      "INSERT INTO users (email) SELECT ' User' || i || '@Example.com ' FROM generate_series(1, 3000) AS i",
    );
    const expanded = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: '8f2b3c4d5e6a' },
      { actor: 'test' },
    );
    expect(expanded.backgroundStarted).toEqual(['8f2b3c4d5e6a']);
    await expect(
      migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, { actor: 'test' }),
    ).rejects.toThrow(/requires background migration 8f2b3c4d5e6a complete, and it is pending/);
    await runBackgroundLocally({
      connect: async () => {
        const session = await database.connect();
        return { db: session.db, close: () => session.close() };
      },
      history: new History(),
      graph,
      args: {},
      log: { info: () => undefined, warn: () => undefined },
      ranges: 4,
      concurrency: 2,
      actor: 'test',
    });
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, { actor: 'test' });
    expect(
      await count("SELECT count(*) AS n FROM users WHERE email_normalized LIKE 'user%@example.com'"),
    ).toBe(3000);
    await connection.db.query("INSERT INTO users (email) VALUES ('New@Example.com')");
    expect(await count("SELECT count(*) AS n FROM users WHERE email_normalized = 'new@example.com'")).toBe(1);
  });

  it('go down to base leaving the schema as it was, and up again to the same schema', async () => {
    const empty = await schemaSnapshot(connection.db);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, { actor: 'test' });
    const migrated = await schemaSnapshot(connection.db);
    expect(migrated).toContain(
      'index public.idx_products_marketplace_shop CREATE INDEX idx_products_marketplace_shop ON public.products USING btree (marketplace, shop_name)',
    );
    await migrate(connection.db, graph, { action: 'downgrade', target: 'base' }, { actor: 'test' });
    expect(await schemaSnapshot(connection.db)).toEqual(empty);
    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, { actor: 'test' });
    expect(await schemaSnapshot(connection.db)).toEqual(migrated);
  });
});
