/**
 * A start or poll task acts only for a rollout the fleet itself started: the task names its
 * execution (`$$.Execution.Id`), which must be a running execution of the fleet's own state
 * machine whose input holds this request, these properties and this target. Invoking the
 * function is granted for status (grantStatus); a hand-made task, whatever target or revision it
 * names, must not move a database.
 */
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { isRecord } from '../config.ts';
import { executionArnOf } from '../step-functions.ts';
import { RequestRefused } from '../verify-request.ts';
import { type FleetTarget, targetProperty } from './model.ts';
import type { FleetRequest } from './target-run.ts';

interface RolloutTaskClaim {
  readonly executionArn: unknown;
  readonly request: FleetRequest;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly target: FleetTarget;
}

export async function assertTaskOfRollout(
  sfn: SFNClient,
  stateMachineArn: string,
  claim: RolloutTaskClaim,
): Promise<void> {
  const executionArn = claim.executionArn;
  if (
    typeof executionArn !== 'string' ||
    executionArn !== executionArnOf(stateMachineArn, claim.request.RequestId)
  ) {
    throw new RequestRefused(
      `the task does not come from the fleet's rollout of request ${claim.request.RequestId}: only the fleet's state machine deploys a target`,
    );
  }
  const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  if (execution.status !== 'RUNNING') {
    throw new RequestRefused(
      `rollout ${executionArn} is ${execution.status}, not running: no target is deployed for it now`,
    );
  }
  const input = JSON.parse(execution.input ?? '{}') as Record<string, unknown>;
  const listed = [
    ...(Array.isArray(input.stages) ? input.stages.flat() : []),
    ...(Array.isArray(input.targets) ? input.targets : []),
  ];
  const wanted = JSON.stringify(targetProperty(claim.target));
  const matches =
    isRecord(input.request) &&
    input.request.RequestId === claim.request.RequestId &&
    JSON.stringify(input.properties) === JSON.stringify(claim.properties) &&
    listed.some((item) => JSON.stringify(item) === wanted);
  if (!matches) {
    throw new RequestRefused(
      `target ${claim.target.name} with these properties is not part of rollout ${executionArn}; nothing was changed`,
    );
  }
}
