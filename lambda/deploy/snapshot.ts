/**
 * The snapshot phase of a deploy: whether the policy takes one, asking RDS for it (again, with
 * backoff, while the database is busy), waiting for it within the deploy's time budget, and pruning
 * old ones after a successful migration.
 */
import type { Database } from '../../lib/engine/database.ts';
import {
  type DeployRecord,
  Deploys,
  type DeployUpdate,
  type ProgressSample,
} from '../../lib/engine/deploys.ts';
import { SNAPSHOT_TAG } from '../../lib/engine/function-contract.ts';
import type { Plan } from '../../lib/engine/plan.ts';
import { planRisks } from '../../lib/engine/risk.ts';
import {
  pruneSnapshots,
  SnapshotBusyError,
  SnapshotExistsError,
  type SnapshotInfo,
} from '../../lib/engine/snapshot.ts';
import type { DeployProperties, SnapshotPolicy } from '../config.ts';
import { DeployFailed } from '../failure.ts';
import type { Runtime } from '../runtime.ts';
import { messageOf, revisionsText } from './answers.ts';

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
export async function snapshotDecision(
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
export async function requestSnapshot(record: DeployRecord, runtime: Runtime): Promise<DeployRecord> {
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

/**
 * Moves a request forward as far as it can go now: asks a busy database for the snapshot again
 * when its time has come, and waits for a requested snapshot to be available.
 */
export async function advance(
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

export async function estimateSteps(
  db: Database,
  runtime: Runtime,
  record: DeployRecord,
): Promise<StepsEstimate> {
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
export function assertStepsFit(record: DeployRecord, runtime: Runtime, estimate: StepsEstimate): void {
  const left = budgetEnd(record, runtime) - runtime.clock.now().getTime() - BUDGET_MARGIN_MS;
  runtime.logger.info('time budget before migrating', {
    leftMs: left,
    knownStepsMs: estimate.knownMs,
    stepsNeverRunHere: estimate.unknown,
  });
  if (estimate.knownMs <= left) return;
  const total = minutes(runtime.config.deployTimeoutSeconds * 1000);
  const unchanged = `nothing was migrated: the database is still at ${revisionsText(record.from)}.`;
  if (estimate.knownMs === 0) {
    // No step ran here before: what is over is the deploy's own time, spent waiting (the snapshot).
    throw new DeployFailed(
      `this deploy's ${total} ran out before its migrations could start (the last ${minutes(BUDGET_MARGIN_MS)} are ` +
        `kept for the answer); ${unchanged} Deploy again, or raise timeouts.total (at most 1 hour).`,
    );
  }
  const longest = estimate.longest ? ` (${estimate.longest.step} took ${minutes(estimate.longest.ms)})` : '';
  throw new DeployFailed(
    `the plan's migrations took ${minutes(estimate.knownMs)} when they last ran on this database${longest}, ` +
      `and this deploy has ${left > 0 ? minutes(left) : 'no time'} left of its ${total}; ${unchanged} Run the long ` +
      'migration outside the deploy (rds-migrate up, or a background migration), or raise timeouts.total (at most 1 hour).',
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
  // Steps that cannot fit whatever the snapshot does: say so now, not after the wait. Without
  // steps that ran here, only the snapshot can be late, and the check below says so.
  if (estimate.knownMs > 0) assertStepsFit(record, runtime, estimate);
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
  if (!late) return record;
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
export async function prune(runtime: Runtime, properties: DeployProperties): Promise<SnapshotInfo[]> {
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
