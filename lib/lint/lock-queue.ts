/**
 * What a brief lock on a possibly busy relation costs, said once for the rules that report one
 * (rules/drop-index-non-concurrently.ts, lock-table.ts, truncate.ts,
 * detach-partition-non-concurrently.ts, drop-schema-cascade.ts): while the statement waits for
 * the queries already running there, every later query that conflicts with it queues behind it
 * (the lock queue), even though the statement itself is instant once it has the lock. The
 * runner's lock_timeout and retries bound each stall without removing it.
 */
import { DEFAULT_LOCK_RETRIES } from '../engine/lock-retry.ts';
import { DEFAULT_TIMEOUTS } from '../engine/timeouts.ts';
import type { TrafficBlocked } from './model/lock-modes.ts';

/**
 * `every query of table "users" queues behind it ...`: the queue, and how the runner bounds it.
 * `what` names the relations, e.g. `table "users"`.
 */
export function lockQueue(what: string, blocked: Exclude<TrafficBlocked, 'nothing'>): string {
  const queued = blocked === 'reads and writes' ? 'every query of' : 'every write to';
  return (
    `while it waits for the queries already running on ${what}, ${queued} ${what} queues behind it; ` +
    `the runner gives up after lock_timeout (${DEFAULT_TIMEOUTS.lockTimeout} unless the migration sets its own) ` +
    `and tries ${DEFAULT_LOCK_RETRIES} more times, so each stall is that long at most, but a long query ` +
    'there makes every try stall traffic, then fails the deploy'
  );
}

/** The recipe's last step for a brief lock that is known to be harmless (a quiet table, a maintenance window). */
export const quietTableStep = (ruleId: string): string =>
  `If nothing runs long queries on it (a quiet table, a maintenance window), mark it \`-- rds-migrate:allow ${ruleId} <reason>\`.`;
