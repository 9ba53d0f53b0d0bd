/**
 * Starting, stopping and steering background runs on Step Functions:
 * - a deploy starts the runs it applied, under execution names derived from the revision and
 *   the request, so a retried poll starts nothing twice;
 * - a revert (a stack rollback, a manual `down`) pauses every run it goes past and stops its
 *   execution before it runs, and the run is marked reverted with the down step; a revert that
 *   fails leaves the run paused, saying why and what to do;
 * - `pause` marks the run paused (batches in flight finish, no other starts; it waits for no
 *   walker) and stops its execution; the checkpoints stay;
 * - `resume` starts a new execution of a paused, failed or never started run, or of one whose
 *   execution is over though the run says running: it walks the same ranges from their checkpoints;
 * - `cancel` marks the run cancelled and stops its execution: the gate stays closed for good,
 *   and `down` reverts the migration.
 */
import {
  type BackgroundProgress,
  type BackgroundRun,
  BackgroundRuns,
  type BackgroundState,
} from '../lib/engine/background-runs.ts';
import type { Database } from '../lib/engine/database.ts';
import { isConnectionLoss, MigrationFailed, UsageError } from '../lib/engine/errors.ts';
import type { Revision } from '../lib/engine/migration.ts';
import { withoutRowData } from './failure.ts';
import type { Runtime } from './runtime.ts';
import { type ExecutionStatus, executionArnOf, executionName } from './step-functions.ts';

export type SteerAction = 'pause' | 'resume' | 'cancel';

export interface SteerResult {
  readonly action: SteerAction;
  readonly revision: Revision;
  /** The run's state afterwards. */
  readonly state: BackgroundState;
  /** The execution started (resume) or stopped (pause, cancel). */
  readonly execution?: string;
}

/** What a state may become by each action. */
const FROM: Readonly<Record<SteerAction, readonly BackgroundState[]>> = {
  pause: ['running'],
  resume: ['paused', 'failed', 'pending'],
  cancel: ['pending', 'running', 'paused', 'failed'],
};

/**
 * Starts the runs the deploy `requestId` applied; a run whose execution this request already
 * started (a retried poll) is started again under the same name, which Step Functions answers
 * with the same execution. Returns the revisions started.
 */
export async function startDeployRuns(
  runtime: Runtime,
  db: Database,
  requestId: string,
  args: Readonly<Record<string, string>>,
): Promise<Revision[]> {
  const runs = (await new BackgroundRuns(runtime.history).list(db)).filter(
    (run) => run.requestId === requestId,
  );
  return startRuns(runtime, db, runs, 'deploy', requestId, args);
}

/** Starts the runs of `revisions` that a manual run (`runId`) applied. */
export async function startInvokeRuns(
  runtime: Runtime,
  db: Database,
  revisions: readonly Revision[],
  runId: string,
  args: Readonly<Record<string, string>>,
): Promise<Revision[]> {
  const runs = (await new BackgroundRuns(runtime.history).list(db)).filter((run) =>
    revisions.includes(run.revision),
  );
  return startRuns(runtime, db, runs, 'invoke', runId, args);
}

async function startRuns(
  runtime: Runtime,
  db: Database,
  candidates: readonly BackgroundRun[],
  why: string,
  from: string,
  args: Readonly<Record<string, string>>,
): Promise<Revision[]> {
  const runs = new BackgroundRuns(runtime.history);
  const executions = runtime.executions;
  const started: Revision[] = [];
  for (const run of candidates) {
    if (!executions) {
      if (run.state === 'pending') warnNoStateMachine(runtime, run.revision);
      continue;
    }
    const name = executionName(run.revision, why, from);
    const arn = executionArnOf(executions.stateMachineArn, name);
    const ours = run.state === 'running' && run.execution === arn;
    if (!ours && !(run.state === 'pending' && (await runs.claim(db, run.revision, arn, ['pending']))))
      continue;
    await executions.start(name, { revision: run.revision, args });
    runtime.logger.info('background run started', { revision: run.revision, execution: arn });
    started.push(run.revision);
  }
  return started;
}

/**
 * Runs `revert`, a plan that reverts `revisions`, their background runs stopped first (see
 * stopRunsBeforeRevert). When it fails, a run it did not revert stays paused, with what happened
 * and what to do: never `running` with its execution stopped.
 */
export async function revertingRuns<T>(
  runtime: Runtime,
  db: Database,
  revisions: readonly Revision[],
  who: string,
  revert: () => Promise<T>,
): Promise<T> {
  await stopRunsBeforeRevert(runtime, db, revisions, who);
  try {
    return await revert();
  } catch (error) {
    await noteFailedRevert(runtime, db, revisions, who, error);
    throw error;
  }
}

/**
 * Stops the runs of `revisions` before they are reverted: a running run is paused first (no
 * walker waits for that, and each stops before its next batch), then its execution is stopped.
 * A pause that a session's lock keeps from taking effect fails here, naming the session, before
 * anything is stopped or reverted. The down step then marks the run reverted once the batches in
 * flight end.
 */
async function stopRunsBeforeRevert(
  runtime: Runtime,
  db: Database,
  revisions: readonly Revision[],
  who: string,
): Promise<void> {
  if (revisions.length === 0) return;
  const runs = new BackgroundRuns(runtime.history);
  for (const run of await runs.list(db)) {
    if (!revisions.includes(run.revision)) continue;
    if (run.state === 'running') {
      await runs.transition(db, run.revision, 'paused', ['running'], {
        lastError: `paused by ${who} to revert it`,
      });
    }
    if (isLive(run)) await stopExecution(runtime, run, `reverted by ${who}`);
  }
}

/** Writes on the runs a failed revert left applied that they are paused, why, and what to do. */
async function noteFailedRevert(
  runtime: Runtime,
  db: Database,
  revisions: readonly Revision[],
  who: string,
  error: unknown,
): Promise<void> {
  if (revisions.length === 0) return;
  const note =
    `the revert by ${who} failed: ${failureText(error)} The migration is still applied and its run is paused: ` +
    'once that is dealt with, revert again (a stack rollback: continue the rollback), or resume the run.';
  const runs = new BackgroundRuns(runtime.history);
  try {
    // The session may be gone with the failure: then on a new one.
    await runs.pauseUnreverted(db, revisions, note).catch((failed: unknown) => {
      if (!isConnectionLoss(failed)) throw failed;
      return runtime.withDatabase((fresh) => runs.pauseUnreverted(fresh, revisions, note));
    });
  } catch (failed) {
    runtime.logger.warn('could not record the failed revert on its background runs', {
      revisions,
      error: (failed as Error).message ?? String(failed),
    });
  }
}

/** A failure in a line for a run's record: no row data (the function's log has the whole error). */
function failureText(error: unknown): string {
  if (!(error instanceof MigrationFailed))
    return oneLine(error instanceof Error ? error.message : String(error));
  const code = error.postgres.code ? ` [${error.postgres.code}]` : '';
  const hint = error.hint ? ` ${error.hint}` : '';
  return oneLine(
    `${error.direction} ${error.revision}${code}: ${withoutRowData(error.postgres.message, error.postgres.code)}.${hint}`,
  );
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** pause, resume or cancel the run of `revision`. */
export async function steer(
  runtime: Runtime,
  action: SteerAction,
  revision: Revision,
  args: Readonly<Record<string, string>>,
  who: string,
): Promise<SteerResult> {
  return runtime.withDatabase(async (db) => {
    const runs = new BackgroundRuns(runtime.history);
    const run = await runs.find(db, revision);
    if (!run) {
      throw new UsageError(
        `no background run of ${revision} is recorded; {"action":"status"} lists them (the revision's full id)`,
      );
    }
    if (!FROM[action].includes(run.state) && !(action === 'resume' && (await executionDied(runtime, run)))) {
      throw new UsageError(
        `the background run of ${revision} is ${run.state}, so it cannot ${action}; ${action} works on a run that is ` +
          `${FROM[action].join(', ')}${run.state === 'cancelled' ? ' (a cancelled run is reverted with down, then applied again)' : ''}`,
      );
    }
    if (action === 'resume') return resume(runtime, db, runs, run, args);
    // The state first: walkers stop on it, before their next batch, even if the stop call fails.
    if (!(await runs.transition(db, revision, action === 'pause' ? 'paused' : 'cancelled', FROM[action]))) {
      throw new UsageError(
        `the background run of ${revision} changed meanwhile; ask for its status and try again`,
      );
    }
    if (isLive(run)) await stopExecution(runtime, run, `${action}d by ${who}`);
    runtime.logger.info(`background run ${action}d`, {
      revision,
      execution: run.execution,
      requestedBy: who,
    });
    return {
      action,
      revision,
      state: action === 'pause' ? 'paused' : 'cancelled',
      ...(run.execution ? { execution: run.execution } : {}),
    };
  });
}

async function resume(
  runtime: Runtime,
  db: Database,
  runs: BackgroundRuns,
  run: BackgroundRun,
  args: Readonly<Record<string, string>>,
): Promise<SteerResult> {
  const executions = runtime.executions;
  if (!executions) {
    throw new UsageError(
      'this function has no background state machine (BACKGROUND_STATE_MACHINE_ARN): deploy it with the ' +
        'DatabaseMigrations construct of rds-migrate 0.2 or later, or run rds-migrate up against the database',
    );
  }
  const name = executionName(
    run.revision,
    'resume',
    `${runtime.clock.now().toISOString()}:${run.execution ?? ''}`,
  );
  const arn = executionArnOf(executions.stateMachineArn, name);
  if (!(await runs.claim(db, run.revision, arn, [...FROM.resume, 'running']))) {
    throw new UsageError(
      `the background run of ${run.revision} changed meanwhile; ask for its status and try again`,
    );
  }
  await executions.start(name, { revision: run.revision, args });
  runtime.logger.info('background run resumed', { revision: run.revision, execution: arn });
  return { action: 'resume', revision: run.revision, state: 'running', execution: arn };
}

/** The executions of the listed runs, as Step Functions reports them, for status. */
export async function executionsOf(
  runtime: Runtime,
  runs: readonly BackgroundProgress[],
): Promise<Record<Revision, ExecutionStatus>> {
  const executions = runtime.executions;
  const found: Record<Revision, ExecutionStatus> = {};
  if (!executions) return found;
  for (const run of runs) {
    // Finished runs keep their record; their executions are history, not worth a call each.
    if (!run.execution?.startsWith('arn:') || run.state === 'completed' || run.state === 'reverted') continue;
    try {
      found[run.revision] = await executions.describe(run.execution);
    } catch (error) {
      found[run.revision] = { status: 'UNKNOWN', error: (error as Error).message };
    }
  }
  return found;
}

/**
 * A run still marked running whose execution is over (stopped from the console, failed before it
 * could record it, never started): resume may take it over.
 */
async function executionDied(runtime: Runtime, run: BackgroundRun): Promise<boolean> {
  if (run.state !== 'running' || !runtime.executions || !run.execution?.startsWith('arn:')) return false;
  return (await runtime.executions.describe(run.execution)).status !== 'RUNNING';
}

/** A run whose Step Functions execution may still be running. */
function isLive(run: BackgroundRun): boolean {
  return (
    Boolean(run.execution?.startsWith('arn:')) &&
    ['running', 'paused', 'cancelled', 'pending'].includes(run.state)
  );
}

async function stopExecution(runtime: Runtime, run: BackgroundRun, cause: string): Promise<void> {
  if (!runtime.executions || !run.execution) return;
  await runtime.executions.stop(run.execution, cause);
  runtime.logger.info('background execution stopped', {
    revision: run.revision,
    execution: run.execution,
    cause,
  });
}

function warnNoStateMachine(runtime: Runtime, revision: Revision): void {
  runtime.logger.warn(
    'background migration applied, but this function has no state machine to run it: it waits, pending; ' +
      'deploy with the DatabaseMigrations construct of rds-migrate 0.2 or later, or run rds-migrate up',
    { revision },
  );
}
