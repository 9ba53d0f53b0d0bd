/**
 * The custom resource's lifecycle, as the CDK Provider framework drives it.
 *
 * onEvent (Create/Update): claim the run lease, read the database's revision, plan `sync` to the
 * TargetRevision (upgrade or downgrade). Nothing to do: done, no snapshot. Otherwise start a
 * snapshot and return; the framework then polls isComplete, which waits for the snapshot and
 * migrates. onEvent's result carries an `RdsMigrate` marker, which the framework merges into
 * every isComplete event: that is how a poll is told apart from a new request.
 *
 * Stack rollback: CloudFormation sends Update with the old properties, most likely to the old
 * code (the function is rolled back before the custom resource that depends on it). That code
 * lacks the newer migrations, so when the stack is UPDATE_ROLLBACK_IN_PROGRESS the plan reverts
 * them with the down steps the history recorded when they were applied.
 *
 * Delete never touches the schema or data, and never fails.
 */
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import type { Database } from '../lib/engine/database.ts';
import { DriftError, GraphError, HistoryError } from '../lib/engine/errors.ts';
import { RevisionGraph } from '../lib/engine/graph.ts';
import type { History, RecordedRevision } from '../lib/engine/history.ts';
import { RunLease } from '../lib/engine/lease.ts';
import { withLock } from '../lib/engine/lock.ts';
import { BASE, type Revision } from '../lib/engine/migration.ts';
import type { Plan } from '../lib/engine/plan.ts';
import { migrationsFromHistory } from '../lib/engine/recorded.ts';
import { assertResumable, findDrift, makePlan, migrate } from '../lib/engine/runner.ts';
import { pruneSnapshots, type SnapshotInfo } from '../lib/engine/snapshot.ts';
import { awsCallHint } from './aws-errors.ts';
import {
  ConfigError,
  type DeployProperties,
  isRecord,
  type LifecycleRequest,
  parseProperties,
  stackNameOf,
} from './config.ts';
import { DeployFailed, deployFailure } from './failure.ts';
import { migrationLogger, type Runtime } from './runtime.ts';

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
const ROLLBACK_STATUS = 'UPDATE_ROLLBACK_IN_PROGRESS';

// ---------- onEvent ----------

export async function onEvent(request: LifecycleRequest, runtime: Runtime): Promise<OnEventResult> {
  const properties = parseProperties(request.properties);
  const physicalResourceId =
    request.physicalResourceId && request.requestType !== 'Create'
      ? request.physicalResourceId
      : `rds-migrate/${properties.databaseIdentifier ?? runtime.config.identifier}`;
  const graph = await runtime.bundle();
  assertTargetInBundle(graph, properties.targetRevision);
  logBundleMatch(runtime, graph, properties);

  const started = Date.now();
  const { plan, fromHistory } = await runtime.withDatabase((db) =>
    withLock(db, runtime.history.lockName, runtime.lockWaitMs(), async () => {
      await new RunLease(runtime.history).claim(db, request.requestId);
      return planDeploy(db, runtime, request, graph, properties.targetRevision);
    }),
  );
  const marker = {
    requestId: request.requestId,
    target: properties.targetRevision,
    from: plan.from,
    plan: plan.steps.map((step) => `${step.direction} ${step.revision}`),
    ...(fromHistory ? { revertsFromHistory: true } : {}),
  };
  runtime.logger.info('planned', {
    from: plan.from,
    target: properties.targetRevision,
    plan: marker.plan,
    fromHistory,
    durationMs: Date.now() - started,
  });

  if (plan.steps.length === 0) {
    return {
      PhysicalResourceId: physicalResourceId,
      Data: deployData(properties.targetRevision, plan.from, undefined, [], 'already at the target revision'),
      [MARKER_KEY]: { ...marker, phase: 'done' },
    };
  }
  if (!properties.snapshot.enabled) {
    // Migrating happens in isComplete either way: one path, one lease check, and onEvent stays quick.
    return { PhysicalResourceId: physicalResourceId, [MARKER_KEY]: { ...marker, phase: 'migrate' } };
  }
  const snapshotId = await runtime.snapshots.create({
    tags: {
      'rds-migrate:stack': stackNameOf(request.stackId),
      'rds-migrate:from': revisionsText(plan.from),
      'rds-migrate:to': properties.targetRevision,
    },
  });
  runtime.logger.info('snapshot requested', { snapshotId });
  return {
    PhysicalResourceId: physicalResourceId,
    [MARKER_KEY]: { ...marker, phase: 'snapshot', snapshotId },
  };
}

/** Reads the state under the lock and plans; revisions the bundle lacks are allowed only in a stack rollback. */
async function planDeploy(
  db: Database,
  runtime: Runtime,
  request: LifecycleRequest,
  graph: RevisionGraph,
  target: Revision,
): Promise<{ plan: Plan; fromHistory: boolean }> {
  const state = await runtime.history.read(db);
  const unknown = state.heads.filter((revision) => !graph.has(revision));
  let planGraph = graph;
  if (unknown.length > 0) {
    await assertStackRollingBack(runtime.cloudformation, request.stackId, unknown);
    planGraph = await graphWithHistory(db, runtime.history, graph, state.heads);
  }
  const drift = findDrift(planGraph, state);
  if (drift.length > 0) throw new DriftError(drift);
  const plan = makePlan(planGraph, state.heads, { action: 'sync', target });
  // Refuse now, before a snapshot, what the run would refuse later.
  assertResumable(state.inProgress, plan);
  if (state.inProgress) {
    runtime.logger.warn('resuming a migration that an earlier run left half-done', {
      inProgress: state.inProgress,
    });
  }
  return { plan, fromHistory: unknown.length > 0 };
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
  const leaseClaimed = await Promise.resolve()
    .then(() => {
      const current = runtime();
      return current.withDatabase((db) =>
        new RunLease(current.history).claimIfPresent(db, request.requestId),
      );
    })
    .catch((error: unknown) => {
      logger.warn('could not claim the run lease on Delete; continuing', { error: messageOf(error) });
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
  if (marker.phase === 'done') return { IsComplete: true };
  const properties = parseProperties(request.properties);
  if (marker.phase === 'snapshot' && marker.snapshotId) {
    const state = await runtime.snapshots.state(marker.snapshotId);
    runtime.logger.info('snapshot state', { snapshotId: marker.snapshotId, state });
    if (state === 'creating') return { IsComplete: false };
    if (state === 'failed') {
      throw new DeployFailed(
        `snapshot ${marker.snapshotId} failed, so nothing was migrated: the database is still at ` +
          `${revisionsText(marker.from)}. See the RDS events of ${runtime.config.identifier}, then deploy again.`,
      );
    }
  }
  const graph = await runtime.bundle();
  const outcome = await runtime
    .withDatabase((db) =>
      withLock(db, runtime.history.lockName, runtime.lockWaitMs(), async () => {
        const lease = new RunLease(runtime.history);
        if (!(await lease.isHeldBy(db, marker.requestId)))
          return { supersededBy: (await lease.holder(db))?.token };
        const report = await migrate(
          db,
          graph,
          { action: 'sync', target: properties.targetRevision },
          {
            history: runtime.history,
            actor: `${runtime.actor}:${stackNameOf(request.stackId)}`,
            args: properties.contextArgs,
            log: migrationLogger(runtime.logger),
            lockWaitMs: runtime.lockWaitMs(),
            deadline: runtime.deadline(),
            extendGraph: marker.revertsFromHistory
              ? (planGraph, state) => graphWithHistory(db, runtime.history, planGraph, state.heads)
              : undefined,
          },
        );
        return { report };
      }),
    )
    .catch((error: unknown) => {
      throw deployFailure(error, { snapshotId: marker.snapshotId, from: marker.from });
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
  const { report } = outcome;
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
  const pruned = await prune(runtime, properties);
  const note = pruned.length > 0 ? `pruned ${pruned.map((snapshot) => snapshot.id).join(', ')}` : undefined;
  // The whole deploy's steps, which may have taken several polls (a run stops at the deadline).
  const steps =
    report.status === 'up-to-date' ? [] : marker.plan.map((step) => ({ direction: step.split(' ')[0] }));
  return {
    IsComplete: true,
    Data: deployData(properties.targetRevision, marker.from, marker.snapshotId, steps, note),
  };
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
async function assertStackRollingBack(
  cloudformation: CloudFormationClient,
  stackId: string,
  unknown: readonly Revision[],
): Promise<void> {
  const revisions = unknown.join(', ');
  let status: string | undefined;
  try {
    const result = await cloudformation.send(new DescribeStacksCommand({ StackName: stackId }));
    status = result.Stacks?.[0]?.StackStatus;
  } catch (error) {
    throw new DeployFailed(
      `the database is at revision ${revisions}, which this function's migrations do not include, and ` +
        `DescribeStacks failed, so a stack rollback cannot be confirmed: ${messageOf(error)}` +
        awsCallHint(error, 'CloudFormation', 'cloudformation'),
    );
  }
  if (status === ROLLBACK_STATUS) return;
  throw new DeployFailed(
    `the database is at revision ${revisions}, which this function's migrations do not include ` +
      `(stack ${stackNameOf(stackId)} is ${status ?? 'not found'}, not rolling back). Deploy the code that ` +
      `contains ${revisions}, or take the database down to a revision this code has with that code first.`,
  );
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

function deployData(
  target: Revision,
  from: readonly Revision[],
  snapshotId: string | undefined,
  steps: readonly { direction?: string }[],
  note?: string,
): DeployData {
  return {
    Revision: target,
    PreviousRevision: revisionsText(from),
    SnapshotId: snapshotId ?? '',
    Applied: String(steps.filter((step) => step.direction === 'up').length),
    Reverted: String(steps.filter((step) => step.direction === 'down').length),
    ...(note ? { Note: note } : {}),
  };
}

function revisionsText(revisions: readonly Revision[]): string {
  return revisions.length > 0 ? revisions.join('+') : BASE;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
