/**
 * The custom resource's lifecycle, as the CDK Provider framework drives it.
 *
 * onEvent (Create/Update): claim the run lease, read the database's revision, plan `sync` to the
 * TargetRevision (upgrade or downgrade), and record the request (history table `deploys`) before
 * any side effect. Nothing to do: done, no snapshot. Otherwise start a snapshot (named and
 * recorded first) and return; the framework then polls isComplete, which waits for the snapshot
 * and migrates. onEvent's result carries an `RdsMigrate` marker, which the framework merges into
 * every isComplete event: that is how a poll is told apart from a new request.
 *
 * The request's row is the truth every call reads: a second delivery of the same request (the
 * framework's onEvent retried) joins the first, with its snapshot and its run; a snapshot the
 * database refuses while busy (a backup, a modification, another snapshot) is tried again in
 * later polls with backoff; and the deploy's answer counts what its own runs applied, from the
 * log, whichever poll gives it.
 *
 * Stack rollback: CloudFormation sends Update with the old properties, most likely to the old
 * code (the function is rolled back before the custom resource that depends on it). That code
 * lacks the newer migrations, so when the stack is UPDATE_ROLLBACK_IN_PROGRESS the plan reverts
 * them with the down steps the history recorded when they were applied.
 *
 * Delete never touches the schema or data, and never fails.
 */
import { assertAllowLinesReasoned } from '../lib/engine/allow-lines.ts';
import { BackgroundGateClosed, readGates } from '../lib/engine/background-gate.ts';
import { batchPlanOf } from '../lib/engine/background-plan.ts';
import type { Database } from '../lib/engine/database.ts';
import { type DeployRecord, Deploys, type DeployUpdate, type ProgressSample } from '../lib/engine/deploys.ts';
import { DriftError, GraphError, HistoryError, MigrationFailed } from '../lib/engine/errors.ts';
import { propertiesFingerprint, SNAPSHOT_TAG } from '../lib/engine/function-contract.ts';
import { RevisionGraph } from '../lib/engine/graph.ts';
import type { History, RecordedRevision } from '../lib/engine/history.ts';
import { RunLease } from '../lib/engine/lease.ts';
import { withLock } from '../lib/engine/lock.ts';
import { BASE, type Revision } from '../lib/engine/migration.ts';
import type { Plan } from '../lib/engine/plan.ts';
import { migrationsFromHistory } from '../lib/engine/recorded.ts';
import { planRisks } from '../lib/engine/risk.ts';
import { assertResumable, findDrift, makePlan, migrate, type RunReport } from '../lib/engine/runner.ts';
import {
  pruneSnapshots,
  SnapshotBusyError,
  SnapshotExistsError,
  type SnapshotInfo,
} from '../lib/engine/snapshot.ts';
import { revertingRuns, startDeployRuns } from './background-actions.ts';
import {
  ConfigError,
  type DeployProperties,
  isRecord,
  type LifecycleRequest,
  parseProperties,
  type SnapshotPolicy,
  stackNameOf,
} from './config.ts';
import { DeployFailed, deployFailure } from './failure.ts';
import { migrationLogger, type Runtime } from './runtime.ts';
import { RequestRefused, type VerifiedRequest, verifyLifecycleRequest } from './verify-request.ts';

/** The key of onEvent's result that the framework passes on to every isComplete poll. */
export const MARKER_KEY = 'RdsMigrate';

export type Phase = 'done' | 'snapshot' | 'migrate';

/** What onEvent decided, for isComplete. */
export interface DeployMarker {
  /** done: nothing to do; snapshot: wait for `snapshotId`, then migrate; migrate: migrate now. */
  readonly phase: Phase;
  /** The request that claimed the run lease: a poll of an older request must not migrate. */
  readonly requestId: string;
  readonly target: Revision;
  /** The database's heads when onEvent planned. */
  readonly from: readonly Revision[];
  readonly snapshotId?: string;
  /** True when the plan reverts revisions known only from the history (a stack rollback run by older code). */
  readonly revertsFromHistory?: boolean;
  /** The plan as onEvent saw it: `up <rev>` / `down <rev>`, for the logs. */
  readonly plan: readonly string[];
}

/** What Data carries to CloudFormation (`Fn::GetAtt`); every value a string. */
export interface DeployData {
  readonly Revision: string;
  readonly PreviousRevision: string;
  readonly SnapshotId: string;
  readonly Applied: string;
  readonly Reverted: string;
  readonly Note?: string;
  readonly [key: string]: string | undefined;
}

export interface OnEventResult {
  readonly PhysicalResourceId: string;
  readonly Data?: DeployData;
  readonly [MARKER_KEY]: DeployMarker;
}

/** Delete's answer: the incoming physical id (the framework refuses a changed one), and a note. */
export interface DeleteResult {
  readonly PhysicalResourceId?: string;
  readonly Data: { readonly Note: string };
  readonly [MARKER_KEY]: DeployMarker;
}

export interface IsCompleteResult {
  readonly IsComplete: boolean;
  readonly Data?: Partial<DeployData>;
}

export const DELETE_NOTE = 'rds-migrate leaves the schema and data in place when the resource is deleted';

// ---------- onEvent ----------

export async function onEvent(request: LifecycleRequest, runtime: Runtime): Promise<OnEventResult> {
  const properties = parseProperties(request.properties);
  // Before anything is read or changed: CloudFormation itself must be sending this request now.
  const verified = await confirmWithCloudFormation(request, runtime);
  const physicalResourceId =
    request.physicalResourceId && request.requestType !== 'Create'
      ? request.physicalResourceId
      : `rds-migrate/${properties.databaseIdentifier ?? runtime.config.identifier}`;
  const graph = await runtime.bundle();
  assertTargetInBundle(graph, properties.targetRevision);
  logBundleMatch(runtime, graph, properties);

  const started = Date.now();
  const { record, counts } = await runtime.withDatabase((db) =>
    withLock(db, runtime.history.lockName, runtime.lockWaitMs(), async () => {
      await new RunLease(runtime.history).claim(db, request.requestId);
      const deploys = new Deploys(runtime.history);
      const first = await deploys.find(db, request.requestId);
      if (first) {
        // The framework delivered this request again: join the first delivery, start nothing.
        runtime.logger.info('joining the first delivery of this request', {
          phase: first.phase,
          snapshotId: first.snapshotId,
        });
        return { record: first, counts: await runtime.history.requestCounts(db, first.requestId) };
      }
      const plan = await planDeploy(db, runtime, request, verified, graph, properties.targetRevision);
      const now = runtime.clock.now();
      const snapshot = await snapshotDecision(
        plan,
        properties.snapshot.policy,
        runtime,
        verified.rollingBack,
      );
      const phase = plan.steps.length === 0 ? 'done' : snapshot.take ? 'snapshot-pending' : 'migrate';
      if (plan.steps.length > 0) runtime.logger.info('snapshot decision', { ...snapshot });
      const recorded = await deploys.insert(db, {
        snapshotPolicy: properties.snapshot.policy,
        snapshotReason: plan.steps.length === 0 ? 'nothing to apply' : snapshot.reason,
        ...(snapshot.retentionDays === undefined ? {} : { backupRetentionDays: snapshot.retentionDays }),
        requestId: request.requestId,
        stack: stackNameOf(request.stackId),
        target: properties.targetRevision,
        from: plan.from,
        plan: plan.steps.map((step) => `${step.direction} ${step.revision}`),
        phase,
        startedAt: now,
        ...(phase === 'snapshot-pending' ? { snapshotId: runtime.snapshots.nameAt(now) } : {}),
        ...(phase === 'done' ? { finishedAt: now } : {}),
      });
      runtime.logger.info('planned', {
        from: recorded.from,
        target: recorded.target,
        plan: recorded.plan,
        fromHistory: revertsFromHistory(graph, recorded),
        durationMs: Date.now() - started,
      });
      return { record: recorded, counts: { up: 0, down: 0 } };
    }),
  );
  // The snapshot is asked for once the session is closed: a local snapshot copies the database,
  // which PostgreSQL does only while nobody is connected to it. Its name is recorded already.
  const requested =
    record.phase === 'snapshot-pending' && record.snapshotAttempts === 0
      ? await requestSnapshot(record, runtime)
      : record;
  const marker = markerFor(requested, graph);
  if (record.phase === 'done') {
    return {
      PhysicalResourceId: physicalResourceId,
      Data: deployData(
        record,
        counts,
        record.plan.length === 0 ? 'already at the target revision' : undefined,
      ),
      [MARKER_KEY]: marker,
    };
  }
  return { PhysicalResourceId: physicalResourceId, [MARKER_KEY]: marker };
}

/** The marker every isComplete event carries back; the request's row holds the rest. */
function markerFor(record: DeployRecord, graph: RevisionGraph): DeployMarker {
  const phase: Phase = record.phase === 'done' ? 'done' : record.phase === 'migrate' ? 'migrate' : 'snapshot';
  return {
    phase,
    requestId: record.requestId,
    target: record.target,
    from: record.from,
    plan: record.plan,
    ...(record.snapshotId ? { snapshotId: record.snapshotId } : {}),
    ...(revertsFromHistory(graph, record) ? { revertsFromHistory: true } : {}),
  };
}

/** True when the plan reverts revisions this bundle lacks (a stack rollback run by older code). */
function revertsFromHistory(graph: RevisionGraph, record: DeployRecord): boolean {
  return record.from.some((revision) => !graph.has(revision));
}

interface SnapshotDecision {
  readonly take: boolean;
  /** Why, in words for the logs and the answer. */
  readonly reason: string;
  /** The database's automated backup retention, when it could be read. */
  readonly retentionDays?: number;
}

/**
 * Whether the deploy takes a snapshot, by the policy: `always`; `when-risky`, only for a plan a
 * transaction cannot take back whole (lib/engine/risk.ts); `never`. Without a snapshot, the
 * restore point is point-in-time recovery, so a database without automated backups is refused.
 */
async function snapshotDecision(
  plan: Plan,
  policy: SnapshotPolicy,
  runtime: Runtime,
  rollingBack: boolean,
): Promise<SnapshotDecision> {
  const retentionDays = plan.steps.length > 0 ? await retentionOf(runtime) : undefined;
  if (policy === 'always') return { take: true, reason: 'policy always', retentionDays };
  let decision: SnapshotDecision = { take: false, reason: 'policy never', retentionDays };
  if (policy === 'when-risky') {
    const risky = (await planRisks(plan)).filter((risk) => risk.reasons.length > 0);
    decision =
      risky.length > 0
        ? {
            take: true,
            reason: `policy when-risky: ${risky
              .slice(0, 3)
              .map((risk) => `${risk.direction} ${risk.revision} ${risk.reasons.join(', ')}`)
              .join('; ')}${risky.length > 3 ? `; and ${risky.length - 3} more` : ''}`,
            retentionDays,
          }
        : {
            take: false,
            reason: 'policy when-risky: every step is transactional and keeps its data',
            retentionDays,
          };
  }
  if (!decision.take && plan.steps.length > 0 && retentionDays === 0) {
    // A stack rollback is never refused for policy: refusing it leaves the database ahead of the
    // code (UPDATE_ROLLBACK_FAILED). Without a restore point it takes a snapshot instead.
    if (rollingBack) {
      return {
        take: true,
        reason: `${decision.reason}, but the stack is rolling back and automated backups are off: a snapshot is its restore point`,
        retentionDays,
      };
    }
    throw new DeployFailed(
      `${runtime.config.kind} ${runtime.config.identifier} has automated backups off (BackupRetentionPeriod 0) and ` +
        `the snapshot policy '${policy}' takes no snapshot for this plan, so the deploy would have no restore point; ` +
        'nothing was migrated. Turn on automated backups (backupRetention on the database), or set ' +
        "snapshot: { policy: 'always' } on the construct.",
    );
  }
  return decision;
}

/** The backup retention, or undefined when it cannot be read (the decision then does not depend on it). */
async function retentionOf(runtime: Runtime): Promise<number | undefined> {
  if (!runtime.snapshots.restoreWindow) return undefined;
  try {
    return (await runtime.snapshots.restoreWindow()).retentionDays;
  } catch (error) {
    runtime.logger.warn('could not read the backup retention; no restore point check', {
      error: messageOf(error),
    });
    return undefined;
  }
}

/** How long to wait before asking a busy database for the snapshot again: 30 s, doubling, at most 5 min. */
export function snapshotBackoffMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 300_000);
}

/** Time kept for the migration itself when a busy database makes the snapshot wait. */
const BUSY_MARGIN_MS = 5 * 60_000;

/**
 * Asks for the request's snapshot under its recorded name. A database that is busy is asked
 * again later (the row says when); a snapshot of that name that exists already is this
 * request's own (a call that died after RDS accepted it), unless its tags say otherwise.
 */
async function requestSnapshot(record: DeployRecord, runtime: Runtime): Promise<DeployRecord> {
  const save = (update: DeployUpdate) =>
    runtime.withDatabase((db) => new Deploys(runtime.history).update(db, record.requestId, update));
  let name = record.snapshotId ?? runtime.snapshots.nameAt(runtime.clock.now());
  const attempts = record.snapshotAttempts + 1;
  const tags = {
    [SNAPSHOT_TAG.stack]: record.stack,
    [SNAPSHOT_TAG.from]: revisionsText(record.from),
    [SNAPSHOT_TAG.to]: record.target,
    [SNAPSHOT_TAG.request]: record.requestId,
  };
  for (let sequence = 2; ; sequence++) {
    try {
      await runtime.snapshots.create({ name, tags });
      break;
    } catch (error) {
      if (error instanceof SnapshotExistsError) {
        if (await isOwnSnapshot(runtime, name, record.requestId)) break;
        if (sequence > 5) throw error;
        name = runtime.snapshots.nameAt(runtime.clock.now(), sequence);
        continue;
      }
      if (!(error instanceof SnapshotBusyError)) throw error;
      const waited = runtime.clock.now().getTime() - record.startedAt.getTime();
      const budget = runtime.config.deployTimeoutSeconds * 1000 - BUSY_MARGIN_MS;
      if (waited >= budget) {
        throw new DeployFailed(
          `${runtime.config.kind} ${runtime.config.identifier} stayed busy for ${Math.round(waited / 60_000)} min ` +
            `(${error.busyWith}), so no snapshot could be taken and nothing was migrated: the database is still at ` +
            `${revisionsText(record.from)}. Deploy again once it is available (after its backup window or ` +
            'modification), or set snapshot: { enabled: false } on the construct to migrate without a snapshot.',
        );
      }
      // The last attempt comes at the edge of the budget, not after it.
      const nextAttemptAt = new Date(
        Math.min(
          runtime.clock.now().getTime() + snapshotBackoffMs(attempts),
          record.startedAt.getTime() + budget,
        ),
      );
      runtime.logger.info('database busy: waiting to take the snapshot', {
        snapshotId: name,
        busyWith: error.busyWith,
        attempts,
        nextAttemptAt: nextAttemptAt.toISOString(),
      });
      await save({ snapshotId: name, snapshotAttempts: attempts, waitingFor: error.busyWith, nextAttemptAt });
      return {
        ...record,
        snapshotId: name,
        snapshotAttempts: attempts,
        waitingFor: error.busyWith,
        nextAttemptAt,
      };
    }
  }
  runtime.logger.info('snapshot requested', { snapshotId: name, attempts });
  await save({
    phase: 'snapshot',
    snapshotId: name,
    snapshotAttempts: attempts,
    waitingFor: undefined,
    nextAttemptAt: undefined,
  });
  return {
    ...record,
    phase: 'snapshot',
    snapshotId: name,
    snapshotAttempts: attempts,
    waitingFor: undefined,
  };
}

async function isOwnSnapshot(runtime: Runtime, name: string, requestId: string): Promise<boolean> {
  const found = (await runtime.snapshots.list()).find((snapshot) => snapshot.id === name);
  return found?.tags[SNAPSHOT_TAG.request] === requestId;
}

/** Reads the state under the lock and plans; revisions the bundle lacks are allowed only in a stack rollback. */
async function planDeploy(
  db: Database,
  runtime: Runtime,
  request: LifecycleRequest,
  verified: VerifiedRequest,
  graph: RevisionGraph,
  target: Revision,
): Promise<Plan> {
  const state = await runtime.history.read(db);
  const unknown = state.heads.filter((revision) => !graph.has(revision));
  let planGraph = graph;
  if (unknown.length > 0) {
    assertStackRollingBack(verified, request.stackId, unknown);
    planGraph = await graphWithHistory(db, runtime.history, graph, state.heads);
  }
  const drift = findDrift(planGraph, state);
  if (drift.length > 0) throw new DriftError(drift);
  const plan = makePlan(planGraph, state.heads, { action: 'sync', target });
  // Refuse now, before a snapshot, what the run would refuse later.
  assertResumable(state.inProgress, plan);
  await assertAllowLinesReasoned(plan);
  await assertGatesOpen(db, runtime, planGraph, plan, parseProperties(request.properties).contextArgs);
  if (state.inProgress) {
    runtime.logger.warn('resuming a migration that an earlier run left half-done', {
      inProgress: state.inProgress,
    });
  }
  return plan;
}

/**
 * A background migration applied by this same plan and needed complete by a later step of it
 * runs in-process during the deploy: allowed for a table this small (a fresh database's is
 * empty), refused above it, where the run belongs beside the deploy, not in it.
 */
export const INLINE_BACKGROUND_MAX_ROWS = 10_000;

/**
 * The expand → backfill → contract gate, before any snapshot: a step that needs a background
 * migration complete fails the deploy while it is not, saying how far it is.
 */
async function assertGatesOpen(
  db: Database,
  runtime: Runtime,
  graph: RevisionGraph,
  plan: Plan,
  args: Readonly<Record<string, string>>,
): Promise<void> {
  const gates = await readGates(db, runtime.history, graph, plan);
  if (gates.closed.length > 0) throw new DeployFailed(new BackgroundGateClosed(gates.closed).message);
  for (const revision of gates.inline) {
    const batch = await batchPlanOf(graph.get(revision), args);
    const rows = await rowsUpTo(db, batch.table, INLINE_BACKGROUND_MAX_ROWS + 1);
    if (rows <= INLINE_BACKGROUND_MAX_ROWS) continue;
    const waiting = plan.steps
      .filter((step) => step.migration.requiresComplete?.includes(revision))
      .map((step) => step.revision);
    throw new DeployFailed(
      `background migration ${revision} and ${waiting.join(', ')}, which requires it complete, are in the same deploy, ` +
        `and ${batch.table} has more than ${INLINE_BACKGROUND_MAX_ROWS} rows, too many to backfill inside the deploy; ` +
        `nothing was migrated. Deploy ${revision} first, and ${waiting.join(', ')} once it has completed.`,
    );
  }
}

/** The table's rows, counting no further than `limit`; 0 when it does not exist yet (the plan creates it). */
async function rowsUpTo(db: Database, table: string, limit: number): Promise<number> {
  const found = await db.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [table]);
  if (!found.rows[0]?.found) return 0;
  const counted = await db.query<{ rows: string }>(
    `SELECT count(*) AS rows FROM (SELECT 1 FROM ${found.rows[0].found} LIMIT ${Number(limit)}) AS some`,
  );
  return Number(counted.rows[0]?.rows ?? 0);
}

/**
 * Delete succeeds whatever happens: a failed Delete blocks the stack's deletion or rollback.
 * `runtime` is a thunk because even a broken environment must not fail it.
 */
export async function onDelete(
  request: LifecycleRequest,
  runtime: () => Runtime,
  logger: Runtime['logger'],
): Promise<DeleteResult> {
  // Stop any poll of an abandoned Create/Update from migrating later; best effort, never fatal.
  // Only for a Delete CloudFormation confirms: a forged one must not stop a deploy in flight.
  const leaseClaimed = await Promise.resolve()
    .then(async () => {
      const current = runtime();
      await confirmWithCloudFormation(request, current);
      return current.withDatabase((db) =>
        new RunLease(current.history).claimIfPresent(db, request.requestId),
      );
    })
    .catch((error: unknown) => {
      logger.warn('did not claim the run lease on Delete; continuing', { error: messageOf(error) });
      return false;
    });
  logger.info('delete: schema and data left in place', {
    physicalResourceId: request.physicalResourceId,
    leaseClaimed,
  });
  return {
    ...(request.physicalResourceId ? { PhysicalResourceId: request.physicalResourceId } : {}),
    Data: { Note: DELETE_NOTE },
    [MARKER_KEY]: { phase: 'done', requestId: request.requestId, target: '', from: [], plan: [] },
  };
}

// ---------- isComplete ----------

export function markerOf(event: Record<string, unknown>): DeployMarker | undefined {
  const marker = event[MARKER_KEY];
  if (marker === undefined) return undefined;
  const phases: readonly string[] = ['done', 'snapshot', 'migrate'];
  if (!isRecord(marker) || typeof marker.phase !== 'string' || !phases.includes(marker.phase)) {
    throw new ConfigError(`the isComplete event's ${MARKER_KEY} is not what onEvent returns`);
  }
  if (typeof marker.requestId !== 'string' || marker.requestId.length > 128) {
    throw new ConfigError(`the isComplete event's ${MARKER_KEY} names no request`);
  }
  if (marker.phase === 'snapshot' && typeof marker.snapshotId !== 'string') {
    throw new ConfigError(`the isComplete event's ${MARKER_KEY} has no snapshotId`);
  }
  return marker as unknown as DeployMarker;
}

export async function isComplete(
  request: LifecycleRequest,
  marker: DeployMarker,
  runtime: Runtime,
): Promise<IsCompleteResult> {
  assertPollOfThisResource(request, marker, runtime);
  if (marker.phase === 'done') return completeIfDone(request, marker, runtime);
  const graph = await runtime.bundle();
  let properties: DeployProperties | undefined;
  let recorded: DeployRecord | undefined;
  const outcome = await (async (): Promise<PollOutcome> => {
    const read = await underLease(runtime, marker, async (db, deploys) => {
      const found = await recordOf(db, deploys, request, marker);
      properties = pollProperties(request, found, runtime);
      recorded = found;
      return { record: found, estimate: await estimateSteps(db, runtime, found) };
    });
    if ('supersededBy' in read) return read;
    const { estimate } = read.value;
    const settings = properties as DeployProperties;
    // Snapshot calls are made with no session open (a local snapshot needs the database idle).
    const record = await advance(read.value.record, runtime, estimate);
    if (record.phase !== 'migrate' && record.phase !== 'done') return { waiting: record };
    const migrated = await underLease(runtime, marker, async (db, deploys) => {
      if (!record.restorePointAt) {
        // The restore point: the moment just before this deploy's first change.
        assertStepsFit(record, runtime, estimate);
        const restorePointAt = runtime.clock.now();
        await deploys.update(db, record.requestId, { restorePointAt });
        Object.assign(record, { restorePointAt });
      }
      // A background run this plan reverts is stopped first; its down step marks it reverted.
      const reverting = record.plan.filter((step) => step.startsWith('down ')).map((step) => step.slice(5));
      const report = await revertingRuns(runtime, db, reverting, `deploy request ${record.requestId}`, () =>
        migrate(
          db,
          graph,
          // The target is the one onEvent recorded, never what a later event says.
          { action: 'sync', target: record.target },
          {
            history: runtime.history,
            actor: `${runtime.actor}:${stackNameOf(request.stackId)}`,
            args: settings.contextArgs,
            log: migrationLogger(runtime.logger),
            lockWaitMs: runtime.lockWaitMs(),
            deadline: runtime.deadline(),
            requestId: record.requestId,
            ...(settings.lockRetries === undefined ? {} : { lockRetries: settings.lockRetries }),
            extendGraph: revertsFromHistory(graph, record)
              ? (planGraph, state) => graphWithHistory(db, runtime.history, planGraph, state.heads)
              : undefined,
          },
        ),
      );
      if (report.status !== 'stopped' && record.phase !== 'done') {
        await deploys.update(db, record.requestId, { phase: 'done', finishedAt: runtime.clock.now() });
      }
      // The background runs this request applied start now, beside the deploy; it does not wait.
      const background =
        report.status === 'stopped'
          ? []
          : await startDeployRuns(runtime, db, record.requestId, settings.contextArgs);
      // What this request's runs applied, from the log: the same answer whichever poll gives it.
      return {
        report,
        record,
        background,
        counts: await runtime.history.requestCounts(db, record.requestId),
      };
    });
    return 'supersededBy' in migrated ? migrated : migrated.value;
  })().catch((error: unknown) => {
    if (error instanceof MigrationFailed) {
      // The whole error for the function's log only: its DETAIL may quote rows.
      runtime.logger.error('migration failed', {
        revision: error.revision,
        direction: error.direction,
        code: error.postgres.code,
        message: error.postgres.message,
        detail: error.postgres.detail,
      });
    }
    // Where the deploy stood comes from its record, never from the event.
    throw deployFailure(error, recorded ? { snapshotId: recorded.snapshotId, from: recorded.from } : {});
  });

  if ('supersededBy' in outcome) {
    // A newer request owns the database now. Usually this poll belongs to a request
    // CloudFormation gave up on (aws-cdk#31541) and its answer goes nowhere; if anyone does wait
    // for it, they must not read success: this request migrated nothing.
    runtime.logger.warn('superseded: a newer request claimed the database; not migrating', {
      requestId: marker.requestId,
      supersededBy: outcome.supersededBy,
    });
    throw new DeployFailed(
      `superseded by request ${outcome.supersededBy}, which claimed this database while this one waited; ` +
        'this request migrated nothing. If two stacks deploy to one database, give each its own historySchema.',
    );
  }
  if ('waiting' in outcome) return { IsComplete: false };
  const { report, record, counts, background } = outcome;
  runtime.logger.info('migrated', {
    status: report.status,
    from: report.from,
    to: report.to,
    steps: report.steps,
    remaining: report.remaining,
    durationMs: report.durationMs,
  });
  if (report.status === 'stopped') {
    // The invocation's time ran out between units: what is done is committed; the next poll goes on.
    return { IsComplete: false };
  }
  const pruned = await prune(runtime, properties as DeployProperties);
  const note = pruned.length > 0 ? `pruned ${pruned.map((snapshot) => snapshot.id).join(', ')}` : undefined;
  const data = deployData(record, counts, note);
  return {
    IsComplete: true,
    Data: background.length > 0 ? { ...data, BackgroundStarted: background.join(',') } : data,
  };
}

type PollOutcome =
  | { readonly supersededBy: string | undefined }
  | { readonly waiting: DeployRecord }
  | {
      readonly report: RunReport;
      readonly record: DeployRecord;
      readonly counts: { up: number; down: number };
      /** The background runs this request started. */
      readonly background: readonly Revision[];
    };

/**
 * `body` under the migration lock, if this request still holds the run lease; otherwise who
 * claimed the database since.
 */
async function underLease<T>(
  runtime: Runtime,
  marker: DeployMarker,
  body: (db: Database, deploys: Deploys) => Promise<T>,
): Promise<{ readonly value: T } | { readonly supersededBy: string | undefined }> {
  return runtime.withDatabase((db) =>
    withLock(db, runtime.history.lockName, runtime.lockWaitMs(), async () => {
      const lease = new RunLease(runtime.history);
      if (!(await lease.isHeldBy(db, marker.requestId)))
        return { supersededBy: (await lease.holder(db))?.token };
      return { value: await body(db, new Deploys(runtime.history)) };
    }),
  );
}

/**
 * The request's row, which onEvent wrote once CloudFormation confirmed the request. A poll of a
 * request without one was never accepted (or its row was lost with a restored database): it is
 * refused, never taken at the event's word.
 */
async function recordOf(
  db: Database,
  deploys: Deploys,
  request: LifecycleRequest,
  marker: DeployMarker,
): Promise<DeployRecord> {
  const found = await deploys.find(db, marker.requestId);
  if (!found) {
    throw new RequestRefused(
      `no deploy of request ${marker.requestId} is recorded in the history's deploys, so this poll has nothing to ` +
        'continue; onEvent records every request CloudFormation sends before it acts',
    );
  }
  if (found.stack !== stackNameOf(request.stackId)) {
    throw new RequestRefused(
      `request ${marker.requestId} belongs to stack ${found.stack}, not to this poll's stack`,
    );
  }
  return found;
}

/** A poll names this function's stack and resource, and the request its marker was made for. */
function assertPollOfThisResource(request: LifecycleRequest, marker: DeployMarker, runtime: Runtime): void {
  const { stackId, resourceLogicalId } = runtime.config.deployedBy;
  if (request.stackId !== stackId || request.logicalResourceId !== resourceLogicalId) {
    throw new RequestRefused(
      `the poll names stack ${stackNameOf(request.stackId)} and resource ${request.logicalResourceId}; this function ` +
        `serves ${stackId ? stackNameOf(stackId) : 'no stack (no STACK_ID in its environment)'} and ${resourceLogicalId ?? 'no resource'} only`,
    );
  }
  if (marker.requestId !== request.requestId) {
    throw new RequestRefused(`the poll's ${MARKER_KEY} marker names another request than its RequestId`);
  }
}

/** A poll of a request onEvent found nothing to do for: complete when its record says so. */
async function completeIfDone(
  request: LifecycleRequest,
  marker: DeployMarker,
  runtime: Runtime,
): Promise<IsCompleteResult> {
  const record = await runtime.withDatabase((db) =>
    recordOf(db, new Deploys(runtime.history), request, marker),
  );
  if (record.phase === 'done') return { IsComplete: true };
  throw new RequestRefused(
    `the poll says request ${marker.requestId} is done; its record says ${record.phase}`,
  );
}

/**
 * The properties a poll acts on: the event's, only when they are the ones the stack deployed
 * (the same fingerprint check as onEvent; the old properties count only for a rollback's
 * downgrade run by the newer code), and only with the target onEvent recorded.
 */
function pollProperties(request: LifecycleRequest, record: DeployRecord, runtime: Runtime): DeployProperties {
  const deployed = runtime.config.deployedBy.propertiesSha256;
  const downgrade = record.plan.every((step) => step.startsWith('down '));
  const matches =
    deployed !== undefined &&
    (propertiesFingerprint(request.properties) === deployed ||
      (downgrade &&
        request.oldProperties !== undefined &&
        propertiesFingerprint(request.oldProperties) === deployed));
  if (!matches) {
    throw new RequestRefused("the poll's properties are not the ones this stack deployed");
  }
  const properties = parseProperties(request.properties);
  if (properties.targetRevision !== record.target) {
    throw new RequestRefused(
      `the poll targets ${properties.targetRevision}; request ${record.requestId} was recorded for ${record.target}`,
    );
  }
  return properties;
}

/**
 * Moves a request forward as far as it can go now: asks a busy database for the snapshot again
 * when its time has come, and waits for a requested snapshot to be available.
 */
async function advance(
  record: DeployRecord,
  runtime: Runtime,
  estimate: StepsEstimate,
): Promise<DeployRecord> {
  if (record.phase === 'snapshot-pending') {
    const due = !record.nextAttemptAt || record.nextAttemptAt.getTime() <= runtime.clock.now().getTime();
    if (!due) {
      runtime.logger.info('database busy: waiting to take the snapshot', {
        snapshotId: record.snapshotId,
        busyWith: record.waitingFor,
        nextAttemptAt: record.nextAttemptAt?.toISOString(),
      });
      return record;
    }
    record = await requestSnapshot(record, runtime);
    if (record.phase !== 'snapshot') return record;
  }
  if (record.phase !== 'snapshot' || !record.snapshotId) return record;
  const state = await runtime.snapshots.state(record.snapshotId);
  runtime.logger.info('snapshot state', { snapshotId: record.snapshotId, state });
  if (state === 'creating') return watchSnapshot(record, runtime, estimate);
  if (state === 'failed') {
    throw new DeployFailed(
      `snapshot ${record.snapshotId} failed, so nothing was migrated: the database is still at ` +
        `${revisionsText(record.from)}. See the RDS events of ${runtime.config.identifier}, then deploy again.`,
    );
  }
  await runtime.withDatabase((db) =>
    new Deploys(runtime.history).update(db, record.requestId, { phase: 'migrate' }),
  );
  return { ...record, phase: 'migrate' };
}

/** What the plan's steps took when they last ran on this database: the best guess of what they take now. */
export interface StepsEstimate {
  /** Milliseconds of the steps that ran before. */
  readonly knownMs: number;
  /** `<direction> <revision>` of the steps that never ran here: their time is not known. */
  readonly unknown: readonly string[];
  /** The longest known step, for messages. */
  readonly longest?: { readonly step: string; readonly ms: number };
}

async function estimateSteps(db: Database, runtime: Runtime, record: DeployRecord): Promise<StepsEstimate> {
  const rows = await runtime.history.log(db, 1000);
  let knownMs = 0;
  const unknown: string[] = [];
  let longest: StepsEstimate['longest'];
  for (const step of record.plan) {
    const [direction, revision] = step.split(' ');
    const earlier = rows.find((row) => row.revision === revision && row.direction === direction);
    if (!earlier) {
      unknown.push(step);
      continue;
    }
    knownMs += earlier.durationMs;
    if (!longest || earlier.durationMs > longest.ms) longest = { step, ms: earlier.durationMs };
  }
  return { knownMs, unknown, longest };
}

/** What a deploy keeps free at the end of its budget: a last poll, the answer. */
const BUDGET_MARGIN_MS = 2 * 60_000;

/** When the deploy's time budget (the Provider framework's total timeout) runs out. */
function budgetEnd(record: DeployRecord, runtime: Runtime): number {
  return record.startedAt.getTime() + runtime.config.deployTimeoutSeconds * 1000;
}

function minutes(ms: number): string {
  return ms < 60_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`;
}

/**
 * Before the first step: the steps that ran here before must fit in what is left of the budget,
 * or the deploy stops now, cleanly, rather than being cut off by CloudFormation mid-plan.
 */
function assertStepsFit(record: DeployRecord, runtime: Runtime, estimate: StepsEstimate): void {
  const left = budgetEnd(record, runtime) - runtime.clock.now().getTime() - BUDGET_MARGIN_MS;
  runtime.logger.info('time budget before migrating', {
    leftMs: left,
    knownStepsMs: estimate.knownMs,
    stepsNeverRunHere: estimate.unknown,
  });
  if (estimate.knownMs <= left) return;
  const longest = estimate.longest ? ` (${estimate.longest.step} took ${minutes(estimate.longest.ms)})` : '';
  throw new DeployFailed(
    `the plan's migrations took ${minutes(estimate.knownMs)} when they last ran on this database${longest}, ` +
      `and this deploy has ${minutes(Math.max(0, left))} left of its ${minutes(runtime.config.deployTimeoutSeconds * 1000)}; ` +
      `nothing was migrated: the database is still at ${revisionsText(record.from)}. Run the long migration outside ` +
      'the deploy (rds-migrate up, or a background migration), or raise timeouts.total (at most 1 hour).',
  );
}

/**
 * A snapshot still being made: records its progress, and fails the deploy early when, at the
 * rate it goes, it will not be done in time for the migrations.
 */
async function watchSnapshot(
  record: DeployRecord,
  runtime: Runtime,
  estimate: StepsEstimate,
): Promise<DeployRecord> {
  // Steps that cannot fit whatever the snapshot does: say so now, not after the wait.
  assertStepsFit(record, runtime, estimate);
  const percent = runtime.snapshots.progress
    ? await runtime.snapshots.progress(record.snapshotId ?? '')
    : undefined;
  if (percent === undefined || percent >= 100) return record;
  const now = runtime.clock.now();
  const samples = [...(record.snapshotProgress ?? []), { at: now.toISOString(), percent }].slice(-20);
  await runtime.withDatabase((db) =>
    new Deploys(runtime.history).update(db, record.requestId, { snapshotProgress: samples }),
  );
  const first = samples[0] as ProgressSample;
  const elapsed = now.getTime() - new Date(first.at).getTime();
  const gained = percent - first.percent;
  const finishAt = gained > 0 ? now.getTime() + ((100 - percent) * elapsed) / gained : undefined;
  const mustFinishBy = budgetEnd(record, runtime) - BUDGET_MARGIN_MS - estimate.knownMs;
  runtime.logger.info('snapshot progress', {
    snapshotId: record.snapshotId,
    percent,
    expectedDoneAt: finishAt === undefined ? undefined : new Date(finishAt).toISOString(),
    mustBeDoneBy: new Date(mustFinishBy).toISOString(),
  });
  const late = finishAt === undefined ? now.getTime() > mustFinishBy : finishAt > mustFinishBy;
  if (!late) return { ...record, snapshotProgress: samples };
  const pace =
    finishAt === undefined
      ? 'it has not moved'
      : `at its pace it needs ${minutes(finishAt - now.getTime())} more`;
  const steps =
    estimate.knownMs > 0 ? ` (which took ${minutes(estimate.knownMs)} when they last ran here)` : '';
  throw new DeployFailed(
    `snapshot ${record.snapshotId} is at ${percent}% and ${pace}, past what this deploy's ` +
      `${minutes(runtime.config.deployTimeoutSeconds * 1000)} leaves for it and the migrations${steps}; nothing was migrated: ` +
      `the database is still at ${revisionsText(record.from)}. The snapshot goes on and is kept: deploy again once it is ` +
      "available, or use snapshot: { policy: 'when-risky' } or 'never' with automated backups, whose restore point " +
      'costs no wait.',
  );
}

/** Retention runs after a successful migration; failing it must not fail (and roll back) the deploy. */
async function prune(runtime: Runtime, properties: DeployProperties): Promise<SnapshotInfo[]> {
  if (properties.snapshot.retain === undefined) return [];
  try {
    const deleted = await pruneSnapshots(runtime.snapshots, properties.snapshot.retain);
    if (deleted.length > 0)
      runtime.logger.info('pruned snapshots', { deleted: deleted.map((snapshot) => snapshot.id) });
    return deleted;
  } catch (error) {
    runtime.logger.warn('could not prune old snapshots', { error: messageOf(error) });
    return [];
  }
}

// ---------- rollback ----------

/** Unknown revisions are only reverted while CloudFormation rolls the stack back. */
function assertStackRollingBack(
  verified: VerifiedRequest,
  stackId: string,
  unknown: readonly Revision[],
): void {
  if (verified.rollingBack) return;
  const revisions = unknown.join(', ');
  throw new DeployFailed(
    `the database is at revision ${revisions}, which this function's migrations do not include ` +
      `(stack ${stackNameOf(stackId)} is ${verified.stackStatus}, not rolling back). Deploy the code that ` +
      `contains ${revisions}, or take the database down to a revision this code has with that code first.`,
  );
}

/** verifyLifecycleRequest, with a refusal logged as such before it becomes the FAILED reason. */
async function confirmWithCloudFormation(
  request: LifecycleRequest,
  runtime: Runtime,
): Promise<VerifiedRequest> {
  try {
    return await verifyLifecycleRequest(request, runtime.config, runtime.cloudformation);
  } catch (error) {
    if (error instanceof RequestRefused) {
      runtime.logger.warn('lifecycle request refused', {
        reason: error.message,
        requestType: request.requestType,
      });
    }
    throw error;
  }
}

/** The bundle plus the applied revisions it lacks, rebuilt from their recorded down steps. */
export async function graphWithHistory(
  db: Database,
  history: History,
  graph: RevisionGraph,
  heads: readonly Revision[],
): Promise<RevisionGraph> {
  const recorded = new Map((await history.recordedRevisions(db)).map((record) => [record.revision, record]));
  const needed: RecordedRevision[] = [];
  const seen = new Set<Revision>();
  const stack = heads.filter((revision) => !graph.has(revision));
  while (stack.length > 0) {
    const revision = stack.pop() as Revision;
    if (graph.has(revision) || seen.has(revision)) continue;
    seen.add(revision);
    const record = recorded.get(revision);
    if (!record) {
      throw new HistoryError(
        `revision ${revision} is applied but the history has no record of how it was applied, so it cannot be reverted here`,
      );
    }
    needed.push(record);
    stack.push(...record.parents);
  }
  if (needed.length === 0) return graph;
  const known = graph.order.map((revision) => graph.get(revision));
  return RevisionGraph.from([...known, ...(await migrationsFromHistory(needed))]);
}

// ---------- helpers ----------

function assertTargetInBundle(graph: RevisionGraph, target: Revision): void {
  if (target === BASE || graph.has(target)) return;
  throw new GraphError(
    'unknown-revision',
    `TargetRevision ${target} is not among this function's migrations (its heads: ${graph.heads.join(', ') || 'none'}); ` +
      'the template and the function code come from different builds: deploy them together',
    [target],
  );
}

function logBundleMatch(runtime: Runtime, graph: RevisionGraph, properties: DeployProperties): void {
  runtime.logger.info('request', {
    target: properties.targetRevision,
    migrationsHash: properties.migrationsHash,
    bundleHeads: graph.heads,
    bundleRevisions: graph.size,
    snapshot: properties.snapshot,
  });
}

function deployData(record: DeployRecord, counts: { up: number; down: number }, note?: string): DeployData {
  return {
    Revision: record.target,
    PreviousRevision: revisionsText(record.from),
    SnapshotId: record.phase === 'done' && record.plan.length === 0 ? '' : (record.snapshotId ?? ''),
    Applied: String(counts.up),
    Reverted: String(counts.down),
    ...(record.snapshotPolicy ? { SnapshotPolicy: record.snapshotPolicy } : {}),
    ...(record.snapshotReason ? { SnapshotReason: record.snapshotReason } : {}),
    ...(record.restorePointAt ? { RestorePoint: record.restorePointAt.toISOString() } : {}),
    ...(record.backupRetentionDays === undefined
      ? {}
      : { BackupRetentionDays: String(record.backupRetentionDays) }),
    ...(note ? { Note: note } : {}),
  };
}

function revisionsText(revisions: readonly Revision[]): string {
  return revisions.length > 0 ? revisions.join('+') : BASE;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
