/**
 * depends_on in the history: code that lacks a migration (a stack rollback runs the older bundle)
 * rebuilds it from the log, and must revert it before the revision it depends on.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { planTo } from '../../lib/engine/plan.ts';
import { migrationsFromHistory } from '../../lib/engine/recorded.ts';
import { migrate } from '../../lib/engine/runner.ts';
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

// Two roots: `invoices` (labelled billing) needs `accounts` of the other root, without a merge.
// Its file sorts first, so without the dependency it would be ordered (and reverted) wrongly.
const invoices = {
  ...sqlMigration('inv001', 'CREATE TABLE invoices (account_id int REFERENCES accounts (id))', {
    down: 'DROP TABLE invoices',
  }),
  source: '202601010000_invoices.sql',
  branchLabels: ['billing'],
  dependsOn: ['acc001'],
};
const accounts = {
  ...sqlMigration('acc001', 'CREATE TABLE accounts (id int PRIMARY KEY)', { down: 'DROP TABLE accounts' }),
  source: '202601010001_accounts.sql',
};

describe('depends_on in the history', () => {
  it('is recorded, so code without either migration reverts them in order', async () => {
    const graph = RevisionGraph.from([invoices, accounts]);
    const applied = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'billing@head' },
      { actor: 'test' },
    );
    expect(applied.steps.map((step) => step.revision)).toEqual(['acc001', 'inv001']);
    const history = new History();
    const recorded = await history.recordedRevisions(connection.db);
    expect(recorded.find((record) => record.revision === 'inv001')?.dependsOn).toEqual(['acc001']);
    expect(recorded.find((record) => record.revision === 'acc001')).not.toHaveProperty('dependsOn');

    // An older bundle with no migrations at all: everything comes from the history.
    const rebuilt = RevisionGraph.from(await migrationsFromHistory(recorded));
    const heads = (await history.read(connection.db)).heads;
    expect(planTo(rebuilt, heads, 'base').steps.map((step) => step.revision)).toEqual(['inv001', 'acc001']);
    const reverted = await migrate(
      connection.db,
      rebuilt,
      { action: 'sync', target: 'base' },
      { actor: 'test' },
    );
    expect(reverted.to).toEqual([]);
  });

  it('records a stamp with it too', async () => {
    const graph = RevisionGraph.from([invoices, accounts]);
    await migrate(connection.db, graph, { action: 'stamp', target: 'inv001' }, { actor: 'test' });
    const recorded = await new History().recordedRevisions(connection.db);
    expect(recorded.map((record) => [record.revision, record.dependsOn ?? []])).toEqual([
      ['acc001', []],
      ['inv001', ['acc001']],
    ]);
  });
});
