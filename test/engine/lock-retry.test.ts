/**
 * Lock timeouts retried, not fatal: a migration that cannot get its lock within lock_timeout
 * rolls back that attempt, waits with jittered backoff, and tries again, logging who held the
 * lock; when the retries run out, the error names the holder and says what to do. The history
 * shows one application, whatever the attempts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { MigrationFailed } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { lockRetryWaitMs } from '../../lib/engine/lock-retry.ts';
import type { MigrationLogger } from '../../lib/engine/migration.ts';
import { migrate, type RunOptions } from '../../lib/engine/runner.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration } from '../support/migrations.ts';

let database: TestDatabase;
let connection: Connection;
let warnings: { message: string; details?: Record<string, unknown> }[];
let options: RunOptions;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
  warnings = [];
  const log: MigrationLogger = {
    info: () => undefined,
    warn: (message, details) => warnings.push({ message, details }),
  };
  options = { actor: 'test', log };
  await connection.db.query('CREATE TABLE busy (id int)');
});
afterEach(async () => {
  await database.drop();
});

/** A session reading `busy` inside a transaction: it holds ACCESS SHARE until it ends. */
async function reader(holdMs?: number): Promise<{ release(): Promise<void> }> {
  const other = await database.connect('api');
  await other.db.query('BEGIN');
  await other.db.query('SELECT * FROM busy');
  const release = () => other.db.query('ROLLBACK').then(() => undefined);
  if (holdMs !== undefined) setTimeout(() => void release(), holdMs);
  return { release };
}

const graph = (options: { transaction?: boolean } = {}) =>
  RevisionGraph.from([
    sqlMigration('lock01', 'ALTER TABLE busy ADD COLUMN x int', {
      lockTimeout: '500ms',
      transaction: options.transaction ?? true,
    }),
  ]);

describe('a lock timeout', () => {
  it('is retried until the lock is free: held through two timeouts of 500 ms, applied on a later attempt', async () => {
    const held = await reader();
    const report = await migrate(
      connection.db,
      graph(),
      { action: 'upgrade', target: 'head' },
      {
        ...options,
        log: {
          info: () => undefined,
          warn: (message, details) => {
            // The holder lets go once two attempts have timed out, as a long query would end.
            if (warnings.push({ message, details }) === 2) void held.release();
          },
        },
        lockRetries: 6,
      },
    );
    expect(report.status).toBe('applied');
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    const [first] = warnings;
    expect(first?.message).toBe('lock timeout: waiting to try again');
    expect(String(first?.details?.heldBy)).toMatch(
      /pid \d+ \(app 'api', idle in transaction: SELECT \* FROM busy\) holds AccessShareLock on busy/,
    );
    // One application in the history, whatever the attempts.
    const log = await new History().log(connection.db);
    expect(log.filter((row) => row.revision === 'lock01')).toHaveLength(1);
  }, 30_000);

  it('outside a transaction retries the statement that timed out', async () => {
    await reader(1_500);
    const report = await migrate(
      connection.db,
      graph({ transaction: false }),
      { action: 'upgrade', target: 'head' },
      {
        ...options,
        lockRetries: 6,
      },
    );
    expect(report.status).toBe('applied');
    expect(warnings.some((warning) => warning.message === 'lock timeout: waiting to try again')).toBe(true);
  }, 30_000);

  it('fails after its retries when the lock is held for ever, naming the holder and what to do', async () => {
    const held = await reader();
    const error = await migrate(
      connection.db,
      graph(),
      { action: 'upgrade', target: 'head' },
      {
        ...options,
        lockRetries: 2,
      },
    ).catch((e) => e);
    await held.release();
    expect(error).toBeInstanceOf(MigrationFailed);
    expect(error.postgres.code).toBe('55P03');
    expect(error.message).toMatch(
      /timed out waiting for a lock 3 times .*pid \d+ \(app 'api', idle in transaction: SELECT \* FROM busy\) holds AccessShareLock on busy\. Find what holds it/,
    );
    expect(warnings).toHaveLength(2);
    expect((await new History().read(connection.db)).heads).toEqual([]);
  }, 30_000);

  it("follows the migration's own lock_retries over the run's", async () => {
    const held = await reader();
    const own = RevisionGraph.from([
      {
        ...sqlMigration('lock01', 'ALTER TABLE busy ADD COLUMN x int', { lockTimeout: '200ms' }),
        lockRetries: 1,
      },
    ]);
    const error = await migrate(
      connection.db,
      own,
      { action: 'upgrade', target: 'head' },
      {
        ...options,
        lockRetries: 8,
      },
    ).catch((e) => e);
    await held.release();
    expect(error.message).toMatch(/timed out waiting for a lock 2 times/);
    expect(warnings).toHaveLength(1);
  }, 30_000);

  it('waits with jittered exponential backoff, at most 30 s', () => {
    expect(lockRetryWaitMs(1, () => 0)).toBe(500);
    expect(lockRetryWaitMs(1, () => 1)).toBe(1000);
    expect(lockRetryWaitMs(3, () => 1)).toBe(4000);
    expect(lockRetryWaitMs(20, () => 1)).toBe(30_000);
  });

  it('stops the run rather than wait past its deadline; the next run goes on', async () => {
    const held = await reader();
    const report = await migrate(
      connection.db,
      graph(),
      { action: 'upgrade', target: 'head' },
      {
        ...options,
        lockRetries: 5,
        deadline: Date.now() + 2_500,
      },
    );
    await held.release();
    expect(report.status).toBe('stopped');
    expect(report.remaining).toBe(1);
    const again = await migrate(connection.db, graph(), { action: 'upgrade', target: 'head' }, options);
    expect(again.status).toBe('applied');
  }, 30_000);
});
