import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { roundTrip } from '../../lib/schema/round-trip.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration } from '../support/migrations.ts';

let database: TestDatabase;
let connection: Connection;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
});
afterEach(async () => {
  await database.drop();
});

describe('the round trip', () => {
  it('walks a branch and its merge one revision at a time, up, down and up again', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('base01', 'CREATE TABLE a (id int PRIMARY KEY)', { down: 'DROP TABLE a' }),
      sqlMigration('left01', 'CREATE TABLE b (id int)', { parents: ['base01'], down: 'DROP TABLE b' }),
      sqlMigration('right1', 'CREATE TABLE c (id int)', { parents: ['base01'], down: 'DROP TABLE c' }),
      sqlMigration('merge1', 'SELECT 1', { parents: ['left01', 'right1'], down: 'SELECT 1' }),
    ]);
    const report = await roundTrip(connection.db, graph, { actor: 'test' });
    expect(report).toMatchObject({
      revisions: 4,
      applied: 4,
      reverted: 4,
      reapplied: 4,
      difference: undefined,
    });
  });

  it('names the revision whose up step fails going up again because its down step left rows behind', async () => {
    // kinds1 cannot go down, so the trip turns back above it and the leftover row stays.
    const graph = RevisionGraph.from([
      sqlMigration('kinds1', 'CREATE TABLE kinds (name text PRIMARY KEY)', { down: null }),
      sqlMigration(
        'seed01',
        "CREATE TABLE colours (name text PRIMARY KEY); INSERT INTO kinds VALUES ('colour')",
        {
          parents: ['kinds1'],
          down: 'DROP TABLE colours',
        },
      ),
    ]);
    const report = await roundTrip(connection.db, graph, { actor: 'test', heads: ['seed01'] });
    expect(report.difference).toMatchObject({ revision: 'seed01', phase: 'up again', kind: 'failed' });
    expect(report.difference?.message).toContain('[23505]');
    expect(report).toMatchObject({
      applied: 2,
      reverted: 1,
      reapplied: 0,
      turnedBackAt: { revision: 'kinds1' },
    });
  });

  it('names the revision whose up step builds another schema the second time, though its down step matched', async () => {
    // flags keeps a row across the trip (the trip turns back above it), and twice01 reads it.
    const graph = RevisionGraph.from([
      sqlMigration('flags1', 'CREATE TABLE flags (name text)', { down: null }),
      sqlMigration(
        'twice01',
        `DO $$ BEGIN IF EXISTS (SELECT 1 FROM flags) THEN CREATE TABLE second_time (id int); END IF; END $$;
         INSERT INTO flags VALUES ('seen')`,
        { parents: ['flags1'], down: 'DROP TABLE IF EXISTS second_time' },
      ),
      sqlMigration('later1', 'CREATE TABLE later (id int)', {
        parents: ['twice01'],
        down: 'DROP TABLE later',
      }),
    ]);
    const report = await roundTrip(connection.db, graph, { actor: 'test' });
    expect(report.difference).toMatchObject({
      revision: 'twice01',
      phase: 'up again',
      kind: 'schema',
      extra: ['table public.second_time', 'column public.second_time.id integer null=YES default=-'].sort(),
      missing: [],
    });
  });

  it('compares defaults and nullability: a down step that leaves a column NOT NULL is caught', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('users1', 'CREATE TABLE users (id int PRIMARY KEY, email text)', {
        down: 'DROP TABLE users',
      }),
      sqlMigration('strict', 'ALTER TABLE users ALTER COLUMN email SET NOT NULL', {
        parents: ['users1'],
        down: 'SELECT 1',
      }),
    ]);
    const report = await roundTrip(connection.db, graph, { actor: 'test' });
    expect(report.difference).toMatchObject({
      revision: 'strict',
      phase: 'down',
      kind: 'schema',
      missing: ['column public.users.email text null=YES default=-'],
    });
    expect(report.difference?.extra).toContain('column public.users.email text null=NO default=-');
  });

  it('compares row level security and policies: a down step that leaves them on is caught', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('users1', 'CREATE TABLE users (id int PRIMARY KEY, tenant text)', {
        down: 'DROP TABLE users',
      }),
      sqlMigration(
        'tenant',
        'ALTER TABLE users ENABLE ROW LEVEL SECURITY; CREATE POLICY users_tenant ON users USING (tenant = current_user)',
        { parents: ['users1'], down: 'ALTER TABLE users DISABLE ROW LEVEL SECURITY' },
      ),
    ]);
    const report = await roundTrip(connection.db, graph, { actor: 'test' });
    expect(report.difference).toMatchObject({
      revision: 'tenant',
      phase: 'down',
      kind: 'schema',
      missing: [],
    });
    expect(report.difference?.extra).toEqual([
      'policy public.users.users_tenant permissive for all to public using (tenant = CURRENT_USER) check -',
    ]);
  });

  it('names the down step that leaves a view behind, though a lower down step drops it by CASCADE', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('items1', 'CREATE TABLE items (id int PRIMARY KEY, price int)', {
        down: 'DROP TABLE items CASCADE',
      }),
      sqlMigration('cheap1', 'CREATE VIEW cheap_items AS SELECT id FROM items WHERE price < 10', {
        parents: ['items1'],
        down: 'SELECT 1',
      }),
      sqlMigration('more01', 'CREATE TABLE more_items (id int)', {
        parents: ['cheap1'],
        down: 'DROP TABLE more_items',
      }),
    ]);
    const report = await roundTrip(connection.db, graph, { actor: 'test' });
    expect(report.difference).toMatchObject({
      revision: 'cheap1',
      phase: 'down',
      kind: 'schema',
      missing: [],
    });
    expect(report.difference?.extra).toContain('column public.cheap_items.id integer null=YES default=-');
  });
});
