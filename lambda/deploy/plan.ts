/**
 * What onEvent checks and plans before it records a request: CloudFormation's confirmation, the
 * target in the bundle, the database's state and drift, the background gates, and, in a stack
 * rollback, the revisions known only from the history.
 */
import { assertAllowLinesReasoned } from '../../lib/engine/allow-lines.ts';
import { BackgroundGateClosed, readGates } from '../../lib/engine/background-gate.ts';
import { batchPlanOf } from '../../lib/engine/background-plan.ts';
import type { Database } from '../../lib/engine/database.ts';
import { DriftError, GraphError, HistoryError } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import type { History, RecordedRevision } from '../../lib/engine/history.ts';
import { BASE, type Revision } from '../../lib/engine/migration.ts';
import type { Plan } from '../../lib/engine/plan.ts';
import { migrationsFromHistory } from '../../lib/engine/recorded.ts';
import { assertResumable, findDrift, makePlan } from '../../lib/engine/runner.ts';
import { type DeployProperties, type LifecycleRequest, parseProperties, stackNameOf } from '../config.ts';
import { DeployFailed } from '../failure.ts';
import type { Runtime } from '../runtime.ts';
import { RequestRefused, type VerifiedRequest, verifyLifecycleRequest } from '../verify-request.ts';

/** verifyLifecycleRequest, with a refusal logged as such before it becomes the FAILED reason. */
export async function confirmWithCloudFormation(
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

/** Reads the state under the lock and plans; revisions the bundle lacks are allowed only in a stack rollback. */
export async function planDeploy(
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
const INLINE_BACKGROUND_MAX_ROWS = 10_000;

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
    `SELECT count(*) AS rows FROM (SELECT 1 FROM ${found.rows[0].found} LIMIT ${Number(limit)}) AS counted`,
  );
  return Number(counted.rows[0]?.rows ?? 0);
}

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

export function assertTargetInBundle(graph: RevisionGraph, target: Revision): void {
  if (target === BASE || graph.has(target)) return;
  throw new GraphError(
    'unknown-revision',
    `TargetRevision ${target} is not among this function's migrations (its heads: ${graph.heads.join(', ') || 'none'}); ` +
      'the template and the function code come from different builds: deploy them together',
    [target],
  );
}

export function logBundleMatch(runtime: Runtime, graph: RevisionGraph, properties: DeployProperties): void {
  runtime.logger.info('request', {
    target: properties.targetRevision,
    migrationsHash: properties.migrationsHash,
    bundleHeads: graph.heads,
    bundleRevisions: graph.size,
    snapshot: properties.snapshot,
  });
}
