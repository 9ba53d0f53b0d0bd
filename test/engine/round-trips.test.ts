/**
 * What a run sends besides its migrations' own SQL: a constant, whatever the plan's length. A
 * deploy's few migrations onto a long history, and a revert of many, each pay one round trip per
 * step and a handful around them (issue 32). One database for the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import type { Database } from '../../lib/engine/database.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { migrate } from '../../lib/engine/runner.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { tableChain } from '../support/migrations.ts';

const history = new History();
const revisions = Array.from({ length: 30 }, (_, index) => `dddd${String(index).padStart(8, '0')}`);
const graph = RevisionGraph.from(tableChain(...revisions));
let database: TestDatabase;
let connection: Connection;

beforeAll(async () => {
  database = await freshDatabase();
  connection = await database.connect();
});
afterAll(async () => {
  await database.drop();
});

/** The session, counting the queries sent through it. */
function counting(db: Database): { db: Database; sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    db: {
      query: (text, values) => {
        sent.push(text);
        return db.query(text, values);
      },
    },
  };
}

/**
 * Besides one query per step: the lock with the history's probe, the history read, the
 * fingerprint's check, the schema's lines (hashed here) and the record, the unlock.
 */
const AROUND_A_PLAN = 7;

describe('round trips of a run', () => {
  it('stay one per step and a constant around the plan, up onto a history and down past many', async () => {
    await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: revisions[19] as string },
      { actor: 'test', history },
    );

    const up = counting(connection.db);
    const applied = await migrate(
      up.db,
      graph,
      { action: 'upgrade', target: 'heads' },
      { actor: 'test', history },
    );
    expect(applied.steps).toHaveLength(10);
    expect(up.sent.length).toBeLessThanOrEqual(10 + AROUND_A_PLAN);

    const down = counting(connection.db);
    const reverted = await migrate(
      down.db,
      graph,
      { action: 'downgrade', target: 'base' },
      { actor: 'test', history },
    );
    expect(reverted.steps).toHaveLength(30);
    // One more: the plan reads which of its revisions have a background run to mark reverted.
    expect(down.sent.length).toBeLessThanOrEqual(30 + AROUND_A_PLAN + 1);
  });
});
