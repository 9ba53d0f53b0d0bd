/**
 * How one step of a plan runs, apart from how it is recorded: its timeouts, then its SQL (one
 * round trip inside the plan's transaction, statement by statement outside it) or its code with a
 * migration context. The history writes around it belong to the plan run (plan-run.ts).
 */
import { createContext } from './context.ts';
import type { Database } from './database.ts';
import { ConnectionLostError, describeError, isConnectionLoss, RdsMigrateError } from './errors.ts';
import type { History } from './history.ts';
import type { MigrationLogger, MigrationTimeouts } from './migration.ts';
import type { PlanStep } from './plan.ts';
import { splitStatements } from './statements.ts';
import { sqlStepInTransaction, timeoutsSql } from './step-sql.ts';
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
}

/** Runs the work of `step` (its up or down) under its timeouts. */
export async function runStepWork(
  context: StepContext,
  step: PlanStep,
  inTransaction: boolean,
): Promise<void> {
  const migration = step.migration;
  const work = step.direction === 'up' ? migration.up : migration.down;
  if (!work) throw new RdsMigrateError(`migration ${step.revision} has no down step`);
  const timeouts = timeoutSettings(context, migration.timeouts, inTransaction);
  const during = `${step.direction} ${step.revision}`;

  if (work.kind === 'sql' && inTransaction) {
    await sendQuery(context.db, sqlStepInTransaction(timeouts, work.sql), during);
    return;
  }
  await sendQuery(context.db, timeouts, 'SET timeouts');
  if (work.kind === 'sql') {
    for (const statement of await splitStatements(work.sql)) {
      await sendQuery(context.db, statement.text, during);
    }
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
    }),
  );
}

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
