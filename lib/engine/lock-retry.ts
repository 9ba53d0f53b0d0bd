/**
 * A lock timeout is retried, not fatal. Every migration runs with `lock_timeout`, which protects
 * traffic: a migration never queues behind a long query while blocking everyone after it. One
 * busy moment then fails the statement with `lock_not_available` (55P03). The run rolls back
 * what that attempt did (the unit's transaction, or the one statement outside a transaction),
 * waits with jittered exponential backoff, and tries again, logging who held the lock.
 */
import type { Database } from './database.ts';

/** SQLSTATE of "canceling statement due to lock timeout". */
const LOCK_NOT_AVAILABLE = '55P03';

/** Retries after the first attempt, unless the run or the migration says otherwise. */
export const DEFAULT_LOCK_RETRIES = 4;

const BASE_WAIT_MS = 1000;
const MAX_WAIT_MS = 30_000;

/** The wait before retry number `retry` (1-based): full jitter over 1 s doubling, at most 30 s. */
export function lockRetryWaitMs(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_WAIT_MS, BASE_WAIT_MS * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function isLockTimeout(error: unknown): boolean {
  if (error instanceof LockRetriesExhausted) return isLockTimeout(error.postgresError);
  const candidate = error as { code?: string; postgres?: { code?: string } };
  return candidate?.code === LOCK_NOT_AVAILABLE || candidate?.postgres?.code === LOCK_NOT_AVAILABLE;
}

/**
 * A step that kept timing out on a lock after the retries it was allowed: PostgreSQL's own error
 * (its code and fields are the step's failure), and the advice that names who held the lock.
 */
export class LockRetriesExhausted extends Error {
  override readonly name = 'LockRetriesExhausted';
  constructor(
    readonly postgresError: unknown,
    readonly advice: string,
  ) {
    super(postgresError instanceof Error ? postgresError.message : String(postgresError));
  }
}

/** A session that held a lock the migration needed, as pg_stat_activity shows it. */
interface LockHolder {
  readonly pid: number;
  readonly relation: string;
  readonly mode: string;
  readonly applicationName: string;
  /** Its role: what every session sees of another role's, with its pid and application. */
  readonly role: string;
  readonly state: string;
  /** The first line of its current or last query, as the server shows it: never parameter values. */
  readonly query: string;
  /** Its state and query are hidden: another role's session, and this role lacks pg_read_all_stats. */
  readonly hidden: boolean;
}

/**
 * Sessions other than this one holding locks on the relations `sql` names: who the migration
 * waited for. Read right after the timeout, so a holder that just let go is not seen.
 */
export async function lockHolders(db: Database, sql: string): Promise<LockHolder[]> {
  const relations = await relationsOf(sql);
  if (relations.length === 0) return [];
  const result = await db.query<{
    pid: number;
    relation: string;
    mode: string;
    application_name: string | null;
    usename: string | null;
    state: string | null;
    query: string | null;
  }>(
    `SELECT l.pid, l.relation::regclass::text AS relation, l.mode, a.application_name, a.usename, a.state,
            split_part(a.query, E'\\n', 1) AS query
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.granted AND l.pid <> pg_backend_pid() AND l.locktype = 'relation'
       AND l.relation = ANY (SELECT to_regclass(name) FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL)
     ORDER BY l.pid, l.relation::regclass::text`,
    [relations],
  );
  return result.rows.map((row) => ({
    pid: row.pid,
    relation: row.relation,
    mode: row.mode,
    applicationName: row.application_name ?? '',
    role: row.usename ?? '',
    state: row.state ?? '',
    query: (row.query ?? '').slice(0, 120),
    hidden: row.state === null && row.query === '<insufficient privilege>',
  }));
}

/** The hint of a failure that used up its lock retries: who held the lock, what to do. */
export function retriesExhaustedAdvice(attempts: number, holders: string): string {
  return (
    `it timed out waiting for a lock ${attempts} times (lock_timeout each time, with backoff between); ` +
    `${holders}. Find what holds it and end it (pg_terminate_backend) or wait for a quieter moment, then ` +
    'run again; or allow more retries (--lock-retries, the migration header lock_retries: N).'
  );
}

/** `pid 1234 (app 'api', idle in transaction: SELECT * FROM accounts) holds AccessShareLock on accounts`. */
export function describeHolders(holders: readonly LockHolder[]): string {
  if (holders.length === 0) return 'no session holds a lock on its tables any more (it let go just after)';
  return holders
    .slice(0, 3)
    .map(
      (holder) =>
        `pid ${holder.pid} (${holder.hidden ? hiddenFrom(holder) : `app '${holder.applicationName}', ${holder.state}: ${holder.query}`}) holds ${holder.mode} on ${holder.relation}`,
    )
    .join('; ')
    .concat(holders.length > 3 ? `; and ${holders.length - 3} more` : '');
}

/** What every role sees of another role's session, and what it would take to see more, or to end it. */
function hiddenFrom(holder: LockHolder): string {
  return (
    `role ${holder.role}, app '${holder.applicationName}'; its state and query are hidden from this role, ` +
    `which lacks pg_read_all_stats, and ending it takes pg_signal_backend or membership in ${holder.role}`
  );
}

/** The relations a statement names, schema-qualified where it says so, from the parse tree. */
async function relationsOf(sql: string): Promise<string[]> {
  const { parse } = await import('libpg-query');
  let tree: unknown;
  try {
    tree = await parse(sql);
  } catch {
    return [];
  }
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (!node || typeof node !== 'object') return;
    // A RangeVar, wrapped as a node or inline as a statement's `relation`: it has a relname.
    const record = node as Record<string, unknown>;
    if (typeof record.relname === 'string') {
      names.add(
        typeof record.schemaname === 'string' ? `${record.schemaname}.${record.relname}` : record.relname,
      );
    }
    for (const value of Object.values(record)) visit(value);
  };
  visit(tree);
  return [...names];
}
