/**
 * The documented conflict matrix (test/lint/documented-lock-conflicts.ts) checked on PostgreSQL
 * itself: one session holds each mode on a table, another asks for each mode with NOWAIT, and
 * pg_locks shows what is held. One database, two sessions, 64 pairs: well under a second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { conflicts, LOCK_MODES, type LockMode } from '../../lib/lint/model/lock-modes.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { documentedConflict } from './documented-lock-conflicts.ts';

let database: TestDatabase;
let holder: Connection;
let asker: Connection;

beforeAll(async () => {
  database = await freshDatabase();
  holder = await database.connect('lock-holder');
  asker = await database.connect('lock-asker');
  await holder.client.query('CREATE TABLE locked (id int)');
});
afterAll(async () => {
  await database.drop();
});

/** Whether `requested` waits behind `existing` held by another session, as PostgreSQL answers. */
async function serverConflict(existing: LockMode, requested: LockMode): Promise<boolean> {
  await holder.client.query(`BEGIN; LOCK TABLE locked IN ${existing} MODE`);
  try {
    await asker.client.query('BEGIN');
    const granted = await asker.client.query(`LOCK TABLE locked IN ${requested} MODE NOWAIT`).then(
      () => true,
      (error: { code?: string }) => {
        if (error.code !== '55P03') throw error;
        return false;
      },
    );
    await asker.client.query('ROLLBACK');
    return !granted;
  } finally {
    await holder.client.query('ROLLBACK');
  }
}

describe('the lock table on PostgreSQL', () => {
  it('holds the mode LOCK TABLE names, as pg_locks spells it', async () => {
    const held: string[] = [];
    for (const mode of LOCK_MODES) {
      await holder.client.query(`BEGIN; LOCK TABLE locked IN ${mode} MODE`);
      const { rows } = await holder.client.query<{ mode: string }>(
        `SELECT mode FROM pg_locks WHERE relation = 'locked'::regclass AND pid = pg_backend_pid()`,
      );
      held.push(...rows.map((row) => row.mode));
      await holder.client.query('ROLLBACK');
    }
    expect(held).toEqual([
      'AccessShareLock',
      'RowShareLock',
      'RowExclusiveLock',
      'ShareUpdateExclusiveLock',
      'ShareLock',
      'ShareRowExclusiveLock',
      'ExclusiveLock',
      'AccessExclusiveLock',
    ]);
  });

  it('makes a second session wait exactly where the documentation and the lock table say', async () => {
    const disagreements: string[] = [];
    for (const existing of LOCK_MODES) {
      for (const requested of LOCK_MODES) {
        const onServer = await serverConflict(existing, requested);
        const documented = documentedConflict(requested, existing);
        const modelled = conflicts(existing, requested);
        if (onServer !== documented || onServer !== modelled) {
          disagreements.push(
            `${requested} after ${existing}: server ${onServer}, docs ${documented}, model ${modelled}`,
          );
        }
      }
    }
    expect(disagreements).toEqual([]);
  });
});
