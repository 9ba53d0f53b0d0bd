/**
 * onEvent (Create/Update): claim the run lease, plan `sync` to the TargetRevision, record the
 * request before any side effect, and ask for the snapshot once the session is closed.
 */
import { Deploys } from '../../lib/engine/deploys.ts';
import { RunLease } from '../../lib/engine/lease.ts';
import { withLock } from '../../lib/engine/lock.ts';
import { type LifecycleRequest, parseProperties, stackNameOf } from '../config.ts';
import type { Runtime } from '../runtime.ts';
import { deployData, MARKER_KEY, markerFor, type OnEventResult, revertsFromHistory } from './answers.ts';
import { assertTargetInBundle, confirmWithCloudFormation, logBundleMatch, planDeploy } from './plan.ts';
import { requestSnapshot, snapshotDecision } from './snapshot.ts';

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
