/**
 * Background runs in-process, as `rds-migrate up` runs them after its plan: the same split, the
 * same range walks and the same completion as the deployed state machine, with `concurrency`
 * worker connections taking the ranges from one queue. A run left `running` by an earlier `up`
 * that was interrupted is taken over; one a Step Functions execution owns is left to it.
 */
import { randomUUID } from 'node:crypto';
import { completeRun, type RangeOutcome, runRange, splitRun } from './background.ts';
import { type BackgroundProgress, type BackgroundRun, BackgroundRuns } from './background-runs.ts';
import type { Database } from './database.ts';
import type { RevisionGraph } from './graph.ts';
import type { History } from './history.ts';
import type { MigrationLogger, Revision } from './migration.ts';

interface LocalSession {
  readonly db: Database;
  close(): Promise<void>;
}

interface LocalBackgroundOptions {
  /** A new session on the database: one for the coordinator, one per worker. */
  readonly connect: () => Promise<LocalSession>;
  readonly history: History;
  readonly graph: RevisionGraph;
  readonly args: Readonly<Record<string, string>>;
  readonly log: MigrationLogger;
  /** Key ranges per run (a run split earlier keeps its own). */
  readonly ranges: number;
  /** Worker connections walking ranges at once. */
  readonly concurrency: number;
  /** Who runs, recorded as the completion's author. */
  readonly actor: string;
  /** Called with the run's progress after every range walk and every `progressEveryMs`. */
  readonly onProgress?: (progress: BackgroundProgress) => void;
  /** @default 500 */
  readonly progressEveryMs?: number;
}

export interface LocalRunReport {
  readonly revision: Revision;
  readonly completed: boolean;
  readonly rows: number;
  readonly ranges: number;
  readonly durationMs: number;
  /** Why it did not complete. */
  readonly reason?: string;
}

/** Runs every background run waiting for a local runner; one report each. */
export async function runBackgroundLocally(options: LocalBackgroundOptions): Promise<LocalRunReport[]> {
  const coordinator = await options.connect();
  try {
    const runs = new BackgroundRuns(options.history);
    const waiting = (await runs.list(coordinator.db)).filter(isLocalWork);
    const reports: LocalRunReport[] = [];
    for (const run of waiting) reports.push(await runOne(options, coordinator.db, runs, run));
    return reports;
  } finally {
    await coordinator.close();
  }
}

/** Pending, or running for an earlier local runner (an interrupted `up`). */
function isLocalWork(run: BackgroundRun): boolean {
  if (run.state === 'pending') return true;
  return run.state === 'running' && (run.execution === undefined || run.execution.startsWith('local:'));
}

async function runOne(
  options: LocalBackgroundOptions,
  db: Database,
  runs: BackgroundRuns,
  run: BackgroundRun,
): Promise<LocalRunReport> {
  const started = Date.now();
  const execution = `local:${randomUUID()}`;
  const report = (completed: boolean, rows: number, ranges: number, reason?: string): LocalRunReport => ({
    revision: run.revision,
    completed,
    rows,
    ranges,
    durationMs: Date.now() - started,
    ...(reason ? { reason } : {}),
  });
  if (!options.graph.has(run.revision)) {
    return report(false, 0, 0, 'not among these migrations: run up with the code that has it');
  }
  if (!(await runs.claim(db, run.revision, execution, ['pending', 'running']))) {
    return report(false, 0, 0, 'another runner took it');
  }
  const context = {
    db,
    history: options.history,
    graph: options.graph,
    args: options.args,
    log: options.log,
  };
  const pending = await splitRun(context, run.revision, options.ranges);
  const progress = () => reportProgress(options, runs, db, run.revision);
  const timer = setInterval(() => void progress(), options.progressEveryMs ?? 500);
  let outcomes: RangeOutcome[];
  try {
    outcomes = await walkAll(options, run.revision, pending, execution, progress);
  } finally {
    clearInterval(timer);
  }
  const stopped = outcomes.find((outcome) => outcome.stopped);
  const rows = outcomes.reduce((sum, outcome) => sum + outcome.rows, 0);
  if (stopped) return report(false, rows, pending.length, stopped.stopped);
  const completion = await completeRun(context, run.revision, options.actor, execution);
  await progress();
  return completion.completed
    ? report(true, rows, pending.length)
    : report(false, rows, pending.length, completion.reason);
}

/** The ranges from one queue, `concurrency` workers each on its own connection. */
async function walkAll(
  options: LocalBackgroundOptions,
  revision: Revision,
  pending: readonly number[],
  execution: string,
  progress: () => Promise<void>,
): Promise<RangeOutcome[]> {
  const queue = [...pending];
  const outcomes: RangeOutcome[] = [];
  const worker = async () => {
    const session = await options.connect();
    try {
      const context = {
        db: session.db,
        history: options.history,
        graph: options.graph,
        args: options.args,
        log: quiet(options.log),
      };
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        const outcome = await runRange(context, revision, index, execution);
        outcomes.push(outcome);
        await progress();
        if (outcome.stopped) queue.length = 0;
      }
    } finally {
      await session.close();
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, pending.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return outcomes;
}

async function reportProgress(
  options: LocalBackgroundOptions,
  runs: BackgroundRuns,
  db: Database,
  revision: Revision,
): Promise<void> {
  if (!options.onProgress) return;
  try {
    const found = (await runs.progress(db)).find((run) => run.revision === revision);
    if (found) options.onProgress(found);
  } catch {
    // Progress is for the eyes only: a failed look is skipped, the run goes on.
  }
}

/** Range walks log per range; the local runner shows progress instead. Warnings still pass. */
function quiet(log: MigrationLogger): MigrationLogger {
  return { info: () => undefined, warn: log.warn };
}
