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
  Stack,
  type aws_stepfunctions as sfn,
  Validations,
} from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { BackgroundNames } from './background.ts';
import { type MigrationTarget, ownSnapshotPattern, snapshotArn } from './target.ts';

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

/**
 * The findings on the migrations function and its role that this construct accepts, each by
 * its full id with the reason.
 */
export function acknowledgeFunctionFindings(
  scope: IConstruct,
  fn: lambda.Function,
  target: MigrationTarget,
  snapshotEnabled: boolean,
): void {
  const role = fn.role as iam.Role;
  const arnOf = (value: string) => nagReference(scope, value);
  acknowledge(
    role,
    [
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWS managed policy of every Lambda function: CloudWatch Logs writes for its own log group only',
    ],
    [
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      'AWS managed policy Lambda needs to attach the function to the database VPC (ENI create/describe/delete, ' +
        'which IAM cannot scope to one function)',
    ],
    [
      `IAM5[Resource::${arnOf(snapshotArn(scope, target, '*'))}]`,
      `${target.describeSnapshotsAction} lists snapshots (status, retention); RDS authorizes a list against the ` +
        'account wildcard snapshot ARN, so a name pattern would deny it. Read-only metadata.',
    ],
  );
  if (snapshotEnabled) {
    acknowledge(role, [
      `IAM5[Resource::${arnOf(snapshotArn(scope, target, ownSnapshotPattern(target)))}]`,
      'Snapshots this construct makes of this one database, named rds-migrate-<identifier>-<timestamp>: a new ' +
        'name every deploy, so a name pattern; deletion additionally requires the rds-migrate:managed=true tag',
    ]);
  }
  acknowledge(fn, [
    'L1',
    'Node.js 22 on purpose: the bundle is built for node22 and the handler is tested on it; the runtime moves ' +
      'with a release of rds-migrate, not with whatever Lambda calls latest',
  ]);
}

/**
 * The Provider framework's own functions and waiter state machine (aws-cdk-lib code): their
 * findings, each acknowledged by its full id with the reason.
 */
export function acknowledgeProviderFindings(
  scope: IConstruct,
  provider: cr.Provider,
  fn: lambda.Function,
): void {
  const arnOf = (value: string) => nagReference(scope, value);
  const invokeOwnFunction =
    'Provider framework (aws-cdk-lib) grants lambda:InvokeFunction on the function and its versions/aliases ' +
    "(<arn>:*); the function is this construct's own";
  for (const name of ['framework-onEvent', 'framework-isComplete', 'framework-onTimeout']) {
    const frameworkFunction = provider.node.findChild(name) as lambda.Function;
    acknowledge(
      frameworkFunction.role as iam.Role,
      [
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'Provider framework (aws-cdk-lib) function role: AWS managed policy for CloudWatch Logs writes only',
      ],
      [`IAM5[Resource::${arnOf(`${fn.functionArn}:*`)}]`, invokeOwnFunction],
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
      'SF1',
      'Provider framework waiter only polls isComplete; each poll logs (request id, snapshot state, timings) in ' +
        "the migration function's log group and executions stay visible in Step Functions",
    ],
    [
      'SF2',
      'Provider framework waiter is a two-state polling loop; the migration function logs the request id and ' +
        'timings of every step, which is what tracing would show',
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
  acknowledge(
    stateMachine,
    [
      `IAM5[Resource::${arnOf(`${fn.functionArn}:*`)}]`,
      'The background state machine invokes the migrations function of this construct only; aws-cdk-lib grants ' +
        'its versions and aliases (<arn>:*) with it',
    ],
    ...(distributed ? distributedMapFindings(scope, stateMachine) : []),
    [
      'SF1',
      "Every task is the migrations function, which logs each range walk (rows, batches, errors) in the function's " +
        'log group; Step Functions keeps every execution history with each state input, output and error',
    ],
    [
      'SF2',
      'The state machine only calls the migrations function in a loop; the function logs the timing of every ' +
        'range walk, which is what X-Ray would show',
    ],
  );
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
