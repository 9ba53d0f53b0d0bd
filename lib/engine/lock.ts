/**
 * The session advisory lock that serialises runners on one database: a second runner waits up
 * to a bound, then reports who holds the lock. The lock lives as long as the session, so a
 * runner that dies releases it with its connection.
 */

import type { Database } from './database.ts';
import { LockTimeoutError } from './errors.ts';
import { escapeLiteral } from './sql-quote.ts';

/** First key of the two-key advisory lock: "RDM", so our locks are easy to find in pg_locks. */
const LOCK_CLASS = 0x52444d;

export const DEFAULT_LOCK_WAIT_MS = 60_000;

/** Which lock, how long to wait for it, and who hears that the wait began (and who holds it). */
interface LockRequest {
  readonly name: string;
  readonly waitMs: number;
  readonly onWait?: (holder: string | undefined) => void;
}

export async function withLock<T>(
  db: Database,
  name: string,
  waitMs: number,
  body: () => Promise<T>,
): Promise<T> {
  await acquire(db, name, waitMs, undefined);
  return holding(db, name, body);
}

/**
 * `withLock`, and a read the body needs first: `read` is the select list of one row (literal SQL,
 * no parameters). It travels in the lock's round trip when the lock is free; the body gets its row.
 * `onWait` hears who holds the lock when it is not free, before the wait begins.
 */
export async function withLockReading<T>(
  db: Database,
  lock: LockRequest,
  read: string,
  body: (row: Record<string, unknown> | undefined) => Promise<T>,
): Promise<T> {
  const row = await acquire(db, lock.name, lock.waitMs, read, lock.onWait);
  return holding(db, lock.name, () => body(row));
}

/** Runs `body` with the lock held, and releases it whatever happens. */
async function holding<T>(db: Database, name: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    await db.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, name]).catch(() => undefined);
  }
}

async function acquire(
  db: Database,
  name: string,
  waitMs: number,
  read: string | undefined,
  onWait?: (holder: string | undefined) => void,
): Promise<Record<string, unknown> | undefined> {
  // Usually free: one round trip. Otherwise wait, bounded by lock_timeout.
  if (read) {
    const row = await tryLockAndRead(db, name, read);
    if (row?.rds_migrate_locked) return row;
  } else {
    const free = await db.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
      [LOCK_CLASS, name],
    );
    if (free.rows[0]?.locked) return undefined;
  }
  onWait?.(await describeHolder(db, name));
  const started = Date.now();
  await db.query(`SET lock_timeout = '${Math.max(1, Math.floor(waitMs))}ms'`);
  try {
    await db.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS, name]);
  } catch (error) {
    if ((error as { code?: string }).code !== '55P03') throw error;
    await db.query('RESET lock_timeout').catch(() => undefined);
    throw new LockTimeoutError(Date.now() - started, await describeHolder(db, name));
  }
  await db.query('RESET lock_timeout');
  return read ? (await db.query(`SELECT ${read}`)).rows[0] : undefined;
}

/**
 * The lock and a read in one round trip. The lock is taken in a transaction of its own, so the
 * read starts a new one after it: its snapshot and its catalog lookups (to_regclass) see all that
 * a runner that held the lock committed. Only the last statement's row comes back, so the first
 * leaves whether the lock was free in a setting the read returns.
 */
async function tryLockAndRead(
  db: Database,
  name: string,
  read: string,
): Promise<Record<string, unknown> | undefined> {
  const result = await db
    .query(
      `BEGIN;
SELECT set_config('rds_migrate.locked', pg_try_advisory_lock(${LOCK_CLASS}, hashtext(${escapeLiteral(name)}))::text, false);
COMMIT;
SELECT current_setting('rds_migrate.locked') = 'true' AS rds_migrate_locked, ${read}`,
    )
    .catch(async (error: unknown) => {
      // The lock may be held even though the read failed: never keep it past this call.
      await db
        .query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, name])
        .catch(() => undefined);
      throw error;
    });
  return result.rows[0];
}

async function describeHolder(db: Database, name: string): Promise<string | undefined> {
  const holder = await db
    .query<{ pid: number; application_name: string; usename: string | null; backend_start: Date | null }>(
      `SELECT a.pid, a.application_name, a.usename, a.backend_start
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objsubid = 2
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND l.objid = (hashtext($2)::bigint & 4294967295)::text::oid
       LIMIT 1`,
      [LOCK_CLASS, name],
    )
    .catch(() => undefined);
  const row = holder?.rows[0];
  if (!row) return undefined;
  const who = row.application_name ? `${row.application_name}, ` : '';
  // Another role's session shows only its pid, role and application without pg_read_all_stats.
  if (!row.backend_start) {
    return `${who}backend pid ${row.pid} of role ${row.usename ?? 'unknown'}; more of it is hidden from this role, which lacks pg_read_all_stats`;
  }
  return `${who}backend pid ${row.pid}, connected since ${row.backend_start.toISOString()}`;
}
