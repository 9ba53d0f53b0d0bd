/**
 * One target of a rollout, as the fleet state machine drives it: `start` runs the single-database
 * deploy's onEvent against the target (CloudFormation's confirmation, the lease, the plan, the
 * recorded request, the snapshot by the policy), `poll` its isComplete (the snapshot, then the
 * plan in one transaction, lock-timeout retries, the history). The very code a DatabaseMigrations
 * runs, on a handler made for this target: every target keeps the single-database guarantees.
 */
import type { Context } from 'aws-lambda';
import { FUNCTION_ENV, propertiesFingerprint, RUNTIME_ENV } from '../../lib/engine/function-contract.ts';
import { type DeployMarker, MARKER_KEY, messageOf } from '../deploy/answers.ts';
import { DeployFailed } from '../failure.ts';
import type { FleetTarget } from './model.ts';

/** The CloudFormation request a rollout serves, without its properties (the execution carries the targets'). */
export interface FleetRequest {
  readonly RequestType: 'Create' | 'Update';
  readonly RequestId: string;
  readonly StackId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
}

/** What a target's deploy answered, for the rollout's report. */
export interface TargetOutcome {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly applied: number;
  readonly reverted: number;
  readonly snapshotId?: string;
  /**
   * Background migrations the deploy applied whose runs wait, not started: a fleet starts no
   * background run (README, Fleets: background migrations); `rds-migrate up` against the target runs them.
   */
  readonly backgroundWaiting?: readonly string[];
}

/** One step's answer: done (with the outcome), or the marker the next poll carries. */
export interface TargetStep {
  readonly name: string;
  readonly done: boolean;
  readonly budgetSeconds: number;
  readonly marker?: DeployMarker;
  readonly outcome?: TargetOutcome;
}

/** The single-database handler (lambda/handler.ts), as the fleet calls it. */
export type TargetHandler = (event: unknown, context?: Context) => Promise<unknown>;

/** Makes the single-database handler for a target from its environment. */
export type TargetHandlerFactory = (
  env: Readonly<Record<string, string | undefined>>,
  target: FleetTarget,
) => TargetHandler;

/** A target is not started with less than this left of the deploy: a snapshot and a plan need more. */
const MIN_TARGET_SECONDS = 180;

/** Environment of the fleet's function a target's handler keeps (the rest is the target's own). */
const SHARED_ENV = [
  FUNCTION_ENV.migrationsDir,
  FUNCTION_ENV.historySchema,
  FUNCTION_ENV.stackId,
  FUNCTION_ENV.resourceLogicalId,
  FUNCTION_ENV.caBundle,
  'AWS_REGION',
  RUNTIME_ENV.serviceName,
  RUNTIME_ENV.logLevel,
] as const;

export function targetEnvironment(
  fleetEnv: Readonly<Record<string, string | undefined>>,
  target: FleetTarget,
  properties: Readonly<Record<string, unknown>>,
  budgetSeconds: number,
): Record<string, string | undefined> {
  const shared = Object.fromEntries(SHARED_ENV.map((key) => [key, fleetEnv[key]]));
  return {
    ...shared,
    [FUNCTION_ENV.dbKind]: target.kind,
    [FUNCTION_ENV.dbIdentifier]: target.identifier,
    [FUNCTION_ENV.authMode]: 'secret',
    [FUNCTION_ENV.secretArn]: target.secretArn,
    ...(target.database ? { [FUNCTION_ENV.dbName]: target.database } : {}),
    [FUNCTION_ENV.deployTimeoutSeconds]: String(budgetSeconds),
    // The fleet's onEvent confirmed the request with CloudFormation; the target's properties are derived from it.
    [FUNCTION_ENV.propertiesSha256]: propertiesFingerprint(properties),
  };
}

interface TargetCall {
  readonly target: FleetTarget;
  readonly request: FleetRequest;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly makeHandler: TargetHandlerFactory;
  readonly fleetEnv: Readonly<Record<string, string | undefined>>;
  readonly context?: Context;
  readonly now: number;
  /** False when the bundle holds no background migration: no status read after a target's deploy. */
  readonly bundleHasBackground?: () => Promise<boolean>;
}

/** onEvent for the target, unless the deploy's time left is too short to start one. */
export async function startTarget(
  call: TargetCall & { readonly deadline: number; readonly revert?: boolean },
): Promise<TargetStep> {
  const budgetSeconds = Math.floor((call.deadline - call.now) / 1000);
  if (budgetSeconds < MIN_TARGET_SECONDS) {
    throw new DeployFailed(
      `target ${call.target.name} was not started: ${Math.max(0, budgetSeconds)} s were left of the deploy's time, ` +
        `less than the ${MIN_TARGET_SECONDS} s a target needs; it is untouched. The fleet is too large for one deploy at ` +
        'these concurrencies: raise the stages’ maxConcurrency, or split the fleet',
    );
  }
  const own = forTarget(call);
  if (call.revert) {
    const behind = await behindTarget(own, budgetSeconds);
    if (behind) return { name: call.target.name, done: true, budgetSeconds, outcome: behind };
  }
  const answer = await callTarget(own, budgetSeconds, lifecycleEvent(own));
  const marker = answer[MARKER_KEY] as DeployMarker;
  if (marker.phase === 'done') {
    return {
      name: call.target.name,
      done: true,
      budgetSeconds,
      outcome: await withWaitingRuns(own, budgetSeconds, outcomeOf(call.target, answer.Data)),
    };
  }
  return { name: call.target.name, done: false, budgetSeconds, marker };
}

/**
 * In a revert, a target that has not reached the revision the stack goes back to did not move in
 * the deploy being rolled back (a failure an earlier stage tolerated left it behind): it is left
 * where it is, never brought forward by a rollback. Its outcome, or undefined when it is ahead.
 */
async function behindTarget(call: TargetCall, budgetSeconds: number): Promise<TargetOutcome | undefined> {
  const status = await callTarget(call, budgetSeconds, { action: 'status' });
  const pending = Array.isArray(status.pending) ? (status.pending as { revision?: string }[]) : [];
  if (!pending.some((step) => step.revision === call.properties.TargetRevision)) return undefined;
  const current = (Array.isArray(status.current) ? status.current.join('+') : '') || 'base';
  return { name: call.target.name, from: current, to: current, applied: 0, reverted: 0 };
}

/** isComplete for the target, with the marker its onEvent returned. */
export async function pollTarget(
  call: TargetCall & { readonly marker: DeployMarker; readonly budgetSeconds: number },
): Promise<TargetStep> {
  const own = forTarget(call);
  const answer = await callTarget(own, call.budgetSeconds, {
    ...lifecycleEvent(own),
    [MARKER_KEY]: call.marker,
  });
  if (answer.IsComplete !== true) {
    return { name: call.target.name, done: false, budgetSeconds: call.budgetSeconds, marker: call.marker };
  }
  const outcome = outcomeOf(call.target, {
    ...(call.marker ? markerData(call.marker) : {}),
    ...(answer.Data as object),
  });
  return {
    name: call.target.name,
    done: true,
    budgetSeconds: call.budgetSeconds,
    outcome: await withWaitingRuns(own, call.budgetSeconds, outcome),
  };
}

/**
 * The outcome with the background runs that wait on the target after a deploy that applied
 * something: the single-database deploy starts them on its own state machine, which a fleet's
 * targets do not have, so they stay pending until run with the CLI. Read from the target's status.
 */
async function withWaitingRuns(
  call: TargetCall,
  budgetSeconds: number,
  outcome: TargetOutcome,
): Promise<TargetOutcome> {
  if (outcome.applied === 0 || !(await (call.bundleHasBackground?.() ?? true))) return outcome;
  const status = await callTarget(call, budgetSeconds, { action: 'status' });
  const runs = Array.isArray(status.background)
    ? (status.background as { revision?: string; state?: string }[])
    : [];
  const waiting = runs.filter((run) => run.state === 'pending').map((run) => String(run.revision));
  return waiting.length > 0 ? { ...outcome, backgroundWaiting: waiting } : outcome;
}

function lifecycleEvent(call: TargetCall): Record<string, unknown> {
  return {
    ...call.request,
    PhysicalResourceId: call.request.PhysicalResourceId ?? `rds-migrate-fleet/${call.target.name}`,
    ResourceProperties: call.properties,
  };
}

/** The call with the target's own properties. */
function forTarget<T extends TargetCall>(call: T): T {
  return { ...call, properties: targetProperties(call.target, call.properties) };
}

/**
 * The properties a target deploys with: the fleet's, except that a database of a shared server
 * (a database per tenant) never snapshots the server: its restore point is the server's
 * point-in-time recovery at the time its deploy records, and a deploy is refused without it.
 */
function targetProperties(
  target: FleetTarget,
  properties: Readonly<Record<string, unknown>>,
): Readonly<Record<string, unknown>> {
  if (!target.database) return properties;
  return { ...properties, Snapshot: { Enabled: 'false', Policy: 'never' } };
}

async function callTarget(
  call: TargetCall,
  budgetSeconds: number,
  event: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const env = targetEnvironment(call.fleetEnv, call.target, call.properties, budgetSeconds);
  try {
    return (await call.makeHandler(env, call.target)(event, call.context)) as unknown as Record<
      string,
      unknown
    >;
  } catch (error) {
    // The Map's error names the target: the console, the FAILED reason and the tolerance report read it.
    throw new DeployFailed(`target ${call.target.name}: ${messageOf(error)}`);
  }
}

function markerData(marker: DeployMarker): Record<string, string> {
  return { PreviousRevision: marker.from.join('+') || 'base', Revision: marker.target };
}

function outcomeOf(target: FleetTarget, data: unknown): TargetOutcome {
  const values = (data ?? {}) as Record<string, string | undefined>;
  return {
    name: target.name,
    from: values.PreviousRevision ?? '',
    to: values.Revision ?? '',
    applied: Number(values.Applied ?? 0),
    reverted: Number(values.Reverted ?? 0),
    ...(values.SnapshotId ? { snapshotId: values.SnapshotId } : {}),
  };
}
