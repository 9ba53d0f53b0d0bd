/**
 * The timeouts every migration runs under, so it never queues long behind traffic while holding
 * up everyone else, nor runs past a Lambda's deadline.
 */
import type { MigrationTimeouts } from './migration.ts';

/** Protects a live database: a migration never queues long behind traffic, nor runs away. */
export const DEFAULT_TIMEOUTS: Required<MigrationTimeouts> = { lockTimeout: '5s', statementTimeout: '5min' };

/**
 * What a batch that started before the deadline may still take past it: a Lambda handler keeps
 * 20 s of its invocation after the deadline, so the batch ends (or the server cancels it) in time.
 * A batch commits on its own, so letting it finish loses nothing; cutting it at the deadline would
 * fail a run that was only unlucky in when its last batch began.
 */
export const BATCH_GRACE_MS = 15_000;

/**
 * A statement_timeout no later than the deadline, so the statement is cancelled cleanly by the
 * server rather than the process being killed mid-statement.
 */
export function capAtDeadline(timeout: string, deadline: number | undefined): string {
  if (deadline === undefined) return timeout;
  const left = Math.max(1, deadline - Date.now());
  const configured = intervalMs(timeout);
  return configured !== undefined && configured > 0 && configured <= left ? timeout : `${left}ms`;
}

const UNIT_MS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Milliseconds of a PostgreSQL time setting ('5s', '15min', '250'); undefined if unreadable. */
export function intervalMs(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1);
}
