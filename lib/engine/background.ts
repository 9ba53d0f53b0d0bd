/**
 * The three steps of a background run, the same wherever they run (a Step Functions task of
 * the deployed function, or `up` with worker connections): split the key into ranges, walk one
 * range (until it is done or the deadline comes), and mark the run complete once every range
 * is. Each is safe to repeat: the split is kept once made, a range resumes at its checkpoint,
 * and completion is recorded exactly once.
 */
import { batchPlanOf } from './background-plan.ts';
import { BackgroundRuns, type CompleteOutcome, rangeCheckpointName } from './background-runs.ts';
import type { Database } from './database.ts';
import { RdsMigrateError } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import type { History } from './history.ts';
import type { MigrationLogger, MigrationTimeouts, Revision } from './migration.ts';
import { walkRange } from './range-walk.ts';
import { escapeLiteral } from './sql-quote.ts';
import { timeoutsSql } from './step-sql.ts';
import { BATCH_GRACE_MS, capAtDeadline, DEFAULT_TIMEOUTS } from './timeouts.ts';

interface BackgroundContext {
  readonly db: Database;
  readonly history: History;
  /** The migrations (the bundle): the walk's batch code comes from its migration. */
  readonly graph: RevisionGraph;
  readonly args: Readonly<Record<string, string>>;
  readonly log: MigrationLogger;
  /** Epoch ms by which a walk stops between batches. */
  readonly deadline?: number;
  /**
   * How long a walker's session may sit idle inside a batch's transaction before the server ends
   * it, rolling the batch back (a walker that died or hangs mid-batch must not hold its locks).
   * @default WALKER_IDLE_IN_TRANSACTION_TIMEOUT
   */
  readonly idleInTransactionTimeout?: string;
}

/**
 * A batch is idle in its transaction only while the migration's own code runs between its
 * statements: far less than this. A walker stuck longer (a Lambda killed mid-batch) is cut off.
 */
const WALKER_IDLE_IN_TRANSACTION_TIMEOUT = '30s';

/**
 * TCP keepalives the server sends a walker's session (seconds idle, between probes, probes): a
 * walker whose host went away without closing its connection is noticed in about a minute.
 */
const WALKER_KEEPALIVES = { idle: 30, interval: 10, count: 3 } as const;

/** A background run that cannot go on, with what to do. */
class BackgroundRunError extends RdsMigrateError {
  override readonly name = 'BackgroundRunError';
}

/** How many ranges a run is split into, unless told. */
export const DEFAULT_RANGES = 8;
/** How many ranges are walked at once, unless told. */
export const DEFAULT_CONCURRENCY = 4;

/** Splits the run's key into `count` ranges (once); the indexes of the ranges still to walk. */
export async function splitRun(
  context: BackgroundContext,
  revision: Revision,
  count: number,
): Promise<number[]> {
  const runs = new BackgroundRuns(context.history);
  const run = await runs.find(context.db, revision);
  if (!run) {
    throw new BackgroundRunError(
      `no background run of ${revision} is recorded; it starts when the migration is applied (a deploy, or rds-migrate up)`,
    );
  }
  const pending = await runs.split(context.db, run, count);
  context.log.info('background ranges', {
    revision,
    table: run.table,
    key: run.key,
    pending: pending.length,
  });
  return pending;
}

export interface RangeOutcome {
  readonly revision: Revision;
  readonly range: number;
  /** True when the range needs no more calls: walked to its end, or stopped for good. */
  readonly done: boolean;
  readonly rows: number;
  readonly batches: number;
  /** Why the walk stopped without finishing (paused, cancelled, reverted, another execution). */
  readonly stopped?: string;
}

/** Walks range `index` for `execution` until it is done, the deadline comes, or the run stops. */
export async function runRange(
  context: BackgroundContext,
  revision: Revision,
  index: number,
  execution: string,
): Promise<RangeOutcome> {
  const runs = new BackgroundRuns(context.history);
  const run = await runs.find(context.db, revision);
  if (!run?.ranges) {
    throw new BackgroundRunError(`background run of ${revision} has no key ranges yet: split it first`);
  }
  const range = run.ranges[index];
  if (!range) {
    throw new BackgroundRunError(
      `background run of ${revision} has ${run.ranges.length} ranges, not a range ${index}`,
    );
  }
  const migration = migrationOf(context.graph, revision);
  const plan = await batchPlanOf(migration, context.args);
  await context.db.query(
    `${sessionTimeouts(migration.timeouts, context.deadline)} ${walkerSessionSql(context.idleInTransactionTimeout)}`,
  );
  const outcome = await walkRange({
    db: context.db,
    runs,
    revision,
    plan,
    range,
    checkpoint: rangeCheckpointName(run.table, run.key, index, run.ranges.length),
    execution,
    deadline: context.deadline,
    log: context.log,
  });
  const result: RangeOutcome = {
    revision,
    range: index,
    done: outcome.status !== 'deadline',
    rows: outcome.rows,
    batches: outcome.batches,
    ...(outcome.status === 'stopped' ? { stopped: outcome.reason } : {}),
  };
  context.log.info('background range', { ...result, status: outcome.status });
  return result;
}

/** Records the run complete if every range is done: exactly once. */
export async function completeRun(
  context: BackgroundContext,
  revision: Revision,
  by: string,
  execution?: string,
): Promise<CompleteOutcome> {
  const outcome = await new BackgroundRuns(context.history).complete(context.db, revision, by, execution);
  context.log.info('background run', { revision, ...outcome });
  return outcome;
}

function migrationOf(graph: RevisionGraph, revision: Revision) {
  if (!graph.has(revision)) {
    throw new BackgroundRunError(
      `background migration ${revision} is not among these migrations; run it with the code that has it`,
    );
  }
  const migration = graph.get(revision);
  if (!migration.background) {
    throw new BackgroundRunError(`migration ${revision} (${migration.source}) is not a background migration`);
  }
  return migration;
}

/** What keeps a stuck walker from holding its batch's locks: the idle timeout, TCP keepalives. */
function walkerSessionSql(idleInTransaction = WALKER_IDLE_IN_TRANSACTION_TIMEOUT): string {
  return (
    `SET idle_in_transaction_session_timeout = ${escapeLiteral(idleInTransaction)}; ` +
    `SET tcp_keepalives_idle = ${WALKER_KEEPALIVES.idle}; SET tcp_keepalives_interval = ${WALKER_KEEPALIVES.interval}; ` +
    `SET tcp_keepalives_count = ${WALKER_KEEPALIVES.count};`
  );
}

/** The walk's lock and statement timeouts: the migration's own, else the defaults; capped near the deadline. */
function sessionTimeouts(own: MigrationTimeouts, deadline: number | undefined): string {
  return timeoutsSql(
    false,
    own.lockTimeout ?? DEFAULT_TIMEOUTS.lockTimeout,
    capAtDeadline(
      own.statementTimeout ?? DEFAULT_TIMEOUTS.statementTimeout,
      deadline === undefined ? undefined : deadline + BATCH_GRACE_MS,
    ),
  );
}
