/**
 * Only CloudFormation changes the database through a lifecycle request. Anyone granted
 * lambda:InvokeFunction can hand the function an event shaped like CloudFormation's, so before
 * onEvent changes anything it asks CloudFormation itself (its own stack only):
 * - the request names this function's stack and its custom resource;
 * - the stack and the resource are in the in-progress state in which CloudFormation sends this
 *   request type (an Update while the stack is UPDATE_IN_PROGRESS or UPDATE_ROLLBACK_IN_PROGRESS
 *   and the resource UPDATE_IN_PROGRESS, ...);
 * - the properties are the ones the stack deployed: their fingerprint is the one the construct
 *   put in the function's environment (in a stack rollback run by the newer code, the request's
 *   old properties are the deployed ones).
 * Polls are not verified here: they act only on a request whose record onEvent wrote after this
 * check (lifecycle.ts), with the properties recorded then.
 */
import {
  type CloudFormationClient,
  DescribeStackResourceCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { RdsMigrateError } from '../lib/engine/errors.ts';
import { propertiesFingerprint } from '../lib/engine/function-contract.ts';
import { awsCallHint } from './aws-errors.ts';
import type { FunctionConfig, LifecycleRequest, RequestType } from './config.ts';
import { shortText } from './input.ts';

/** A lifecycle request CloudFormation would not send now: nothing was changed. */
export class RequestRefused extends RdsMigrateError {
  override readonly name = 'RequestRefused';
  constructor(reason: string) {
    super(`request refused, nothing was changed: ${reason}`);
  }
}

const STACK_ROLLING_BACK = 'UPDATE_ROLLBACK_IN_PROGRESS';

/** Stack states in which CloudFormation sends each request type to a custom resource. */
const STACK_STATES: Readonly<Record<RequestType, readonly string[]>> = {
  Create: ['CREATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', STACK_ROLLING_BACK, 'IMPORT_IN_PROGRESS'],
  Update: ['UPDATE_IN_PROGRESS', STACK_ROLLING_BACK],
  Delete: [
    'DELETE_IN_PROGRESS',
    'ROLLBACK_IN_PROGRESS',
    'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
    STACK_ROLLING_BACK,
    'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
    'IMPORT_ROLLBACK_IN_PROGRESS',
  ],
};

/** What CloudFormation says of the stack while it sends this request. */
export interface VerifiedRequest {
  readonly stackStatus: string;
  /** True while the stack rolls an update back: unknown revisions may then be reverted. */
  readonly rollingBack: boolean;
}

/** Confirms `request` with CloudFormation, or throws RequestRefused saying why. */
export async function verifyLifecycleRequest(
  request: LifecycleRequest,
  config: Pick<FunctionConfig, 'deployedBy'>,
  cloudformation: CloudFormationClient,
): Promise<VerifiedRequest> {
  const { stackId, resourceLogicalId } = config.deployedBy;
  if (!stackId || !resourceLogicalId) {
    throw new RequestRefused(
      'the function has no STACK_ID or RESOURCE_LOGICAL_ID in its environment, so it cannot confirm the request ' +
        'with CloudFormation; deploy it with the DatabaseMigrations construct',
    );
  }
  if (request.stackId !== stackId) {
    throw new RequestRefused(
      `the request names stack ${shortText(request.stackId)}; this function serves stack ${stackId} only`,
    );
  }
  if (request.logicalResourceId !== resourceLogicalId) {
    throw new RequestRefused(
      `the request names resource ${shortText(request.logicalResourceId)}; this function serves ${resourceLogicalId} only`,
    );
  }
  const { stackStatus, resourceStatus } = await describe(cloudformation, stackId, resourceLogicalId);
  const wantedResource = `${request.requestType.toUpperCase()}_IN_PROGRESS`;
  if (!STACK_STATES[request.requestType].includes(stackStatus) || resourceStatus !== wantedResource) {
    throw new RequestRefused(
      `CloudFormation reports stack ${stackStatus} and ${resourceLogicalId} ${resourceStatus}; it sends a ` +
        `${request.requestType} only while the resource is ${wantedResource}, so this request did not come from it`,
    );
  }
  const rollingBack = stackStatus === STACK_ROLLING_BACK;
  if (request.requestType !== 'Delete') assertDeployedProperties(request, config, rollingBack);
  return { stackStatus, rollingBack };
}

function assertDeployedProperties(
  request: LifecycleRequest,
  config: Pick<FunctionConfig, 'deployedBy'>,
  rollingBack: boolean,
): void {
  const deployed = config.deployedBy.propertiesSha256;
  if (!deployed) {
    throw new RequestRefused(
      'the function has no PROPERTIES_SHA256 in its environment, so it cannot tell the stack’s properties from ' +
        'forged ones; deploy it with the DatabaseMigrations construct',
    );
  }
  if (propertiesFingerprint(request.properties) === deployed) return;
  // A stack rollback that reaches the newer function: the properties it deployed are the old ones of the request.
  if (rollingBack && request.oldProperties && propertiesFingerprint(request.oldProperties) === deployed)
    return;
  throw new RequestRefused(
    "the request's properties are not the ones this stack deployed (their fingerprint differs from the " +
      "construct's); only CloudFormation, from the stack's template, sends them",
  );
}

async function describe(
  cloudformation: CloudFormationClient,
  stackId: string,
  logicalResourceId: string,
): Promise<{ stackStatus: string; resourceStatus: string }> {
  try {
    const [stacks, resource] = await Promise.all([
      cloudformation.send(new DescribeStacksCommand({ StackName: stackId })),
      cloudformation.send(
        new DescribeStackResourceCommand({ StackName: stackId, LogicalResourceId: logicalResourceId }),
      ),
    ]);
    return {
      stackStatus: stacks.Stacks?.[0]?.StackStatus ?? 'not found',
      resourceStatus: resource.StackResourceDetail?.ResourceStatus ?? 'not found',
    };
  } catch (error) {
    throw new RequestRefused(
      `CloudFormation could not confirm it (${shortText(error instanceof Error ? error.message : String(error), 200)})` +
        awsCallHint(error, 'CloudFormation', 'cloudformation'),
    );
  }
}
