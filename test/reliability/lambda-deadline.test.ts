/**
 * A data migration longer than one Lambda invocation: each isComplete poll stops before the
 * invocation's deadline at a batch checkpoint, and the next poll carries on until done.
 */
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import { cfnEvent, DB_IDENTIFIER, fakes, lambdaContext, SECRET_ARN } from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const LONG_BUNDLE = resolve(import.meta.dirname, '../fixtures/handler/long');
const BACKFILL = 'b8c9d0e1f2a3';

let database: TestDatabase;
let connection: Connection;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('inspector');
});
afterEach(async () => {
  await database.drop();
});

describe('a deploy whose data migration outlasts one invocation', () => {
  it('stops each poll at a checkpoint before the deadline and finishes over several polls', async () => {
    const aws = fakes(database.url);
    const handler = aws.handler('v1', {
      env: {
        SECRET_ARN,
        DB_KIND: 'instance',
        DB_IDENTIFIER,
        AUTH_MODE: 'secret',
        MIGRATIONS_DIR: LONG_BUNDLE,
      },
    });
    // 20 s of margin is kept back, so each invocation gets about 350 ms of work.
    const shortInvocation = { ...lambdaContext(), getRemainingTimeInMillis: () => 20_350 };
    const event = cfnEvent('cfn-create', { TargetRevision: BACKFILL, Snapshot: { Enabled: 'false' } });

    const onEventResult = (await handler(event, shortInvocation)) as unknown as Record<string, unknown>;
    const poll = { ...event, ...onEventResult };
    const progress: number[] = [];
    let result: Record<string, unknown> = {};
    for (let polls = 0; polls < 30 && !result.IsComplete; polls++) {
      result = (await handler(poll, shortInvocation)) as unknown as Record<string, unknown>;
      const named = await connection.db.query<{ n: string }>(
        'SELECT count(*) AS n FROM customers WHERE name IS NOT NULL',
      );
      progress.push(Number(named.rows[0]?.n));
    }

    expect(result).toMatchObject({ IsComplete: true, Data: { Revision: BACKFILL } });
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toBe(400);
    // Every poll made progress in whole batches, never losing any.
    for (const [index, rows] of progress.entries()) {
      expect(rows % 50 === 0 || rows === 400).toBe(true);
      if (index > 0) expect(rows).toBeGreaterThanOrEqual(progress[index - 1] as number);
    }
    const history = new History();
    expect((await history.read(connection.db)).heads).toEqual([BACKFILL]);
    const ups = (await history.log(connection.db))
      .filter((row) => row.direction === 'up')
      .map((row) => row.revision);
    expect(ups.filter((revision) => revision === BACKFILL)).toHaveLength(1);
    expect(await history.batchProgress(connection.db)).toEqual([]);
  });
});
