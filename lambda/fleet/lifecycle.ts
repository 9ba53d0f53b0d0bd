/**
 * The fleet's custom resource, as the CDK Provider framework drives it. onEvent confirms the
 * request with CloudFormation, resolves the fleet (static targets and tagged ones), cuts it into
 * the rollout's stages and starts the fleet state machine under the request's id (a second
 * delivery joins the first); isComplete answers from the execution: running, done with a
 * per-target tally, or failed with the target that stopped it. A stack rollback (the old
 * properties, UPDATE_ROLLBACK_IN_PROGRESS) starts a revert of every target, old and new lists
 * alike: each reverts what moved and nothing else, and one that cannot is named while the others
 * still revert. Delete stops a rollout still running and leaves every database as it is.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { RDSClient } from '@aws-sdk/client-rds';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  type SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { FUNCTION_ENV } from '../../lib/engine/function-contract.ts';
import type { Clock } from '../../lib/engine/snapshot.ts';
import { ConfigError, isRecord, type LifecycleRequest, wholeNumberFrom } from '../config.ts';
import { messageOf } from '../deploy/answers.ts';
import { DeployFailed } from '../failure.ts';
import { executionArnOf, StepFunctionsExecutions } from '../step-functions.ts';
import { verifyLifecycleRequest } from '../verify-request.ts';
import { discoverTargets } from './discover.ts';
import { assertUniqueNames, type FleetTarget, fleetSpecOf, targetProperty } from './model.ts';
import { planStages } from './rollout.ts';
import type { FleetRequest, TargetOutcome } from './target-run.ts';

export interface FleetRuntime {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stateMachineArn: string;
  readonly rds: RDSClient;
  /** Made on first use: only a fleet listed in a parameter reads SSM. */
  readonly ssm: () => SSMClient;
  readonly sfn: SFNClient;
  readonly cloudformation: CloudFormationClient;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The key of onEvent's result the framework hands back to every isComplete poll. */
const FLEET_MARKER_KEY = 'RdsMigrateFleetRollout';

interface FleetMarker {
  readonly requestId: string;
  /** The rollout's execution; absent on Delete, which starts none. */
  readonly executionArn?: string;
}

/** What the state machine is started with: the mode, the request, the targets' properties, the stages. */
export interface RolloutInput {
  readonly mode: 'deploy' | 'revert';
  readonly request: FleetRequest;
  readonly properties: Readonly<Record<string, unknown>>;
  /** Epoch ms after which no target is started. */
  readonly deadline: number;
  /** deploy: the stages' targets (as the properties write them), in order, and the failures each tolerates. */
  readonly stages: readonly (readonly Record<string, string>[])[];
  readonly tolerated: readonly number[];
  /** revert: every target, old and new. */
  readonly targets: readonly Record<string, string>[];
  /** Where the stages' results go. */
  readonly results: Record<string, never>;
}

/** What the deploy keeps at the end of its time: the last poll and the answer. */
const DEADLINE_MARGIN_MS = 2 * 60_000;

/** The custom resource's properties each target deploys with (the single-database ones). */
const TARGET_PROPERTIES = [
  'TargetRevision',
  'MigrationsHash',
  'Snapshot',
  'ContextArgs',
  'LockRetries',
] as const;

export async function fleetOnEvent(
  request: LifecycleRequest,
  runtime: FleetRuntime,
): Promise<Record<string, unknown>> {
  const verified = await verifyLifecycleRequest(
    request,
    { deployedBy: deployedBy(runtime.env) },
    runtime.cloudformation,
  );
  const spec = fleetSpecOf(request.properties);
  const rollingBack = verified.rollingBack;
  const clients = { rds: runtime.rds, ssm: runtime.ssm };
  let targets: FleetTarget[] = [...spec.targets, ...(await discoverTargets(clients, spec.sources))];
  if (rollingBack && request.oldProperties) {
    // Targets only the failed deploy listed (statically, or by a source it added) moved too: they
    // are reverted with the others.
    const failed = fleetSpecOf(request.oldProperties);
    const known = new Set(spec.sources.map((source) => JSON.stringify(source)));
    const added = failed.sources.filter((source) => !known.has(JSON.stringify(source)));
    const listed = new Set(targets.map((target) => target.name));
    const older = [...failed.targets, ...(await discoverTargets(clients, added))].filter(
      (target) => !listed.has(target.name) && listed.add(target.name),
    );
    targets = [...targets, ...older];
  }
  assertUniqueNames(targets);
  const stages = planStages(targets, spec.stages);
  const properties = Object.fromEntries(
    TARGET_PROPERTIES.filter((key) => request.properties[key] !== undefined).map((key) => [
      key,
      request.properties[key],
    ]),
  );
  const physicalResourceId =
    request.physicalResourceId && request.requestType !== 'Create'
      ? request.physicalResourceId
      : `rds-migrate-fleet/${runtime.stateMachineArn.split(':').pop()}`;
  const input: RolloutInput = {
    mode: rollingBack ? 'revert' : 'deploy',
    request: {
      RequestType: request.requestType as 'Create' | 'Update',
      RequestId: request.requestId,
      StackId: request.stackId,
      LogicalResourceId: request.logicalResourceId,
      PhysicalResourceId: physicalResourceId,
    },
    properties,
    deadline: runtime.clock.now().getTime() + deployTimeoutSeconds(runtime.env) * 1000 - DEADLINE_MARGIN_MS,
    stages: rollingBack ? [] : stages.map((stage) => stage.targets.map(targetProperty)),
    tolerated: stages.map((stage) => stage.tolerated),
    targets: rollingBack ? targets.map(targetProperty) : [],
    results: {},
  };
  // The newest request owns the fleet: a rollout of an earlier one (CloudFormation gave up on it) stops.
  await stopRunning(runtime, `superseded by CloudFormation request ${request.requestId}`, request.requestId);
  const executionArn = await new StepFunctionsExecutions(runtime.sfn, runtime.stateMachineArn).start(
    request.requestId,
    input as unknown as Record<string, unknown>,
  );
  runtime.logger.info('fleet rollout started', {
    mode: input.mode,
    executionArn,
    targets: targets.length,
    stages: stages.map((stage) => `${stage.name}: ${stage.targets.length} (tolerates ${stage.tolerated})`),
  });
  return {
    PhysicalResourceId: physicalResourceId,
    [FLEET_MARKER_KEY]: { requestId: request.requestId, executionArn },
  };
}

export async function fleetIsComplete(
  request: LifecycleRequest,
  marker: FleetMarker,
  runtime: FleetRuntime,
): Promise<Record<string, unknown>> {
  if (!marker.executionArn) return { IsComplete: true };
  const { stackId, resourceLogicalId } = deployedBy(runtime.env);
  const expected = executionArnOf(runtime.stateMachineArn, request.requestId);
  if (
    request.stackId !== stackId ||
    request.logicalResourceId !== resourceLogicalId ||
    marker.executionArn !== expected
  ) {
    throw new DeployFailed(
      'request refused, nothing was changed: the poll is not one of this fleet’s requests',
    );
  }
  const execution = await runtime.sfn.send(
    new DescribeExecutionCommand({ executionArn: marker.executionArn }),
  );
  const status = execution.status ?? 'UNKNOWN';
  if (status === 'RUNNING' || status === 'PENDING_REDRIVE') return { IsComplete: false };
  if (status !== 'SUCCEEDED') {
    throw new DeployFailed(
      `fleet rollout ${status.toLowerCase()}: ${causeOf(execution.error, execution.cause).replace(/\.$/, '')}. Targets ` +
        'not reached are untouched; those that moved are reverted when the stack rolls back (execution ' +
        `${marker.executionArn})`,
    );
  }
  const data = tally(JSON.parse(execution.output ?? '{}'), request);
  if (data.BackgroundNotStarted) {
    runtime.logger.warn(
      'background migrations applied on targets of the fleet wait, not started: a fleet starts no background run; ' +
        'run rds-migrate up against each target named',
      { waiting: data.BackgroundNotStarted },
    );
  }
  return { IsComplete: true, Data: data };
}

/** Delete leaves every database as it is, and stops a rollout still running; it never fails. */
export async function fleetOnDelete(
  request: LifecycleRequest,
  runtime: FleetRuntime,
): Promise<Record<string, unknown>> {
  await verifyLifecycleRequest(request, { deployedBy: deployedBy(runtime.env) }, runtime.cloudformation)
    .then(() => stopRunning(runtime, `the fleet's resource is being deleted (request ${request.requestId})`))
    .catch((error: unknown) =>
      runtime.logger.warn('did not stop running rollouts on Delete', { error: messageOf(error) }),
    );
  return {
    ...(request.physicalResourceId ? { PhysicalResourceId: request.physicalResourceId } : {}),
    Data: { Note: 'rds-migrate leaves every database of the fleet in place when the resource is deleted' },
    [FLEET_MARKER_KEY]: { requestId: request.requestId },
  };
}

export function fleetMarkerOf(event: Record<string, unknown>): FleetMarker | undefined {
  const marker = event[FLEET_MARKER_KEY];
  if (marker === undefined) return undefined;
  if (!isRecord(marker) || typeof marker.requestId !== 'string') {
    throw new ConfigError(`the isComplete event's ${FLEET_MARKER_KEY} is not what onEvent returns`);
  }
  return marker as unknown as FleetMarker;
}

async function stopRunning(runtime: FleetRuntime, cause: string, keep?: string): Promise<void> {
  const running = await runtime.sfn.send(
    new ListExecutionsCommand({
      stateMachineArn: runtime.stateMachineArn,
      statusFilter: 'RUNNING',
      maxResults: 100,
    }),
  );
  for (const execution of running.executions ?? []) {
    if (!execution.executionArn || execution.name === keep) continue;
    runtime.logger.warn('stopping an earlier rollout', { executionArn: execution.executionArn, cause });
    await runtime.sfn.send(new StopExecutionCommand({ executionArn: execution.executionArn, cause }));
  }
}

function deployedBy(env: Readonly<Record<string, string | undefined>>) {
  return {
    stackId: env[FUNCTION_ENV.stackId] || undefined,
    resourceLogicalId: env[FUNCTION_ENV.resourceLogicalId] || undefined,
    propertiesSha256: env[FUNCTION_ENV.propertiesSha256] || undefined,
  };
}

function deployTimeoutSeconds(env: Readonly<Record<string, string | undefined>>): number {
  const seconds = wholeNumberFrom(env[FUNCTION_ENV.deployTimeoutSeconds] ?? '3600');
  return Number.isInteger(seconds) && seconds > 0 ? seconds : 3600;
}

/** A Lambda error's message from the execution's cause (`{"errorType","errorMessage",...}`), else the cause. */
export function causeOf(error: string | undefined, cause: string | undefined): string {
  if (cause) {
    try {
      const parsed = JSON.parse(cause) as { errorMessage?: unknown };
      if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
    } catch {
      // Not a Lambda error's JSON: the cause as Step Functions wrote it.
    }
    return cause;
  }
  return error ?? 'no cause given';
}

/** One entry of a stage's results: a target's outcome, or a tolerated failure. */
export type TargetResult =
  | TargetOutcome
  | { readonly name: string; readonly failed: true; readonly cause?: string };

/** The Data CloudFormation gets: how many targets, how many moved, which failures were tolerated. */
function tally(output: unknown, request: LifecycleRequest): Record<string, string> {
  const results = Object.values(isRecord(output) ? output : {}).flat() as TargetResult[];
  const failed = results.filter((result) => 'failed' in result).map((result) => result.name);
  const moved = results.filter(
    (result) => !('failed' in result) && (result.applied > 0 || result.reverted > 0),
  ) as TargetOutcome[];
  // `target:revision` for each background run a target's deploy applied and no one started.
  const waiting = moved.flatMap((result) =>
    (result.backgroundWaiting ?? []).map((revision) => `${result.name}:${revision}`),
  );
  return {
    Revision: String(request.properties.TargetRevision ?? ''),
    Targets: String(results.length),
    Moved: String(moved.length),
    MovedTargets: moved
      .map((result) => result.name)
      .join(',')
      .slice(0, 1000),
    ...(failed.length > 0 ? { ToleratedFailures: failed.join(',').slice(0, 1000) } : {}),
    ...(waiting.length > 0 ? { BackgroundNotStarted: waiting.join(',').slice(0, 1000) } : {}),
  };
}
