/**
 * Who holds up a change to a background run: the sessions, other than this one, that hold row
 * locks or writes on its tables (a run's row, its checkpoints), as pg_stat_activity shows them.
 * Read right after a lock timeout, so the session that made it wait is among them. A session's
 * query is shown normalized (constants as $1, $2, ..., as pg_stat_statements shows them): a
 * message naming a blocker never carries row data.
 */
import type { Database } from './database.ts';
import { RdsMigrateError } from './errors.ts';
import { printable } from './printable.ts';

/** A session that held a lock a change to a background run waited for. */
export interface BlockingSession {
  readonly pid: number;
  readonly applicationName: string;
  /** active, idle in transaction, ... */
  readonly state: string;
  /** Seconds it has been in that state. */
  readonly seconds: number;
  /** Its current or last statement, normalized, at most 120 characters. */
  readonly query: string;
}

/** A change to a background run that a session's lock kept from taking effect; nothing changed. */
export class BackgroundRunBlocked extends RdsMigrateError {
  override readonly name = 'BackgroundRunBlocked';
  constructor(
    message: string,
    readonly blockers: readonly BlockingSession[],
    /** What to do: a step that fails on this says it instead of its own advice (plan-run.ts). */
    readonly advice: string,
  ) {
    super(`${message} ${advice.charAt(0).toUpperCase()}${advice.slice(1)}`);
  }
}

/** Rows of one table, as a literal SQL condition (the caller escapes the values in it). */
export interface LockedRows {
  readonly table: string;
  readonly where: string;
}

/**
 * The sessions holding `rows`: found by each row's locker, its xmax, among the running
 * transactions. Several sessions sharing a row lock leave a multixact there instead; then the
 * sessions holding more than a read lock on the rows' tables (row locks are taken under
 * RowShareLock, writes under RowExclusiveLock) stand in, but not those waiting for a lock
 * themselves (a walker queued behind the revert). Idle ones (stuck) first.
 */
export async function blockingSessions(
  db: Database,
  rows: readonly LockedRows[],
): Promise<BlockingSession[]> {
  const lockers = rows.map((row) => `SELECT xmax FROM ${row.table} WHERE ${row.where}`).join(' UNION ');
  const byRow = await sessionsWhere(db, `a.backend_xid IN (${lockers})`, []);
  if (byRow.length > 0) return byRow;
  return sessionsWhere(
    db,
    `a.wait_event_type IS DISTINCT FROM 'Lock' AND a.pid IN (
       SELECT l.pid FROM pg_locks l
       WHERE l.granted AND l.locktype = 'relation' AND l.mode <> 'AccessShareLock'
         AND l.relation = ANY (SELECT to_regclass(name) FROM unnest($1::text[]) AS name))`,
    [[...new Set(rows.map((row) => row.table))]],
  );
}

async function sessionsWhere(db: Database, condition: string, values: unknown[]): Promise<BlockingSession[]> {
  const found = await db.query<{
    pid: number;
    application_name: string | null;
    state: string | null;
    seconds: string | null;
    query: string | null;
  }>(
    `SELECT a.pid, a.application_name, a.state, extract(epoch FROM clock_timestamp() - a.state_change)::int AS seconds,
            left(a.query, 1000) AS query
     FROM pg_stat_activity a
     WHERE a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL AND ${condition}
     ORDER BY a.state = 'active', a.xact_start, a.pid`,
    values,
  );
  const sessions: BlockingSession[] = [];
  for (const row of found.rows) {
    sessions.push({
      pid: row.pid,
      applicationName: printable(row.application_name ?? ''),
      state: row.state ?? 'unknown',
      seconds: Number(row.seconds ?? 0),
      query: printable(await withoutConstants(row.query ?? '')).slice(0, 120),
    });
  }
  return sessions;
}

/** `pid 4242 (application 'psql', idle in transaction for 12 s: SELECT ... WHERE revision = $1 FOR SHARE)`. */
export function describeBlockers(sessions: readonly BlockingSession[]): string {
  if (sessions.length === 0) return 'no session holds it any more (the one that did let go just after)';
  return sessions
    .slice(0, 3)
    .map(
      (session) =>
        `pid ${session.pid} (application '${session.applicationName}', ${session.state} for ${session.seconds} s: ${session.query})`,
    )
    .join('; ')
    .concat(sessions.length > 3 ? `; and ${sessions.length - 3} more` : '');
}

/**
 * What to do about `sessions`: end them, or let them finish; then `again`. Sessions running a
 * statement (a batch in flight) are let be when others sit idle in a transaction: those hold on.
 */
export function blockersHint(sessions: readonly BlockingSession[], again: string): string {
  if (sessions.length === 0) return `nothing holds it now: ${again}`;
  const idle = sessions.filter((session) => session.state !== 'active');
  const named = idle.length > 0 ? idle : sessions;
  const terminate = named.map((session) => `pg_terminate_backend(${session.pid})`).join(', ');
  const one = named.length === 1;
  return `end ${one ? `session ${named[0]?.pid}` : 'those sessions'} (SELECT ${terminate}) or let ${one ? 'it' : 'them'} finish, then ${again}`;
}

/** `query` with its constants as $n; cut before its first constant when it does not parse (cut short). */
async function withoutConstants(query: string): Promise<string> {
  const oneLine = query.replace(/\s+/g, ' ').trim();
  try {
    const { normalize } = await import('libpg-query');
    return await normalize(oneLine);
  } catch {
    const [beforeQuote = ''] = oneLine.split(/['$]/, 1);
    const cut = beforeQuote.replace(/\b\d+(?:\.\d+)?\b/g, '?');
    return cut.length < oneLine.length ? `${cut}...` : cut;
  }
}
