/**
 * isComplete: each poll moves the request its record describes one step on (the snapshot, then
 * the migration), under the run lease, and answers when it is done.
 */
import type { Database } from '../../lib/engine/database.ts';
import { type DeployRecord, Deploys } from '../../lib/engine/deploys.ts';
import { MigrationFailed } from '../../lib/engine/errors.ts';
import { propertiesFingerprint } from '../../lib/engine/function-contract.ts';
import { RunLease } from '../../lib/engine/lease.ts';
import { withLock } from '../../lib/engine/lock.ts';
import type { Revision } from '../../lib/engine/migration.ts';
import { migrate, type RunReport } from '../../lib/engine/runner.ts';
import { revertingRuns, startDeployRuns } from '../background-actions.ts';
import { type DeployProperties, type LifecycleRequest, parseProperties, stackNameOf } from '../config.ts';
import { DeployFailed, deployFailure } from '../failure.ts';
import { migrationLogger, type Runtime } from '../runtime.ts';
import { RequestRefused, verifyLifecycleRequest } from '../verify-request.ts';
import {
  type DeployMarker,
  deployData,
  type IsCompleteResult,
  MARKER_KEY,
  revertsFromHistory,
} from './answers.ts';
import { graphWithHistory } from './plan.ts';
import { advance, assertStepsFit, estimateSteps, prune, type StepsEstimate } from './snapshot.ts';

export async function isComplete(
  request: LifecycleRequest,
  marker: DeployMarker,
  runtime: Runtime,
): Promise<IsCompleteResult> {
  assertPollOfThisResource(request, marker, runtime);
  if (marker.phase === 'done') return completeIfDone(request, marker, runtime);
  const read = await readPoll(request, marker, runtime).catch((error: unknown) => {
    throw failureOf(error, runtime, undefined);
  });
  if ('supersededBy' in read) throw superseded(marker, read.supersededBy, runtime);
  const polled = await pollOnce(read.value, request, marker, runtime).catch((error: unknown) => {
    // Where the deploy stood comes from the record this poll read, never from the event.
    throw failureOf(error, runtime, read.value.record);
  });
  if ('supersededBy' in polled) throw superseded(marker, polled.supersededBy, runtime);
  if ('waiting' in polled) return { IsComplete: false };
  const { report, record, counts, background, properties } = polled;
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
  const data = deployData(record, counts, note);
  return {
    IsComplete: true,
    Data: background.length > 0 ? { ...data, BackgroundStarted: background.join(',') } : data,
  };
}

/** What a poll reads first, under the lease: the request's record, its properties, the steps' estimate. */
interface PollRead {
  readonly record: DeployRecord;
  readonly properties: DeployProperties;
  readonly estimate: StepsEstimate;
}

function readPoll(
  request: LifecycleRequest,
  marker: DeployMarker,
  runtime: Runtime,
): Promise<{ readonly value: PollRead } | { readonly supersededBy: string }> {
  return underLease(runtime, marker, async (db, deploys) => {
    const record = await recordOf(db, deploys, request, marker);
    const properties = await pollProperties(request, record, runtime);
    return { record, properties, estimate: await estimateSteps(db, runtime, record) };
  });
}

/**
 * One poll: moves the request its record describes one step on, the snapshot first (with no
 * session open: a local snapshot needs the database idle), then the migration under the lease.
 */
async function pollOnce(
  read: PollRead,
  request: LifecycleRequest,
  marker: DeployMarker,
  runtime: Runtime,
): Promise<PollOutcome> {
  const { properties, estimate } = read;
  const advanced = await advance(read.record, runtime, estimate);
  if (advanced.phase !== 'migrate' && advanced.phase !== 'done') return { waiting: advanced };
  const graph = await runtime.bundle();
  const migrated = await underLease(runtime, marker, async (db, deploys) => {
    let record = advanced;
    if (!record.restorePointAt) {
      // The restore point: the moment just before this deploy's first change.
      assertStepsFit(record, runtime, estimate);
      const restorePointAt = runtime.clock.now();
      await deploys.update(db, record.requestId, { restorePointAt });
      record = { ...record, restorePointAt };
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
          args: properties.contextArgs,
          log: migrationLogger(runtime.logger),
          lockWaitMs: runtime.lockWaitMs(),
          deadline: runtime.deadline(),
          requestId: record.requestId,
          ...(properties.lockRetries === undefined ? {} : { lockRetries: properties.lockRetries }),
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
        : await startDeployRuns(runtime, db, record.requestId, properties.contextArgs);
    // What this request's runs applied, from the log: the same answer whichever poll gives it.
    return {
      report,
      record,
      background,
      counts: await runtime.history.requestCounts(db, record.requestId),
    };
  });
  return 'supersededBy' in migrated ? migrated : { ...migrated.value, properties };
}

/** The FAILED reason, saying where the deploy stood by its record when one was read. */
function failureOf(error: unknown, runtime: Runtime, record: DeployRecord | undefined): Error {
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
  return deployFailure(error, record ? { snapshotId: record.snapshotId, from: record.from } : {});
}

/**
 * A newer request owns the database now. Usually this poll belongs to a request CloudFormation
 * gave up on (aws-cdk#31541) and its answer goes nowhere; if anyone does wait for it, they must
 * not read success: this request migrated nothing.
 */
function superseded(marker: DeployMarker, by: string, runtime: Runtime): DeployFailed {
  runtime.logger.warn('superseded: a newer request claimed the database; not migrating', {
    requestId: marker.requestId,
    supersededBy: by,
  });
  return new DeployFailed(
    `superseded by request ${by}, which claimed this database while this one waited; ` +
      'this request migrated nothing. If two stacks deploy to one database, give each its own historySchema.',
  );
}

type PollOutcome =
  | { readonly supersededBy: string }
  | { readonly waiting: DeployRecord }
  | {
      readonly report: RunReport;
      readonly record: DeployRecord;
      readonly counts: { up: number; down: number };
      /** The background runs this request started. */
      readonly background: readonly Revision[];
      readonly properties: DeployProperties;
    };

/**
 * `body` under the migration lock, if this request still holds the run lease; otherwise who
 * claimed the database since.
 */
async function underLease<T>(
  runtime: Runtime,
  marker: DeployMarker,
  body: (db: Database, deploys: Deploys) => Promise<T>,
): Promise<{ readonly value: T } | { readonly supersededBy: string }> {
  return runtime.withDatabase((db) =>
    withLock(db, runtime.history.lockName, runtime.lockWaitMs(), async () => {
      const claimedBy = await new RunLease(runtime.history).heldByAnother(db, marker.requestId);
      if (claimedBy !== undefined) return { supersededBy: claimedBy };
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
 * (the same fingerprint check as onEvent), and only with the target onEvent recorded. Its old
 * properties stand for the deployed ones only in a stack rollback run by the newer code, which
 * CloudFormation is asked to confirm, as onEvent did: a rollback's plan may apply revisions as
 * well as revert them (back to another branch), so the plan alone cannot say.
 */
async function pollProperties(
  request: LifecycleRequest,
  record: DeployRecord,
  runtime: Runtime,
): Promise<DeployProperties> {
  const deployed = runtime.config.deployedBy.propertiesSha256;
  const isDeployed = (properties: Readonly<Record<string, unknown>> | undefined) =>
    deployed !== undefined && properties !== undefined && propertiesFingerprint(properties) === deployed;
  const refused = () => new RequestRefused("the poll's properties are not the ones this stack deployed");
  if (!isDeployed(request.properties)) {
    if (!isDeployed(request.oldProperties)) throw refused();
    // It accepts properties other than the deployed ones only in a rollback whose old ones are.
    await verifyLifecycleRequest(request, runtime.config, runtime.cloudformation);
  }
  const properties = parseProperties(request.properties);
  if (properties.targetRevision !== record.target) {
    throw new RequestRefused(
      `the poll targets ${properties.targetRevision}; request ${record.requestId} was recorded for ${record.target}`,
    );
  }
  return properties;
}
