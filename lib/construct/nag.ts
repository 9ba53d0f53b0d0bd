/**
 * cdk-nag acknowledgments for the `DatabaseMigrations` construct. cdk-nag 3 reports through
 * CDK's validation plugins, so findings are acknowledged with `Validations.of(scope)` by their
 * full id, in which CloudFormation references are spelled as cdk-nag flattens them.
 */
import {
  Aws,
  type custom_resources as cr,
  Fn,
  type aws_iam as iam,
  type aws_lambda as lambda,
  type aws_logs as logs,
  Stack,
  type aws_stepfunctions as sfn,
  Validations,
} from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { BackgroundNames } from './background.ts';
import { logGroupWriteArns } from './logs.ts';
import { type MigrationTarget, snapshotArn } from './target.ts';

/** Acknowledges AwsSolutions findings on `scope` and below: `[ruleAndFinding, reason]` pairs. */
export function acknowledge(scope: IConstruct, ...findings: [string, string][]): void {
  for (const [finding, reason] of findings) {
    Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${finding}`, reason });
  }
}

/** A token (e.g. an ARN built from references) as cdk-nag spells it in a finding id. */
export function nagReference(scope: IConstruct, value: string): string {
  return flattenCfnReference(Stack.of(scope).resolve(value));
}

/**
 * A resolved CloudFormation value as one string: `Ref` becomes `<LogicalId>` (pseudo parameters
 * `<AWS::Region>`), `Fn::GetAtt` `<LogicalId.Attribute>`, `Fn::Join` is concatenated. The same
 * spelling as cdk-nag's own `flattenCfnReference`, which the package does not export.
 */
export function flattenCfnReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
  const object = node as Record<string, unknown>;
  if (Array.isArray(object['Fn::Join'])) {
    const [delimiter, items] = object['Fn::Join'] as [string, unknown[]];
    return items.map(flattenCfnReference).join(delimiter);
  }
  if (object['Fn::Sub'] !== undefined) return flattenCfnReference(object['Fn::Sub']);
  if (Array.isArray(object['Fn::GetAtt'])) {
    const [resource, attribute] = object['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenCfnReference(resource)}.${flattenCfnReference(attribute)}>`;
  }
  if (object['Fn::ImportValue'] !== undefined) return flattenCfnReference(object['Fn::ImportValue']);
  if (object.Ref !== undefined) return `<${flattenCfnReference(object.Ref)}>`;
  return JSON.stringify(node);
}

/** The ENI statement's `*`, as cdk-nag names it. */
const ANY_RESOURCE = 'IAM5[Resource::*]';

/** The IAM5 id of the log streams of `logGroup` (`<group ARN>:*`), which a role writing to it needs. */
function logStreamsFinding(scope: IConstruct, logGroup: logs.ILogGroup): string {
  const [, streams] = logGroupWriteArns(scope, logGroup);
  return `IAM5[Resource::${nagReference(scope, streams as string)}]`;
}

/**
 * The findings on the migrations function and its role that this construct accepts, each by
 * its full id with the reason.
 */
export function acknowledgeFunctionFindings(
  scope: IConstruct,
  fn: lambda.Function,
  target: MigrationTarget,
  logGroup: logs.ILogGroup,
): void {
  acknowledgeVpcFunctionFindings(scope, fn, logGroup);
  acknowledge(fn.role as iam.Role, snapshotListFinding(scope, target));
}

/** What every migrations function in a VPC is granted by pattern: its network interfaces and log streams; and its runtime. */
export function acknowledgeVpcFunctionFindings(
  scope: IConstruct,
  fn: lambda.Function,
  logGroup: logs.ILogGroup,
): void {
  const role = fn.role as iam.Role;
  // On the role's own policies only: a `*` granted later (its DefaultPolicy) stays a finding.
  acknowledge(
    role.node.defaultChild as IConstruct,
    [
      ANY_RESOURCE,
      'Network interfaces of a Lambda function in a VPC (ec2:CreateNetworkInterface, DescribeNetworkInterfaces, ' +
        'DescribeSubnets, DeleteNetworkInterface, Assign/UnassignPrivateIpAddresses): EC2 cannot scope the ' +
        'Describe calls to a resource; the same actions AWSLambdaVPCAccessExecutionRole grants on *, nothing else',
    ],
    [
      logStreamsFinding(scope, logGroup),
      "CreateLogStream and PutLogEvents on the streams of the function's own log group only; Lambda names a " +
        'stream per execution environment, so IAM can only name them by pattern',
    ],
  );
  acknowledge(fn, [
    'L1',
    'Node.js 22 on purpose: the bundle is built for node22 and the handler is tested on it; the runtime moves ' +
      'with a release of rds-migrate, not with whatever Lambda calls latest',
  ]);
}

/** Listing a database's snapshots, which RDS authorizes only on the wildcard snapshot ARN. */
export function snapshotListFinding(scope: IConstruct, target: MigrationTarget): [string, string] {
  return [
    `IAM5[Resource::${nagReference(scope, snapshotArn(scope, target, '*'))}]`,
    `${target.describeSnapshotsAction} lists snapshots (status, retention); RDS authorizes a list against the ` +
      'account wildcard snapshot ARN, so a name pattern would deny it. Read-only metadata.',
  ];
}

/**
 * The Provider framework's own functions and waiter state machine (aws-cdk-lib code): their
 * findings, each acknowledged by its full id with the reason.
 */
export function acknowledgeProviderFindings(
  scope: IConstruct,
  provider: cr.Provider,
  fn: lambda.Function,
  providerLogs: logs.ILogGroup,
): void {
  const arnOf = (value: string) => nagReference(scope, value);
  const invokeOwnFunction =
    'Provider framework (aws-cdk-lib) grants lambda:InvokeFunction on the function and its versions/aliases ' +
    "(<arn>:*); the function is this construct's own";
  for (const name of ['framework-onEvent', 'framework-isComplete', 'framework-onTimeout']) {
    const frameworkFunction = provider.node.findChild(name) as lambda.Function;
    acknowledge(
      frameworkFunction.role as iam.Role,
      [`IAM5[Resource::${arnOf(`${fn.functionArn}:*`)}]`, invokeOwnFunction],
      [
        logStreamsFinding(scope, providerLogs),
        "CreateLogStream and PutLogEvents on the streams of the Provider framework's own log group only; Lambda " +
          'names a stream per execution environment, so IAM can only name them by pattern',
      ],
    );
  }
  const waiter = provider.node.findChild('waiter-state-machine');
  const frameworkArn = (name: string) =>
    arnOf(`${(provider.node.findChild(name) as lambda.Function).functionArn}:*`);
  acknowledge(
    waiter,
    [
      `IAM5[Resource::${frameworkArn('framework-isComplete')}]`,
      'Provider framework (aws-cdk-lib) waiter may invoke its own isComplete function, versions and aliases',
    ],
    [
      `IAM5[Resource::${frameworkArn('framework-onTimeout')}]`,
      'Provider framework (aws-cdk-lib) waiter may invoke its own onTimeout function, versions and aliases',
    ],
    [
      ANY_RESOURCE,
      'Provider framework (aws-cdk-lib) waiter logging: CloudWatch Logs log delivery actions (Create/Get/Update/' +
        'Delete/ListLogDeliveries, Put/DescribeResourcePolicies, DescribeLogGroups) support no resource-level ' +
        'permissions; the framework also adds CreateLogStream and PutLogEvents to that statement, on *, which ' +
        'the construct cannot take out of the framework role',
    ],
    [
      'SF2',
      'Provider framework waiter is a two-state polling loop, and aws-cdk-lib offers no tracing for it; the ' +
        'migration function logs the request id and timings of every step, which is what tracing would show',
    ],
  );
}

/**
 * The background state machine and the function's access to it: each finding by its full id,
 * with the reason.
 */
export function acknowledgeBackgroundFindings(
  scope: IConstruct,
  stateMachine: sfn.StateMachine,
  fn: lambda.Function,
  names: BackgroundNames,
  distributed: boolean,
): void {
  const arnOf = (value: string) => nagReference(scope, value);
  acknowledge(fn.role as iam.Role, [
    `IAM5[Resource::${arnOf(names.executionsArn)}]`,
    "Stop and describe the executions of this construct's own background state machine (one fixed name); " +
      'execution names are made per deploy and per resume, so IAM can only name them by pattern',
  ]);
  // The role's DefaultPolicy, where aws-cdk-lib puts both grants (the role's own document is empty).
  acknowledge(
    stateMachine.role.node.findChild('DefaultPolicy'),
    [
      `IAM5[Resource::${arnOf(`${fn.functionArn}:*`)}]`,
      'The background state machine invokes the migrations function of this construct only; aws-cdk-lib grants ' +
        'its versions and aliases (<arn>:*) with it',
    ],
    [
      ANY_RESOURCE,
      'Step Functions logging to CloudWatch Logs: the log delivery actions aws-cdk-lib grants (Create/Get/Update/' +
        'Delete/ListLogDeliveries, Put/DescribeResourcePolicies, DescribeLogGroups) support no resource-level ' +
        'permissions',
    ],
  );
  acknowledge(stateMachine, ...(distributed ? distributedMapFindings(scope, stateMachine) : []), [
    'SF2',
    'The state machine only calls the migrations function in a loop; the function logs the timing of every ' +
      'range walk, which is what X-Ray would show',
  ]);
}

/**
 * A Distributed Map's child executions: aws-cdk-lib lets the state machine describe and stop its
 * executions and redrive the child executions of its map runs, named by pattern after its own name.
 */
function distributedMapFindings(scope: IConstruct, stateMachine: sfn.StateMachine): [string, string][] {
  const name = Fn.select(6, Fn.split(':', stateMachine.stateMachineArn));
  const arn = (resource: string) =>
    nagReference(scope, `arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`);
  const reason =
    "aws-cdk-lib's Distributed Map policy: the state machine manages the child executions and map runs it starts " +
    'for the key ranges, all of its own (named after it), which IAM can only name by pattern';
  return [
    [`IAM5[Resource::${arn(`execution:${name}:*`)}]`, reason],
    [`IAM5[Resource::${arn(`execution:${name}/*:*`)}]`, reason],
  ];
}
