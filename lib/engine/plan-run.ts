/**
 * One plan, run: its steps split into units (a stretch of transactional migrations shares ONE
 * transaction; a `transaction: false` migration is a unit of its own), each unit executed and
 * recorded in the history: a transaction's log rows and heads travel with its COMMIT, a lone
 * step is marked in progress before and recorded as it finishes. How a step's own work runs is
 * step-runner.ts.
 */
import { BackgroundRunBlocked } from './background-blockers.ts';
import { BackgroundRuns } from './background-runs.ts';
import { DeadlineReached } from './context.ts';
import type { Database, QueryResult } from './database.ts';
import type { CommittedUnit } from './errors.ts';
import {
  ConnectionLostError,
  describeError,
  isConnectionLoss,
  MigrationFailed,
  type PostgresErrorFields,
  postgresFields,
} from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import type { History, HistoryState, InProgress, LogEntry, LoggedStep } from './history.ts';
import { CURRENT_FORMAT } from './history-format.ts';
import {
  DEFAULT_LOCK_RETRIES,
  describeHolders,
  isLockTimeout,
  LockRetriesExhausted,
  lockHolders,
  retriesExhaustedAdvice,
} from './lock-retry.ts';
import type { MigrationLogger, MigrationTimeouts, Revision } from './migration.ts';
import type { Plan, PlanStep } from './plan.ts';
import { recordDownStep } from './recorded.ts';
import { invalidIndexesLeftBy } from './statements.ts';
import { runStepWork, type StepContext, sendQuery, sqlOf, waitForLock } from './step-runner.ts';
import { beginSql, commitSql, logEntry, RESET_TIMEOUTS_SQL, stepFinishSql, unitNote } from './step-sql.ts';
import { DEFAULT_TIMEOUTS } from './timeouts.ts';
import type { RecoveryWords } from './unknown-revisions.ts';

export interface RunOptions {
  /** @default new History() (schema rds_migrate) */
  readonly history?: History;
  /** Who runs: 'cli:alice@laptop', 'lambda:my-stack'. Recorded in the log. */
  readonly actor: string;
  /** Context arguments for every migration. @default {} */
  readonly args?: Readonly<Record<string, string>>;
  readonly log?: MigrationLogger;
  /** How long to wait for another runner's lock. @default 60 s */
  readonly lockWaitMs?: number;
  /** Timeouts for migrations that don't set their own. @default DEFAULT_TIMEOUTS */
  readonly timeouts?: MigrationTimeouts;
  /**
   * The graph to plan on, given the database's state: lets the deploy add revisions known only
   * from the history. @default the graph passed in
   */
  readonly extendGraph?: (graph: RevisionGraph, state: HistoryState) => Promise<RevisionGraph>;
  /** Refuse to run when applied files changed. @default true */
  readonly checkDrift?: boolean;
  /**
   * How messages name the migrations and the purge that recovers from a current revision they
   * lack (unknown-revisions.ts). @default the CLI's: `migrations/`, `rds-migrate stamp --purge`
   */
  readonly recovery?: RecoveryWords;
  /**
   * Record a fingerprint of the schema the run leaves (schema-fingerprint.ts), so status sees
   * later changes made outside migrations. Scratch databases (the round trip) skip it. @default true
   */
  readonly recordFingerprint?: boolean;
  /**
   * How many times a unit (or a statement outside a transaction) is tried again after it timed
   * out waiting for a lock, with jittered backoff between. @default DEFAULT_LOCK_RETRIES (4)
   */
  readonly lockRetries?: number;
  /**
   * The deploy request this run serves, recorded on its log rows so that the deploy's answer
   * counts what its runs applied, whichever poll asks. @default none
   */
  readonly requestId?: string;
  /**
   * Epoch ms by which the run must have stopped (a Lambda's deadline). The run stops cleanly
   * between units and between batches once it passes, and no statement may run past it.
   * @default none
   */
  readonly deadline?: number;
  /**
   * Background migrations to run in-process at their own step instead of recording them for a
   * later run (a scratch database's round trip); `migrate` adds those a later step of the same
   * plan needs complete (background-gate.ts). @default none
   */
  readonly backgroundInline?: readonly Revision[];
  /**
   * Called once the plan is made and allowed, before anything runs (under the lock): the CLI
   * prints check's findings on the steps about to run. Throwing refuses the run. @default none
   */
  readonly beforeRun?: (plan: Plan, db: Database) => Promise<void>;
  /**
   * Refuse a plan whose up steps have an allow line awaiting its reason (allow-lines.ts). Scratch
   * databases (check's round trip, autogenerate's trial run) turn it off: no one's data is
   * there, and what they prove is that the SQL runs. @default true
   */
  readonly requireAllowReasons?: boolean;
}

export interface StepResult {
  readonly revision: Revision;
  readonly direction: 'up' | 'down';
  readonly source: string;
  readonly transactional: boolean;
  /** Which transaction of the plan (1-based); a non-transactional step is a unit of its own. */
  readonly unit: number;
  readonly durationMs: number;
}

const silentLog: MigrationLogger = { info: () => undefined, warn: () => undefined };

/** The history format that added background_runs (history-format.ts). */
const BACKGROUND_RUNS_FORMAT = 7;

interface Unit {
  readonly transactional: boolean;
  readonly steps: readonly PlanStep[];
}

/** Consecutive transactional steps share a unit; a non-transactional step stands alone. */
export function splitIntoUnits(steps: readonly PlanStep[]): Unit[] {
  const units: { transactional: boolean; steps: PlanStep[] }[] = [];
  for (const step of steps) {
    const last = units[units.length - 1];
    if (step.migration.transaction && last?.transactional) last.steps.push(step);
    else units.push({ transactional: step.migration.transaction, steps: [step] });
  }
  return units;
}

/** What a PlanRun is given besides the session: the plan, and what the runner read before it. */
interface PlanRunSetup {
  readonly history: History;
  readonly plan: Plan;
  readonly runId: string;
  readonly options: RunOptions;
  /** The history's format: older ones (0: none yet) are upgraded with the first unit. */
  readonly historyFormat: number;
  /** True when nothing was ever applied here: a failure may then hint at `stamp`. */
  readonly historyEmpty: boolean;
  /** The step an earlier run left in progress, if any. */
  readonly interrupted?: InProgress;
}

export class PlanRun {
  private readonly history: History;
  private readonly runId: string;
  private readonly options: RunOptions;
  private historyFormat: number;
  private readonly historyEmpty: boolean;
  private readonly interrupted?: InProgress;
  private readonly log: MigrationLogger;
  private stepContext: StepContext;
  /** Revisions with a background run, when the plan has down steps (shared with the step context). */
  private backgroundRevisions: Set<Revision> | undefined;
  private readonly units: readonly Unit[];
  private headsNow: readonly Revision[];
  /** Units that committed so far, for a failure's message. */
  private readonly committed: CommittedUnit[] = [];

  constructor(
    private readonly db: Database,
    setup: PlanRunSetup,
  ) {
    const { history, plan, options } = setup;
    this.history = history;
    this.runId = setup.runId;
    this.options = options;
    this.historyFormat = setup.historyFormat;
    this.historyEmpty = setup.historyEmpty;
    this.interrupted = setup.interrupted;
    this.log = options.log ?? silentLog;
    this.stepContext = {
      db,
      history,
      args: options.args ?? {},
      log: this.log,
      timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
      deadline: options.deadline,
      lockRetries: options.lockRetries ?? DEFAULT_LOCK_RETRIES,
      background: {
        inline: new Set(options.backgroundInline ?? []),
        actor: options.actor,
        ...(options.requestId ? { requestId: options.requestId } : {}),
      },
    };
    this.units = splitIntoUnits(plan.steps);
    this.headsNow = plan.from;
  }

  async execute(): Promise<{
    results: StepResult[];
    heads: readonly Revision[];
    stopped: boolean;
    resumed?: Revision;
  }> {
    const results: StepResult[] = [];
    let resumed: Revision | undefined;
    await this.readBackgroundRevisions();
    for (const [index, unit] of this.units.entries()) {
      if (this.pastDeadline()) return { results, heads: this.headsNow, stopped: true, resumed };
      const number = index + 1;
      const note = unitNote(number, this.units.length, unit.transactional);
      if (unit.transactional) {
        try {
          results.push(...(await this.runTransaction(unit.steps, number, note)));
        } catch (error) {
          // A lock wait that would pass the deadline: stop here, the next run goes on.
          if (error instanceof DeadlineReached)
            return { results, heads: this.headsNow, stopped: true, resumed };
          throw error;
        }
        continue;
      }
      const step = unit.steps[0] as PlanStep;
      const interrupted =
        index === 0 && this.interrupted?.revision === step.revision ? this.interrupted : undefined;
      if (interrupted) {
        resumed = step.revision;
        await this.repairInterrupted(step, interrupted);
      }
      const done = await this.runAlone(step, number, interrupted?.statementsDone ?? 0, note);
      if (!done) return { results, heads: this.headsNow, stopped: true, resumed };
      results.push(done);
    }
    return { results, heads: this.headsNow, stopped: false, resumed };
  }

  /**
   * A plan with down steps reads once which revisions have a background run, so that a down step
   * of one without marks nothing reverted (three round trips a step). Under the run's lock no run
   * is recorded but by this plan's own up steps, which add theirs (runStep).
   */
  private async readBackgroundRevisions(): Promise<void> {
    if (!this.units.some((unit) => unit.steps.some((step) => step.direction === 'down'))) return;
    this.backgroundRevisions =
      this.historyFormat >= BACKGROUND_RUNS_FORMAT
        ? await new BackgroundRuns(this.history).revisions(this.db)
        : new Set<Revision>();
    this.stepContext = { ...this.stepContext, backgroundRevisions: this.backgroundRevisions };
  }

  /** The history's format now: a unit that committed has brought it to the current one. */
  get format(): number {
    return this.historyFormat;
  }

  private pastDeadline(): boolean {
    return this.options.deadline !== undefined && Date.now() >= this.options.deadline;
  }

  /**
   * Before running an interrupted migration again: an index that CREATE INDEX CONCURRENTLY
   * left INVALID would be skipped by IF NOT EXISTS and stay useless, so drop it first.
   */
  private async repairInterrupted(step: PlanStep, interrupted: InProgress): Promise<void> {
    this.log.warn('resuming an interrupted migration', {
      revision: step.revision,
      direction: step.direction,
      ...(interrupted.statementsDone > 0 ? { statementsDone: interrupted.statementsDone } : {}),
    });
    if (step.direction !== 'up' || step.migration.up.kind !== 'sql') return;
    for (const index of await invalidIndexesLeftBy(this.db, step.migration.up.sql)) {
      this.log.warn('dropping an INVALID index left by the interrupted run', {
        revision: step.revision,
        index,
      });
      await this.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`, `repair ${step.revision}`);
    }
  }

  /**
   * A unit's transaction, tried again when a statement times out waiting for a lock: the attempt
   * rolled back whole, so nothing of it is applied twice.
   */
  private async runTransaction(
    steps: readonly PlanStep[],
    unit: number,
    note?: string,
  ): Promise<StepResult[]> {
    // The unit's own setting when a migration in it has one (the largest), else the run's.
    const own = steps.flatMap((step) =>
      step.migration.lockRetries === undefined ? [] : [step.migration.lockRetries],
    );
    const retries = own.length > 0 ? Math.max(...own) : this.stepContext.lockRetries;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runTransactionOnce(steps, unit, note);
      } catch (error) {
        if (!(error instanceof MigrationFailed) || !isLockTimeout(error) || retries === 0) throw error;
        const step = steps.find((candidate) => candidate.revision === error.revision);
        const holders = describeHolders(await lockHolders(this.db, step ? sqlOf(step) : ''));
        if (attempt > retries) throw error.withHint(retriesExhaustedAdvice(attempt, holders));
        await waitForLock(
          { ...this.stepContext, lockRetries: retries },
          `unit ${unit} (${error.revision})`,
          attempt,
          holders,
        );
      }
    }
  }

  private async runTransactionOnce(
    steps: readonly PlanStep[],
    unit: number,
    note?: string,
  ): Promise<StepResult[]> {
    const results: StepResult[] = [];
    const logged: LoggedStep[] = [];
    // A history to create or upgrade goes with BEGIN in a round trip of its own, so that no
    // step's duration includes it; a plain BEGIN travels with the unit's first query.
    const begin = beginSql(this.history, this.historyFormat);
    if (begin !== 'BEGIN') await this.query(begin, 'BEGIN');
    const session = begin === 'BEGIN' ? new BeginWithFirstQuery(this.db) : undefined;
    const db = session ?? this.db;
    let current: PlanStep | undefined;
    try {
      for (const step of steps) {
        current = step;
        const startedAt = new Date();
        const { entry, durationMs } = await this.runStep(step, true, note, 0, db);
        logged.push({ entry, durationMs, startedAt });
        results.push(this.result(step, unit, durationMs));
      }
      current = undefined;
      const headsAfter = steps[steps.length - 1]?.headsAfter ?? this.headsNow;
      await sendQuery(db, commitSql(this.history, logged, headsAfter), 'COMMIT');
      this.historyFormat = Math.max(this.historyFormat, CURRENT_FORMAT);
    } catch (error) {
      if (session?.begun !== false) await this.db.query('ROLLBACK').catch(() => undefined);
      throw this.failure(error, current ?? steps[steps.length - 1], unit);
    }
    this.headsNow = steps[steps.length - 1]?.headsAfter ?? this.headsNow;
    this.committed.push({ unit, revisions: steps.map((step) => step.revision), transactional: true });
    for (const result of results) this.log.info('migrated', { ...result });
    return results;
  }

  /** Runs a non-transactional step; undefined when it stopped at the deadline (resumable). */
  private async runAlone(
    step: PlanStep,
    unit: number,
    statementsDone: number,
    note?: string,
  ): Promise<StepResult | undefined> {
    const upgrade = this.history.upgradeSql(this.historyFormat);
    if (upgrade) {
      await this.query(`BEGIN;\n${upgrade}\nCOMMIT;`, 'history upgrade');
      this.historyFormat = CURRENT_FORMAT;
    }
    await this.history.markInProgress(this.db, step.revision, step.direction, this.options.actor);
    let durationMs: number;
    try {
      ({ durationMs } = await this.runStep(step, false, note, statementsDone));
    } catch (error) {
      await this.db.query(RESET_TIMEOUTS_SQL).catch(() => undefined);
      if (error instanceof DeadlineReached) {
        this.log.info('stopped at the deadline; the next run resumes', { revision: step.revision });
        return undefined;
      }
      throw this.failure(error, step, unit);
    }
    this.headsNow = step.headsAfter;
    this.committed.push({ unit, revisions: [step.revision], transactional: false });
    const result = this.result(step, unit, durationMs);
    this.log.info('migrated', { ...result });
    return result;
  }

  /**
   * Runs one step and makes its log row. Inside the plan's transaction the row is returned, to be
   * written with the COMMIT; outside, the step records itself as it finishes. The duration is the
   * step's own work, without the history's bookkeeping: the same number in the run report and in
   * the log.
   */
  private async runStep(
    step: PlanStep,
    inTransaction: boolean,
    note?: string,
    statementsDone = 0,
    db: Database = this.db,
  ): Promise<{ entry: LogEntry; durationMs: number }> {
    const downStep = step.direction === 'up' ? await recordDownStep(step.migration) : undefined;
    const entry = {
      ...logEntry(step, { runId: this.runId, actor: this.options.actor }, note, downStep),
      ...(this.options.requestId ? { requestId: this.options.requestId } : {}),
    };
    const progress = inTransaction
      ? undefined
      : {
          done: statementsDone,
          record: (done: number) => this.history.statementsDoneSql(step.revision, done),
        };
    if (step.direction === 'up' && step.migration.background) this.backgroundRevisions?.add(step.revision);
    const started = performance.now();
    await runStepWork(
      db === this.db ? this.stepContext : { ...this.stepContext, db },
      step,
      inTransaction,
      progress,
    );
    const durationMs = performance.now() - started;
    if (inTransaction) return { entry, durationMs };
    await this.query(stepFinishSql(this.history, step, entry, durationMs), `record ${step.revision}`);
    return { entry, durationMs };
  }

  private query(text: string, during: string): Promise<void> {
    return sendQuery(this.db, text, during);
  }

  private result(step: PlanStep, unit: number, durationMs: number): StepResult {
    return {
      revision: step.revision,
      direction: step.direction,
      source: step.migration.source,
      transactional: step.migration.transaction,
      unit,
      durationMs: roundedMs(durationMs),
    };
  }

  private failure(error: unknown, step: PlanStep | undefined, unit: number): Error {
    if (error instanceof ConnectionLostError || !step) return error as Error;
    if (isConnectionLoss(error))
      return new ConnectionLostError(`${step.direction} ${step.revision}`, describeError(error));
    const fields = postgresFields(error instanceof LockRetriesExhausted ? error.postgresError : error);
    return new MigrationFailed({
      revision: step.revision,
      direction: step.direction,
      source: step.migration.source,
      postgres: fields,
      databaseLeftAt: this.headsNow,
      hint: adviceOf(error) ?? this.failureHint(fields),
      committed: [...this.committed],
      unit,
      units: this.units.length,
    });
  }

  private failureHint(fields: PostgresErrorFields): string | undefined {
    // A first run on a database that already has the schema: the usual way out is stamp.
    if (this.historyEmpty && fields.code === '42P07') {
      return (
        'this database has no rds-migrate history but already has these objects: if its schema matches a ' +
        'revision, run rds-migrate stamp <revision> instead of up.'
      );
    }
    if (fields.code === '57014' && this.pastDeadline()) {
      return (
        'it was cancelled at the deadline of this run (the function would have been killed mid-statement); ' +
        'a migration that needs longer must be transaction: false, with its data work in ctx.batch.'
      );
    }
    return undefined;
  }
}

/**
 * A unit's session whose BEGIN waits for the unit's first query and travels with it: one round
 * trip fewer per transaction. A query with parameters cannot share its round trip, so BEGIN goes
 * alone before one.
 */
class BeginWithFirstQuery implements Database {
  private pending = true;

  constructor(private readonly db: Database) {}

  /** Whether BEGIN has been sent: a unit that failed before any query has nothing to roll back. */
  get begun(): boolean {
    return !this.pending;
  }

  async query<T = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<QueryResult<T>> {
    if (!this.pending) return this.db.query<T>(text, values);
    this.pending = false;
    if (values !== undefined && values.length > 0) {
      await this.db.query('BEGIN');
      return this.db.query<T>(text, values);
    }
    return this.db.query<T>(`BEGIN;\n${text}`);
  }
}

/** Milliseconds to two decimals: what the run report and the log both show. */
function roundedMs(durationMs: number): number {
  return Math.round(durationMs * 100) / 100;
}

/** Advice a failure brings with it, which says more than the step's own (who held the lock). */
function adviceOf(error: unknown): string | undefined {
  if (error instanceof LockRetriesExhausted || error instanceof BackgroundRunBlocked) return error.advice;
  return undefined;
}
