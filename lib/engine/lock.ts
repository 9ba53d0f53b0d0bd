/**
 * The session advisory lock that serialises runners on one database: a second runner waits up
 * to a bound, then reports who holds the lock. The lock lives as long as the session, so a
 * runner that dies releases it with its connection.
 */
import type { Database } from './database.ts';
import { LockTimeoutError } from './errors.ts';

/** First key of the two-key advisory lock: "RDM", so our locks are easy to find in pg_locks. */
const LOCK_CLASS = 0x52444d;

export const DEFAULT_LOCK_WAIT_MS = 60_000;

export async function withLock<T>(
  db: Database,
  name: string,
  waitMs: number,
  body: () => Promise<T>,
): Promise<T> {
  await acquire(db, name, waitMs);
  try {
    return await body();
  } finally {
    await db.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, name]).catch(() => undefined);
  }
}

async function acquire(db: Database, name: string, waitMs: number): Promise<void> {
  // Usually free: one round trip. Otherwise wait, bounded by lock_timeout.
  const free = await db.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
    [LOCK_CLASS, name],
  );
  if (free.rows[0]?.locked) return;
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
}

async function describeHolder(db: Database, name: string): Promise<string | undefined> {
  const holder = await db
    .query<{ pid: number; application_name: string; backend_start: Date }>(
      `SELECT a.pid, a.application_name, a.backend_start
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
  return `${who}backend pid ${row.pid}, connected since ${row.backend_start.toISOString()}`;
}
