/**
 * How one step of a plan runs, apart from how it is recorded: its timeouts, then its SQL (one
 * round trip inside the plan's transaction, statement by statement outside it) or its code with a
 * migration context. The history writes around it belong to the plan run (plan-run.ts).
 */
import { batchPlanOf } from './background-plan.ts';
import { BackgroundRuns } from './background-runs.ts';
import { createContext, DeadlineReached } from './context.ts';
import { counted } from './counted.ts';
import type { Database } from './database.ts';
import { ConnectionLostError, describeError, isConnectionLoss, RdsMigrateError } from './errors.ts';
import type { History } from './history.ts';
import {
  describeHolders,
  isLockTimeout,
  LockRetriesExhausted,
  lockHolders,
  lockRetryWaitMs,
  retriesExhaustedAdvice,
} from './lock-retry.ts';
import type { MigrationLogger, MigrationTimeouts, Revision } from './migration.ts';
import type { PlanStep } from './plan.ts';
import { type Statement, splitStatements } from './statements.ts';
import { mustRunAlone, sqlStepInTransaction, statementWithProgressSql, timeoutsSql } from './step-sql.ts';
import { capAtDeadline } from './timeouts.ts';

export interface StepContext {
  readonly db: Database;
  readonly history: History;
  readonly args: Readonly<Record<string, string>>;
  readonly log: MigrationLogger;
  /** Timeouts of migrations that set none of their own. */
  readonly timeouts: Required<MigrationTimeouts>;
  /** Epoch ms no statement may run past. */
  readonly deadline?: number;
  /** Tries after a lock timeout (lock-retry.ts). */
  readonly lockRetries: number;
  /**
   * The revisions that have a background run recorded, read once under the run's lock: a down
   * step of any other has no run to mark reverted. @default unknown: every down step looks
   */
  readonly backgroundRevisions?: ReadonlySet<Revision>;
  /** How background migrations are applied: which run in-process, and who records the others. */
  readonly background?: {
    readonly inline: ReadonlySet<Revision>;
    readonly actor: string;
    readonly requestId?: string;
  };
}

/** The SQL of a step's work, when it is SQL: where a lock's holders are looked up from. */
export function sqlOf(step: PlanStep): string {
  const work = step.direction === 'up' ? step.migration.up : step.migration.down;
  return work?.kind === 'sql' ? work.sql : '';
}

/**
 * Waits before trying again after a lock timeout, logging who held the lock; a wait that would
 * pass the deadline stops the run instead (the next run tries again).
 */
export async function waitForLock(
  context: StepContext,
  during: string,
  retry: number,
  holders: string,
): Promise<void> {
  const waitMs = lockRetryWaitMs(retry);
  if (context.deadline !== undefined && Date.now() + waitMs >= context.deadline) {
    throw new DeadlineReached(
      `${during} timed out waiting for a lock, and the deadline comes before a retry`,
    );
  }
  context.log.warn('lock timeout: waiting to try again', {
    during,
    retry,
    of: context.lockRetries,
    waitMs,
    heldBy: holders,
  });
  await new Promise((done) => setTimeout(done, waitMs));
}

/**
 * Progress of a SQL migration outside a transaction: statements already done (an interrupted run
 * did them) are skipped, and each one's completion is recorded.
 */
interface StatementProgress {
  readonly done: number;
  /** SQL that records `done` statements as completed. */
  record(done: number): string;
}

/** Runs the work of `step` (its up or down) under its timeouts. */
export async function runStepWork(
  context: StepContext,
  step: PlanStep,
  inTransaction: boolean,
  progress?: StatementProgress,
): Promise<void> {
  const migration = step.migration;
  const work = step.direction === 'up' ? migration.up : migration.down;
  if (!work) throw new RdsMigrateError(`migration ${step.revision} has no down step`);
  const timeouts = timeoutSettings(context, migration.timeouts, inTransaction);
  const during = `${step.direction} ${step.revision}`;
  // A down step of any migration (one known only from the history may have been a background
  // one) first marks its background run reverted, if it has one, once its batches in flight end.
  if (step.direction === 'down' && (context.backgroundRevisions?.has(step.revision) ?? true)) {
    const lockTimeout = migration.timeouts.lockTimeout ?? context.timeouts.lockTimeout;
    await new BackgroundRuns(context.history).markReverted(context.db, step.revision, {
      inTransaction,
      lockTimeout,
    });
  }
  const inline = step.direction === 'up' ? await backgroundUp(context, step, during) : false;
  if (migration.background && step.direction === 'up' && !inline) return;

  if (work.kind === 'sql' && inTransaction) {
    await sendQuery(context.db, sqlStepInTransaction(timeouts, work.sql), during);
    return;
  }
  await sendQuery(context.db, timeouts, 'SET timeouts');
  if (work.kind === 'sql') {
    const lockRetries = migration.lockRetries ?? context.lockRetries;
    await runStatements({ ...context, lockRetries }, await splitStatements(work.sql), during, progress);
    return;
  }
  await work.run(
    createContext({
      db: context.db,
      revision: step.revision,
      args: context.args,
      log: context.log,
      inTransaction,
      checkpointsTable: `${context.history.schema}.checkpoints`,
      deadline: context.deadline,
      statementTimeout: migration.timeouts.statementTimeout ?? context.timeouts.statementTimeout,
    }),
  );
  if (inline) {
    const runs = new BackgroundRuns(context.history);
    const plan = await batchPlanOf(migration, context.args);
    await sendQuery(
      context.db,
      runs.recordSql(step.revision, plan, backgroundWho(context), 'completed'),
      during,
    );
  }
}

/**
 * A background migration's up step: recorded as pending for a run after the plan (the step is
 * done), unless the plan needs it complete, when it runs here, in-process (returns true).
 */
async function backgroundUp(context: StepContext, step: PlanStep, during: string): Promise<boolean> {
  const runs = new BackgroundRuns(context.history);
  if (!step.migration.background) return false;
  if (context.background?.inline.has(step.revision)) {
    context.log.info(
      'running a background migration in-process: a later migration of this plan needs it complete',
      {
        revision: step.revision,
      },
    );
    return true;
  }
  const plan = await batchPlanOf(step.migration, context.args);
  await sendQuery(context.db, runs.recordSql(step.revision, plan, backgroundWho(context)), during);
  context.log.info('background migration applied; its run starts after the plan', {
    revision: step.revision,
    table: plan.table,
    key: plan.key,
  });
  return false;
}

function backgroundWho(context: StepContext): { actor: string; requestId?: string } {
  return {
    actor: context.background?.actor ?? 'rds-migrate',
    ...(context.background?.requestId ? { requestId: context.background.requestId } : {}),
  };
}

/**
 * The statements of a SQL migration that runs outside the plan's transaction, one at a time.
 * Each commits together with the record of its completion (its own short transaction), so an
 * interrupted run resumes after the last one done rather than running it twice; a statement that
 * PostgreSQL refuses inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, ...) runs
 * alone, then its completion is recorded. Between statements the deadline is honoured.
 */
async function runStatements(
  context: StepContext,
  statements: readonly Statement[],
  during: string,
  progress: StatementProgress | undefined,
): Promise<void> {
  for (const [index, statement] of statements.entries()) {
    if (progress && index < progress.done) continue;
    if (index > 0 && context.deadline !== undefined && Date.now() >= context.deadline) {
      throw new DeadlineReached(
        `${during} stopped at the deadline after ${index} of ${counted(statements.length, 'statement')}`,
      );
    }
    if (!progress) {
      await sendQuery(context.db, statement.text, during);
      continue;
    }
    await retryingLockTimeouts(context, statement.text, during, () =>
      runStatement(context, statement.text, progress.record(index + 1), during),
    );
  }
}

/** One statement with the record that it is done: together when PostgreSQL allows it in a transaction. */
async function runStatement(
  context: StepContext,
  text: string,
  recorded: string,
  during: string,
): Promise<void> {
  if (!mustRunAlone(text)) {
    try {
      await sendQuery(context.db, statementWithProgressSql(text, recorded), during);
      return;
    } catch (error) {
      await context.db.query('ROLLBACK').catch(() => undefined);
      if (!RUN_ALONE_CODES.has((error as { code?: string }).code ?? '')) throw error;
    }
  }
  await sendQuery(context.db, text, during);
  await sendQuery(context.db, recorded, `record ${during}`);
}

/** `attempt()`, tried again after a lock timeout (the statement did not happen) with backoff. */
async function retryingLockTimeouts(
  context: StepContext,
  text: string,
  during: string,
  attempt: () => Promise<void>,
): Promise<void> {
  for (let retry = 1; ; retry++) {
    try {
      await attempt();
      return;
    } catch (error) {
      if (!isLockTimeout(error) || context.lockRetries === 0) throw error;
      const holders = describeHolders(await lockHolders(context.db, text));
      if (retry > context.lockRetries) {
        throw new LockRetriesExhausted(error, retriesExhaustedAdvice(retry, holders));
      }
      await waitForLock(context, during, retry, holders);
    }
  }
}

/**
 * What PostgreSQL says of a statement that cannot be in a transaction block: 25001 "cannot run
 * inside a transaction block", 2D000 "invalid transaction termination" (a DO block or procedure
 * that commits its own batches). Rolled back, nothing of it stayed: it runs alone.
 */
const RUN_ALONE_CODES = new Set(['25001', '2D000']);

/** `SET [LOCAL]` of the step's lock and statement timeouts, the latter capped at the deadline. */
function timeoutSettings(context: StepContext, own: MigrationTimeouts, local: boolean): string {
  const lock = own.lockTimeout ?? context.timeouts.lockTimeout;
  const statement = capAtDeadline(
    own.statementTimeout ?? context.timeouts.statementTimeout,
    context.deadline,
  );
  return timeoutsSql(local, lock, statement);
}

/** Sends `text`; a lost session becomes a ConnectionLostError that says during what. */
export async function sendQuery(db: Database, text: string, during: string): Promise<void> {
  try {
    await db.query(text);
  } catch (error) {
    if (isConnectionLoss(error)) throw new ConnectionLostError(during, describeError(error));
    throw error;
  }
}
