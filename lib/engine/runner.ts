/**
 * The runner: the only part of the engine that changes a database. Under the advisory lock it
 * reads the history, checks drift and the history's format, plans (pure), and hands the plan to
 * a PlanRun (plan-run.ts): every transactional step of a stretch in ONE transaction, each
 * `transaction: false` migration alone between them. Stamps are written here.
 */
import { randomUUID } from 'node:crypto';
import { assertAllowLinesReasoned } from './allow-lines.ts';
import { BackgroundGateClosed, readGates } from './background-gate.ts';
import type { Database } from './database.ts';
import { DriftError, type DriftedRevision, GraphError, HistoryError, HistoryFormatError } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import {
  History,
  type HistoryState,
  type InProgress,
  type LogDirection,
  type LoggedStep,
  type RecordedDownStep,
  type RecordedRevision,
} from './history.ts';
import { CURRENT_FORMAT } from './history-format.ts';
import { DEFAULT_LOCK_WAIT_MS, withLockReading } from './lock.ts';
import type { Revision } from './migration.ts';
import { type Plan, planDowngrade, planStamp, planTo, planUpgrade, type UpgradeTarget } from './plan.ts';
import { PlanRun, type RunOptions, type StepResult } from './plan-run.ts';
import { planWarnings } from './plan-warnings.ts';
import { recordDownStep } from './recorded.ts';
import { FingerprintRecorder } from './schema-fingerprint.ts';
import { assertHeadsKnown, CLI_RECOVERY, unknownHeads } from './unknown-revisions.ts';
import { RELEASE } from './version.ts';

export type { RunOptions, StepResult } from './plan-run.ts';

/** What the caller wants done; the plan is made from it under the lock, against fresh state. */
export type Intent =
  | { readonly action: 'upgrade'; readonly target: UpgradeTarget }
  | { readonly action: 'downgrade'; readonly target?: Revision }
  | { readonly action: 'sync'; readonly target: Revision }
  | {
      readonly action: 'stamp';
      readonly target: UpgradeTarget;
      /**
       * Forget every current revision first, those the migrations lack included, as Alembic's
       * `stamp --purge`: the way out for a database at a revision whose file is gone. @default false
       */
      readonly purge?: boolean;
    };

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
  /**
   * Background migrations this run applied and recorded as pending: their runs start after it
   * (Step Functions in a deploy, worker connections with `up`). Absent: none.
   */
  readonly backgroundStarted?: readonly Revision[];
  /** `stamp --purge`: the revisions forgotten that the migrations lack. Absent: none. */
  readonly purged?: readonly Revision[];
}

export async function migrate(
  db: Database,
  graph: RevisionGraph,
  intent: Intent,
  options: RunOptions,
): Promise<RunReport> {
  const history = options.history ?? new History();
  const started = Date.now();
  const waitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  const onWait = (holder: string | undefined) =>
    options.log?.warn(
      `another run holds the migration lock; waiting up to ${Math.round(waitMs / 1000)} s for it to finish`,
      { holder: holder ?? 'unknown' },
    );
  const lock = { name: history.lockName, waitMs, onWait };
  return withLockReading(db, lock, history.probeSql(), async (probed) => {
    // The history schema is created in the plan's first transaction, so a failed first run
    // leaves no trace; a run with nothing to do creates nothing.
    const state = await history.read(db, probed);
    const planGraph = options.extendGraph ? await options.extendGraph(graph, state) : graph;
    if (intent.action !== 'stamp') assertNotInsideSquash(planGraph, state.heads);
    const purge = intent.action === 'stamp' && intent.purge === true;
    if (!purge) assertHeadsKnown(planGraph, state, options.recovery ?? CLI_RECOVERY, stampTargets(intent));
    if (intent.action !== 'stamp' && options.checkDrift !== false) assertNoDrift(planGraph, state);
    const plan = makePlan(planGraph, state.heads, intent);
    if (intent.action !== 'stamp' && options.requireAllowReasons !== false)
      await assertAllowLinesReasoned(plan);
    assertFormatAllows(history, state, intent, plan);
    if (intent.action !== 'stamp') assertResumable(state.inProgress, plan);
    const runId = randomUUID();
    // Only runs that change something record a fingerprint: a no-op must not absorb a hand edit.
    const fingerprint = new FingerprintRecorder(
      db,
      history,
      options.recordFingerprint !== false,
      state.format.version,
    );
    if (intent.action === 'stamp') {
      const purged = purge ? await forgotten(db, history, planGraph, state) : undefined;
      await fingerprint.before();
      await stamp(db, history, planGraph, plan, runId, options.actor, state, purged);
      await fingerprint.after({ runId, actor: options.actor, historyFormat: CURRENT_FORMAT });
      return {
        runId,
        status: 'stamped',
        from: plan.from,
        to: plan.to,
        steps: [],
        remaining: 0,
        durationMs: Date.now() - started,
        ...(purged && purged.length > 0 ? { purged: purged.map((record) => record.revision) } : {}),
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
    // A step that needs a background migration complete is refused before anything runs.
    const gates = await readGates(db, history, planGraph, plan);
    if (gates.closed.length > 0) throw new BackgroundGateClosed(gates.closed);
    for (const warning of await planWarnings(plan)) {
      options.log?.warn(warning.message, { revision: warning.revision });
    }
    await options.beforeRun?.(plan, db);
    const run = new PlanRun(db, {
      history,
      plan,
      runId,
      options: { ...options, backgroundInline: [...(options.backgroundInline ?? []), ...gates.inline] },
      historyFormat: state.format.version,
      historyEmpty: state.heads.length === 0 && state.checksums.size === 0,
      interrupted: state.inProgress,
    });
    await fingerprint.before();
    const outcome = await run
      .execute()
      .finally(() => fingerprint.after({ runId, actor: options.actor, historyFormat: run.format }));
    const backgroundStarted = outcome.results
      .filter((step) => step.direction === 'up' && planGraph.has(step.revision))
      .filter((step) => planGraph.get(step.revision).background)
      .filter(
        (step) => !gates.inline.includes(step.revision) && !options.backgroundInline?.includes(step.revision),
      )
      .map((step) => step.revision);
    return {
      runId,
      status: outcome.stopped ? 'stopped' : 'applied',
      from: plan.from,
      to: outcome.heads,
      steps: outcome.results,
      remaining: plan.steps.length - outcome.results.length,
      durationMs: Date.now() - started,
      ...(outcome.resumed ? { resumed: outcome.resumed } : {}),
      ...(backgroundStarted.length > 0 ? { backgroundStarted } : {}),
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
      return planStamp(graph, heads, intent.target, { purge: intent.purge === true });
  }
}

/** Applied revisions whose file changed since: compared on every revision both sides know. */
export function findDrift(graph: RevisionGraph, state: HistoryState): DriftedRevision[] {
  const drifted: DriftedRevision[] = [];
  for (const [revision, appliedChecksum] of state.checksums) {
    if (!graph.has(revision)) continue;
    const migration = graph.get(revision);
    // A squash keeps the id of the last revision it replaces: a database that ran the replaced
    // files applied that id from its old file, whose checksum is not the squash's.
    const fromReplacedFiles = migration.replaces?.some((replaced) => state.checksums.has(replaced));
    if (migration.checksum !== appliedChecksum && !fromReplacedFiles) {
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
 * A database part-way through revisions a squash replaced cannot go on with the squash: it
 * builds them all at once, from nothing.
 */
function assertNotInsideSquash(graph: RevisionGraph, heads: readonly Revision[]): void {
  for (const head of heads) {
    const squash = graph.has(head) ? undefined : graph.replacedBy(head);
    if (!squash) continue;
    throw new GraphError(
      'inside-squash',
      `the database is at ${head}, part-way through the revisions ${graph.get(squash).source} squashes into ` +
        `${squash}; the squash builds them all from nothing, so it cannot finish what was started. With the ` +
        `files from before the squash (git checkout <commit before it> -- <migrations folder>), run ` +
        `rds-migrate up ${squash} (or down base); then this folder goes on from there`,
      [head, squash],
    );
  }
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
  throw new HistoryFormatError({
    schema: history.schema,
    found: state.format.version,
    known: CURRENT_FORMAT,
    release: RELEASE,
    upgradedBy: state.format.release,
  });
}

function assertNoDrift(graph: RevisionGraph, state: HistoryState): void {
  const drifted = findDrift(graph, state);
  if (drifted.length > 0) throw new DriftError(drifted);
}

/**
 * What `stamp --purge` forgets that the migrations lack: the unknown current revisions and the
 * unknown ones the log says are applied, each as the log recorded it (a head someone wrote by
 * hand has no record: it gets a bare one), children before parents.
 */
async function forgotten(
  db: Database,
  history: History,
  graph: RevisionGraph,
  state: HistoryState,
): Promise<RecordedRevision[]> {
  const unknown = new Set(unknownHeads(graph, [...state.heads, ...state.checksums.keys()]));
  if (unknown.size === 0) return [];
  const records = new Map(
    (await history.recordedRevisions(db))
      .filter((record) => unknown.has(record.revision))
      .map((record) => [record.revision, record]),
  );
  const bare = (revision: Revision): RecordedRevision => ({
    revision,
    parents: [],
    message: 'no record in the log',
    checksum: '',
    source: '',
    transactional: true,
  });
  return newestFirst([...unknown].sort().map((revision) => records.get(revision) ?? bare(revision)));
}

/** Records ordered so that none comes after one of its parents: the order a revert would take. */
function newestFirst(records: readonly RecordedRevision[]): RecordedRevision[] {
  const ordered: RecordedRevision[] = [];
  let left = [...records];
  while (left.length > 0) {
    const parents = new Set(left.flatMap((record) => record.parents));
    const tips = left.filter((record) => !parents.has(record.revision));
    // A cycle cannot come from a log; should one be there, take the rest as they are.
    const next = tips.length > 0 ? tips : left;
    ordered.push(...next);
    left = left.filter((record) => !next.includes(record));
  }
  return ordered;
}

async function stamp(
  db: Database,
  history: History,
  graph: RevisionGraph,
  plan: Plan,
  runId: string,
  actor: string,
  state: HistoryState,
  purged?: readonly RecordedRevision[],
): Promise<void> {
  // A purge starts from what the log says is applied, so rows are written only for what changes.
  const before = purged
    ? graph.ancestors([...state.heads, ...state.checksums.keys()].filter((revision) => graph.has(revision)))
    : graph.ancestors(plan.from);
  const after = graph.ancestors(plan.to);
  const marked = graph.sorted([...after].filter((revision) => !before.has(revision)));
  const unmarked = graph.sorted([...before].filter((revision) => !after.has(revision))).reverse();
  const note = stampNote(plan, purged);
  const row = (
    recorded: RecordedRevision,
    direction: LogDirection,
    downStep?: RecordedDownStep,
  ): LoggedStep => ({
    entry: { ...recorded, downStep, direction, runId, actor, note },
    durationMs: 0,
  });
  const known = (revision: Revision): RecordedRevision => {
    const migration = graph.get(revision);
    return {
      revision,
      parents: migration.downRevisions,
      dependsOn: migration.dependsOn,
      message: migration.message,
      checksum: migration.checksum,
      source: migration.source,
      transactional: migration.transaction,
    };
  };
  const rows = [
    ...(purged ?? []).map((recorded) => row(recorded, 'stamp-down')),
    ...unmarked.map((revision) => row(known(revision), 'stamp-down')),
    ...(await Promise.all(
      marked.map(async (revision) =>
        row(known(revision), 'stamp-up', await recordDownStep(graph.get(revision))),
      ),
    )),
  ];
  const historyFormat = state.format.version;
  // Stamping is also how a user says an interrupted migration is dealt with.
  const upgrade = history.upgradeSql(historyFormat);
  const clear = historyFormat === 0 ? '' : history.clearInProgressSql();
  const log = rows.length > 0 ? history.logSql(rows) : '';
  await db.query(`BEGIN;\n${upgrade}\n${clear}\n${log}\n${history.recordHeadsSql(plan.to)}\nCOMMIT;`);
}

/** What a stamp asked for, as typed (for the message that says to add --purge); undefined for a run. */
export function stampTargets(intent: Intent): readonly string[] | undefined {
  if (intent.action !== 'stamp') return undefined;
  return typeof intent.target === 'string' ? [intent.target] : intent.target;
}

/** The note every row of a stamp carries: from where to where, and for a purge, what it forgot. */
function stampNote(plan: Plan, purged: readonly RecordedRevision[] | undefined): string {
  const move = `${plan.from.join(',') || 'base'} -> ${plan.to.join(',') || 'base'}`;
  if (!purged) return `stamp ${move}`;
  const forgot = purged.length > 0 ? purged.map((record) => record.revision).join(', ') : 'nothing unknown';
  return `stamp --purge ${move} (purged ${forgot})`;
}
