/**
 * The background state machine's tasks, served by the same function as a new event shape:
 * `{"RdsMigrateBackground": {"task": "split" | "range" | "complete" | "fail", "revision": ...,
 * "execution": <the execution's ARN>, "range": <n>, "error": {...}}}`.
 *
 * - split: the run's key ranges (split once, kept), answered as the indexes still to walk;
 * - range: walks one range until it is done, or until the invocation's deadline, when it
 *   answers `done: false` and the state machine calls it again (it never runs into the Lambda
 *   timeout mid-batch); a batch that fails is counted on the run (on a new session if it lost
 *   its connection) and thrown, for the state machine's retries with backoff;
 * - complete: records the run complete, exactly once;
 * - fail: records that the execution gave up (the run is `failed`; resume goes on from the
 *   checkpoints).
 */
import { completeRun, type RangeOutcome, runRange, splitRun } from '../lib/engine/background.ts';
import { BackgroundRuns, type CompleteOutcome } from '../lib/engine/background-runs.ts';
import { isConnectionLoss } from '../lib/engine/errors.ts';
import { BACKGROUND_TASK_KEY, ConfigError, isRecord } from './config.ts';
import { migrationLogger, type Runtime } from './runtime.ts';

type BackgroundTaskName = 'split' | 'range' | 'complete' | 'fail';

interface BackgroundTask {
  readonly task: BackgroundTaskName;
  readonly revision: string;
  readonly execution: string;
  readonly range?: number;
  readonly error?: unknown;
  /** The context arguments of the deploy (or resume) that started the execution. */
  readonly args: Readonly<Record<string, string>>;
}

interface SplitResult {
  readonly revision: string;
  readonly execution: string;
  readonly args: Readonly<Record<string, string>>;
  /** The ranges still to walk: the Map state's items. */
  readonly ranges: readonly number[];
}

interface FailResult {
  readonly recorded: boolean;
}

export type BackgroundTaskResult = SplitResult | RangeOutcome | CompleteOutcome | FailResult;

const TASKS: readonly BackgroundTaskName[] = ['split', 'range', 'complete', 'fail'];

function parseBackgroundTask(event: Record<string, unknown>): BackgroundTask {
  const body = event[BACKGROUND_TASK_KEY];
  if (!isRecord(body) || !TASKS.includes(body.task as BackgroundTaskName)) {
    throw new ConfigError(`${BACKGROUND_TASK_KEY}.task must be one of ${TASKS.join(', ')}`);
  }
  if (typeof body.revision !== 'string' || typeof body.execution !== 'string') {
    throw new ConfigError(`${BACKGROUND_TASK_KEY} needs "revision" and "execution" (the execution's ARN)`);
  }
  if (body.task === 'range' && !(Number.isInteger(body.range) && (body.range as number) >= 0)) {
    throw new ConfigError(`${BACKGROUND_TASK_KEY} task range needs "range", the range's index`);
  }
  return {
    task: body.task as BackgroundTaskName,
    revision: body.revision,
    execution: body.execution,
    ...(typeof body.range === 'number' ? { range: body.range } : {}),
    ...(body.error === undefined ? {} : { error: body.error }),
    args: argsFrom(body.args),
  };
}

function argsFrom(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value) || !Object.values(value).every((item) => typeof item === 'string')) {
    throw new ConfigError(`${BACKGROUND_TASK_KEY}.args must be an object of strings (the context arguments)`);
  }
  return value as Record<string, string>;
}

export async function backgroundTask(
  event: Record<string, unknown>,
  runtime: Runtime,
): Promise<BackgroundTaskResult> {
  const task = parseBackgroundTask(event);
  runtime.logger.appendKeys({ backgroundTask: task.task, revision: task.revision, range: task.range });
  const graph = await runtime.bundle();
  return runtime.withDatabase(async (db) => {
    const context = {
      db,
      history: runtime.history,
      graph,
      args: task.args,
      log: migrationLogger(runtime.logger),
      deadline: runtime.deadline(),
    };
    switch (task.task) {
      case 'split': {
        const ranges = await splitRun(context, task.revision, runtime.config.background.ranges);
        return { revision: task.revision, execution: task.execution, args: task.args, ranges };
      }
      case 'range':
        return walk(context, task, runtime);
      case 'complete':
        return completeRun(context, task.revision, `${runtime.actor}:${task.execution}`, task.execution);
      case 'fail':
        return fail(context.db, task, runtime);
    }
  });
}

async function walk(
  context: Parameters<typeof runRange>[0],
  task: BackgroundTask,
  runtime: Runtime,
): Promise<RangeOutcome> {
  try {
    return await runRange(context, task.revision, task.range ?? 0, task.execution);
  } catch (error) {
    const message = `range ${task.range}: ${(error as Error).message ?? String(error)}`;
    runtime.logger.warn('background batch failed; the state machine retries it', { error: message });
    // A batch lost with its connection is counted too: on a new session when this one is gone.
    const runs = new BackgroundRuns(runtime.history);
    await runs
      .recordError(context.db, task.revision, message)
      .catch((failed: unknown) => {
        if (!isConnectionLoss(failed)) throw failed;
        return runtime.withDatabase((db) => runs.recordError(db, task.revision, message));
      })
      .catch((failed: unknown) =>
        runtime.logger.warn('could not count the failed batch on its run', {
          error: (failed as Error).message ?? String(failed),
        }),
      );
    throw error;
  }
}

async function fail(
  db: Parameters<BackgroundRuns['transition']>[0],
  task: BackgroundTask,
  runtime: Runtime,
): Promise<FailResult> {
  const cause = isRecord(task.error)
    ? `${String(task.error.Error ?? '')}: ${String(task.error.Cause ?? '')}`
    : '';
  const recorded = await new BackgroundRuns(runtime.history).transition(
    db,
    task.revision,
    'failed',
    ['running'],
    { lastError: `execution ${task.execution} gave up: ${cause}` },
  );
  runtime.logger.error('background execution gave up', { cause, recorded });
  return { recorded };
}
