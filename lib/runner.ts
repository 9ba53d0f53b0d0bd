/**
 * The runner: the only part of the engine that changes a database. Under the advisory lock it
 * reads the history, checks drift, plans (pure), and runs the plan: every transactional step of
 * a stretch in ONE transaction, each `transaction: false` migration alone between them.
 */
import { randomUUID } from 'node:crypto';
import { createContext, DeadlineReached } from './context.ts';
import type { Database } from './database.ts';
import {
  ConnectionLostError,
  DriftError,
  type DriftedRevision,
  HistoryError,
  HistoryFormatError,
  MigrationFailed,
  type PostgresErrorFields,
  RdsMigrateError,
} from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import {
  History,
  type HistoryState,
  type InProgress,
  type LogDirection,
  type LogEntry,
  type LoggedStep,
  type RecordedDownStep,
} from './history.ts';
import { CURRENT_FORMAT } from './history-format.ts';
import { DEFAULT_LOCK_WAIT_MS, withLock } from './lock.ts';
import type { MigrationLogger, MigrationTimeouts, Revision } from './migration.ts';
import {
  type Plan,
  type PlanStep,
  planDowngrade,
  planStamp,
  planTo,
  planUpgrade,
  type UpgradeTarget,
} from './plan.ts';
import { recordDownStep } from './recorded.ts';
import { invalidIndexesLeftBy, splitStatements } from './statements.ts';
import {
  beginSql,
  commitSql,
  logEntry,
  RESET_TIMEOUTS_SQL,
  sqlStepInTransaction,
  stepFinishSql,
  timeoutsSql,
  unitNote,
} from './step-sql.ts';
import { RELEASE } from './version.ts';

/** What the caller wants done; the plan is made from it under the lock, against fresh state. */
export type Intent =
  | { readonly action: 'upgrade'; readonly target: UpgradeTarget }
  | { readonly action: 'downgrade'; readonly target?: Revision }
  | { readonly action: 'sync'; readonly target: Revision }
  | { readonly action: 'stamp'; readonly target: UpgradeTarget };

/** Protects a live database: a migration never queues long behind traffic, nor runs away. */
export const DEFAULT_TIMEOUTS: Required<MigrationTimeouts> = { lockTimeout: '5s', statementTimeout: '5min' };

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
   * Epoch ms by which the run must have stopped (a Lambda's deadline). The run stops cleanly
   * between units and between batches once it passes, and no statement may run past it.
   * @default none
   */
  readonly deadline?: number;
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

export interface RunReport {
  readonly runId: string;
  /** `stopped`: the deadline came first; what is done is committed, run again to go on. */
  readonly status: 'applied' | 'up-to-date' | 'stamped' | 'stopped';
  readonly from: readonly Revision[];
  readonly to: readonly Revision[];
  readonly steps: readonly StepResult[];
  /** Steps of the plan not run because the deadline came first. */
  readonly remaining: number;
  readonly durationMs: number;
  /** A non-transactional migration interrupted earlier that this run ran again. */
  readonly resumed?: Revision;
}

const silentLog: MigrationLogger = { info: () => undefined, warn: () => undefined };

export async function migrate(
  db: Database,
  graph: RevisionGraph,
  intent: Intent,
  options: RunOptions,
): Promise<RunReport> {
  const history = options.history ?? new History();
  const started = Date.now();
  return withLock(db, history.lockName, options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, async () => {
    // The history schema is created in the plan's first transaction, so a failed first run
    // leaves no trace; a run with nothing to do creates nothing.
    const state = await history.read(db);
    const planGraph = options.extendGraph ? await options.extendGraph(graph, state) : graph;
    if (intent.action !== 'stamp' && options.checkDrift !== false) assertNoDrift(planGraph, state);
    const plan = makePlan(planGraph, state.heads, intent);
    assertFormatAllows(history, state, intent, plan);
    if (intent.action !== 'stamp') assertResumable(state.inProgress, plan);
    const runId = randomUUID();
    if (intent.action === 'stamp') {
      await stamp(db, history, planGraph, plan, runId, options.actor, state.format.version);
      return {
        runId,
        status: 'stamped',
        from: plan.from,
        to: plan.to,
        steps: [],
        remaining: 0,
        durationMs: Date.now() - started,
      };
    }
    if (plan.steps.length === 0) {
      return {
        runId,
        status: 'up-to-date',
        from: plan.from,
        to: plan.to,
        steps: [],
        remaining: 0,
        durationMs: Date.now() - started,
      };
    }
    const run = new PlanRun(db, history, plan, runId, options, state.format.version, state.inProgress);
    const outcome = await run.execute();
    return {
      runId,
      status: outcome.stopped ? 'stopped' : 'applied',
      from: plan.from,
      to: outcome.heads,
      steps: outcome.results,
      remaining: plan.steps.length - outcome.results.length,
      durationMs: Date.now() - started,
      ...(outcome.resumed ? { resumed: outcome.resumed } : {}),
    };
  });
}

export function makePlan(graph: RevisionGraph, heads: readonly Revision[], intent: Intent): Plan {
  switch (intent.action) {
    case 'upgrade':
      return planUpgrade(graph, heads, intent.target);
    case 'downgrade':
      return planDowngrade(graph, heads, intent.target);
    case 'sync':
      return planTo(graph, heads, intent.target);
    case 'stamp':
      return planStamp(graph, heads, intent.target);
  }
}

/** Applied revisions whose file changed since: compared on every revision both sides know. */
export function findDrift(graph: RevisionGraph, state: HistoryState): DriftedRevision[] {
  const drifted: DriftedRevision[] = [];
  for (const [revision, appliedChecksum] of state.checksums) {
    if (!graph.has(revision)) continue;
    const migration = graph.get(revision);
    if (migration.checksum !== appliedChecksum) {
      drifted.push({
        revision,
        source: migration.source,
        appliedChecksum,
        currentChecksum: migration.checksum,
      });
    }
  }
  return drifted;
}

/**
 * A non-transactional migration that was interrupted must be finished (or stamped past)
 * before anything else runs: its effects are partly there.
 */
export function assertResumable(inProgress: InProgress | undefined, plan: Plan): void {
  if (!inProgress) return;
  const first = plan.steps[0];
  if (first && first.revision === inProgress.revision && first.direction === inProgress.direction) return;
  const command =
    inProgress.direction === 'up' ? `rds-migrate up ${inProgress.revision}` : `rds-migrate down`;
  throw new HistoryError(
    `migration ${inProgress.revision} was interrupted during ${inProgress.direction} (outside a transaction, ` +
      `started ${inProgress.startedAt.toISOString()} by ${inProgress.actor}) and is partly applied; ` +
      `finish it first with ${command}, or repair by hand and rds-migrate stamp the revision it is at`,
  );
}

/**
 * A history a newer release upgraded may be read and reverted from (a stack rollback runs the
 * older bundle), but only the release that knows its format may apply or stamp.
 */
function assertFormatAllows(history: History, state: HistoryState, intent: Intent, plan: Plan): void {
  if (state.format.version <= CURRENT_FORMAT) return;
  const revertsOnly = intent.action !== 'stamp' && plan.steps.every((step) => step.direction === 'down');
  if (revertsOnly) return;
  throw new HistoryFormatError(
    history.schema,
    state.format.version,
    CURRENT_FORMAT,
    RELEASE,
    state.format.release,
  );
}

function assertNoDrift(graph: RevisionGraph, state: HistoryState): void {
  const drifted = findDrift(graph, state);
  if (drifted.length > 0) throw new DriftError(drifted);
}

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

class PlanRun {
  private readonly log: MigrationLogger;
  private readonly timeouts: Required<MigrationTimeouts>;
  private headsNow: readonly Revision[];

  constructor(
    private readonly db: Database,
    private readonly history: History,
    private readonly plan: Plan,
    private readonly runId: string,
    private readonly options: RunOptions,
    /** The history's format: older ones (0: none yet) are upgraded with the first unit. */
    private historyFormat: number,
    private readonly interrupted?: InProgress,
  ) {
    this.log = options.log ?? silentLog;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.headsNow = plan.from;
  }

  async execute(): Promise<{
    results: StepResult[];
    heads: readonly Revision[];
    stopped: boolean;
    resumed?: Revision;
  }> {
    const units = splitIntoUnits(this.plan.steps);
    const results: StepResult[] = [];
    let resumed: Revision | undefined;
    for (const [index, unit] of units.entries()) {
      if (this.pastDeadline()) return { results, heads: this.headsNow, stopped: true, resumed };
      const note = unitNote(index + 1, units.length, unit.transactional);
      if (unit.transactional) {
        results.push(...(await this.runTransaction(unit.steps, index + 1, note)));
        continue;
      }
      const step = unit.steps[0] as PlanStep;
      if (index === 0 && this.interrupted?.revision === step.revision) {
        resumed = step.revision;
        await this.repairInterrupted(step);
      }
      const done = await this.runAlone(step, index + 1, note);
      if (!done) return { results, heads: this.headsNow, stopped: true, resumed };
      results.push(done);
    }
    return { results, heads: this.headsNow, stopped: false, resumed };
  }

  private pastDeadline(): boolean {
    return this.options.deadline !== undefined && Date.now() >= this.options.deadline;
  }

  /**
   * Before running an interrupted migration again: an index that CREATE INDEX CONCURRENTLY
   * left INVALID would be skipped by IF NOT EXISTS and stay useless, so drop it first.
   */
  private async repairInterrupted(step: PlanStep): Promise<void> {
    this.log.warn('resuming an interrupted migration', {
      revision: step.revision,
      direction: step.direction,
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

  private async runTransaction(
    steps: readonly PlanStep[],
    unit: number,
    note?: string,
  ): Promise<StepResult[]> {
    const results: StepResult[] = [];
    const logged: LoggedStep[] = [];
    await this.query(beginSql(this.history, this.historyFormat), 'BEGIN');
    let current: PlanStep | undefined;
    try {
      for (const step of steps) {
        current = step;
        const startedAt = new Date();
        const started = performance.now();
        const entry = await this.runStep(step, true, note);
        const durationMs = performance.now() - started;
        logged.push({ entry, durationMs, startedAt });
        results.push(this.result(step, unit, durationMs));
      }
      current = undefined;
      const headsAfter = steps[steps.length - 1]?.headsAfter ?? this.headsNow;
      await this.query(commitSql(this.history, logged, headsAfter), 'COMMIT');
      this.historyFormat = Math.max(this.historyFormat, CURRENT_FORMAT);
    } catch (error) {
      await this.db.query('ROLLBACK').catch(() => undefined);
      throw this.failure(error, current ?? steps[steps.length - 1], this.headsNow);
    }
    this.headsNow = steps[steps.length - 1]?.headsAfter ?? this.headsNow;
    for (const result of results) this.log.info('migrated', { ...result });
    return results;
  }

  /** Runs a non-transactional step; undefined when it stopped at the deadline (resumable). */
  private async runAlone(step: PlanStep, unit: number, note?: string): Promise<StepResult | undefined> {
    const started = performance.now();
    const upgrade = this.history.upgradeSql(this.historyFormat);
    if (upgrade) {
      await this.query(`BEGIN;\n${upgrade}\nCOMMIT;`, 'history upgrade');
      this.historyFormat = CURRENT_FORMAT;
    }
    await this.history.markInProgress(this.db, step.revision, step.direction, this.options.actor);
    try {
      await this.runStep(step, false, note);
    } catch (error) {
      await this.db.query(RESET_TIMEOUTS_SQL).catch(() => undefined);
      if (error instanceof DeadlineReached) {
        this.log.info('stopped at the deadline; the next run resumes', { revision: step.revision });
        return undefined;
      }
      throw this.failure(error, step, this.headsNow);
    }
    this.headsNow = step.headsAfter;
    const result = this.result(step, unit, performance.now() - started);
    this.log.info('migrated', { ...result });
    return result;
  }

  /**
   * Runs one step. Inside the plan's transaction its log row is returned, to be written with
   * the COMMIT; outside, the step records itself as it finishes.
   */
  private async runStep(step: PlanStep, inTransaction: boolean, note?: string): Promise<LogEntry> {
    const migration = step.migration;
    const work = step.direction === 'up' ? migration.up : migration.down;
    if (!work) throw new RdsMigrateError(`migration ${step.revision} has no down step`);
    const timeouts = this.settings(migration.timeouts, inTransaction);
    const downStep = step.direction === 'up' ? await recordDownStep(migration) : undefined;
    const entry = logEntry(step, { runId: this.runId, actor: this.options.actor }, note, downStep);

    if (work.kind === 'sql' && inTransaction) {
      await this.query(sqlStepInTransaction(timeouts, work.sql), `${step.direction} ${step.revision}`);
      return entry;
    }

    const started = performance.now();
    await this.query(timeouts, 'SET timeouts');
    if (work.kind === 'sql') {
      for (const statement of await splitStatements(work.sql)) {
        await this.query(statement.text, `${step.direction} ${step.revision}`);
      }
    } else {
      const ctx = createContext({
        db: this.db,
        revision: step.revision,
        args: this.options.args ?? {},
        log: this.log,
        inTransaction,
        checkpointsTable: `${this.history.schema}.checkpoints`,
        deadline: this.options.deadline,
      });
      await work.run(ctx);
    }
    if (inTransaction) return entry;
    await this.query(
      stepFinishSql(this.history, step, entry, performance.now() - started),
      `record ${step.revision}`,
    );
    return entry;
  }

  private settings(own: MigrationTimeouts, local: boolean): string {
    const lock = own.lockTimeout ?? this.timeouts.lockTimeout;
    const statement = capAtDeadline(
      own.statementTimeout ?? this.timeouts.statementTimeout,
      this.options.deadline,
    );
    return timeoutsSql(local, lock, statement);
  }

  private async query(text: string, during: string): Promise<void> {
    try {
      await this.db.query(text);
    } catch (error) {
      if (isConnectionLoss(error)) throw new ConnectionLostError(during, describe(error));
      throw error;
    }
  }

  private result(step: PlanStep, unit: number, durationMs: number): StepResult {
    return {
      revision: step.revision,
      direction: step.direction,
      source: step.migration.source,
      transactional: step.migration.transaction,
      unit,
      durationMs: Math.round(durationMs * 100) / 100,
    };
  }

  private failure(error: unknown, step: PlanStep | undefined, heads: readonly Revision[]): Error {
    if (error instanceof ConnectionLostError || !step) return error as Error;
    if (isConnectionLoss(error))
      return new ConnectionLostError(`${step.direction} ${step.revision}`, describe(error));
    const fields = postgresFields(error);
    return new MigrationFailed(
      step.revision,
      step.direction,
      step.migration.source,
      fields,
      heads,
      this.failureHint(fields),
    );
  }

  private failureHint(fields: PostgresErrorFields): string | undefined {
    // A first run on a database that already has the schema: the usual way out is stamp.
    if (this.historyFormat === 0 && fields.code === '42P07') {
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

async function stamp(
  db: Database,
  history: History,
  graph: RevisionGraph,
  plan: Plan,
  runId: string,
  actor: string,
  historyFormat: number,
): Promise<void> {
  const before = graph.ancestors(plan.from);
  const after = graph.ancestors(plan.to);
  const marked = graph.sorted([...after].filter((revision) => !before.has(revision)));
  const unmarked = graph.sorted([...before].filter((revision) => !after.has(revision))).reverse();
  const note = `stamp ${plan.from.join(',') || 'base'} -> ${plan.to.join(',') || 'base'}`;
  const row = (revision: Revision, direction: LogDirection, downStep?: RecordedDownStep): LoggedStep => {
    const migration = graph.get(revision);
    return {
      entry: {
        revision,
        parents: migration.downRevisions,
        direction,
        message: migration.message,
        checksum: migration.checksum,
        source: migration.source,
        transactional: migration.transaction,
        downStep,
        runId,
        actor,
        note,
      },
      durationMs: 0,
    };
  };
  const rows = [
    ...unmarked.map((revision) => row(revision, 'stamp-down')),
    ...(await Promise.all(
      marked.map(async (revision) => row(revision, 'stamp-up', await recordDownStep(graph.get(revision)))),
    )),
  ];
  // Stamping is also how a user says an interrupted migration is dealt with.
  const upgrade = history.upgradeSql(historyFormat);
  const clear = historyFormat === 0 ? '' : history.clearInProgressSql();
  const log = rows.length > 0 ? history.logSql(rows) : '';
  await db.query(`BEGIN;\n${upgrade}\n${clear}\n${log}\n${history.recordHeadsSql(plan.to)}\nCOMMIT;`);
}

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

const CONNECTION_LOSS_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  'ECONNRESET',
  'EPIPE',
]);

export function isConnectionLoss(error: unknown): boolean {
  const candidate = error as { code?: string; message?: string };
  if (candidate?.code && CONNECTION_LOSS_CODES.has(candidate.code)) return true;
  const message = candidate?.message ?? '';
  return /Connection terminated|Client has encountered a connection error|not queryable/.test(message);
}

function describe(error: unknown): string {
  const candidate = error as { code?: string; message?: string };
  return candidate?.code ? `${candidate.code}: ${candidate.message}` : String(candidate?.message ?? error);
}

export function postgresFields(error: unknown): PostgresErrorFields {
  const candidate = error as {
    code?: string;
    message?: string;
    detail?: string;
    hint?: string;
    position?: string;
  };
  return {
    code: typeof candidate?.code === 'string' ? candidate.code : undefined,
    message: String(candidate?.message ?? error),
    detail: candidate?.detail,
    hint: candidate?.hint,
    position: candidate?.position,
  };
}
