/**
 * The custom resource's plumbing both constructs share: the CDK Provider framework around the
 * function (onEvent and isComplete on it, roles that write only their log group, the waiter's
 * events logged without data), CloudFormation's own timeout for the resource, the
 * environment that tells the function which requests are its stack's, and the status command
 * each stack prints.
 */
import {
  ArnFormat,
  type CfnResource,
  type CustomResource,
  custom_resources as cr,
  Duration,
  type aws_iam as iam,
  type aws_lambda as lambda,
  Stack,
  aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { FUNCTION_ENV, propertiesFingerprint } from '../engine/function-contract.ts';
import type { MigrationLogGroups } from './logs.ts';
import { executionRole } from './permissions.ts';
import { MAX_TOTAL_TIMEOUT, type ResolvedTimeouts } from './props.ts';

/** The Provider framework on `handler`; `functionNoun` names it in the roles' descriptions. */
export function migrationsProvider(
  scope: Construct,
  handler: lambda.IFunction,
  timeouts: ResolvedTimeouts,
  logGroups: MigrationLogGroups,
  functionNoun: string,
): cr.Provider {
  const frameworkRole = (id: string, functions: string) =>
    executionRole(scope, id, logGroups.provider, {
      inVpc: false,
      description: `rds-migrate Provider framework ${functions}: invokes the ${functionNoun}`,
    });
  const provider = new cr.Provider(scope, 'Provider', {
    onEventHandler: handler,
    isCompleteHandler: handler,
    totalTimeout: timeouts.total,
    queryInterval: timeouts.queryInterval,
    logGroup: logGroups.provider,
    // Two roles, as the framework asks: onEvent's starts the waiter, which invokes the others.
    frameworkOnEventRole: frameworkRole('ProviderOnEventRole', 'onEvent'),
    frameworkCompleteAndTimeoutRole: frameworkRole('ProviderCompleteRole', 'isComplete and onTimeout'),
    // The waiter's input is the request, properties included: events only, as for the background.
    waiterStateMachineLogOptions: {
      destination: logGroups.waiter,
      level: sfn.LogLevel.ALL,
      includeExecutionData: false,
    },
    disableWaiterStateMachineLogging: false,
  });
  scopeWaiterTrust(provider);
  return provider;
}

/**
 * The framework's waiter role trusts Step Functions for any state machine of any account (the
 * confused deputy). CloudFormation names the waiter, so its exact ARN cannot be in its own role's
 * trust without a cycle: the trust is narrowed to state machines of this stack's account and
 * region, as Step Functions' confused-deputy guidance shows.
 */
function scopeWaiterTrust(provider: cr.Provider): void {
  const stack = Stack.of(provider);
  const role = provider.node.findChild('waiter-state-machine').node.findChild('Role').node
    .defaultChild as iam.CfnRole;
  role.addPropertyOverride('AssumeRolePolicyDocument.Statement.0.Condition', {
    ArnLike: {
      'aws:SourceArn': stack.formatArn({
        service: 'states',
        resource: 'stateMachine',
        resourceName: '*',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    },
    StringEquals: { 'aws:SourceAccount': stack.account },
  });
}

/**
 * CloudFormation's own limit for the whole operation (at most 1 hour): the provider's total
 * timeout plus one invocation, so the framework reports its own "timed out" first.
 */
export function customResourceTimeout(timeouts: ResolvedTimeouts): Duration {
  return Duration.seconds(
    Math.min(MAX_TOTAL_TIMEOUT.toSeconds(), timeouts.total.toSeconds() + timeouts.lambda.toSeconds()),
  );
}

/**
 * Tells the function which requests are its stack's: the stack, the custom resource's logical
 * id (a literal string, not a reference, which would make the function depend on the resource
 * that depends on it), and the fingerprint of the properties written into the template.
 */
export function addRequestEnvironment(
  handler: lambda.Function,
  customResource: CustomResource,
  properties: Record<string, unknown>,
): void {
  const stack = Stack.of(customResource);
  handler.addEnvironment(FUNCTION_ENV.stackId, stack.stackId);
  handler.addEnvironment(
    FUNCTION_ENV.resourceLogicalId,
    stack.getLogicalId(customResource.node.defaultChild as CfnResource),
  );
  handler.addEnvironment(FUNCTION_ENV.propertiesSha256, propertiesFingerprint(properties));
}

/** The `aws lambda invoke` that asks the function for its status, as the stack's StatusCommand output prints it. */
export function statusCommand(handler: lambda.IFunction): string {
  return `aws lambda invoke --function-name ${handler.functionName} --cli-binary-format raw-in-base64-out --payload '{"action":"status"}' out.json`;
}
