/**
 * cdk-nag acknowledgments for FleetMigrations: each finding by its full id, with the reason.
 */
import type {
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { BackgroundNames } from '../background.ts';
import { ANY_RESOURCE, acknowledge, logStreamsFinding, nagReference } from '../nag.ts';
import { snapshotArn } from '../target.ts';
import type { BoundTargets } from './targets.ts';

export function acknowledgeFleetFindings(
  scope: IConstruct,
  fn: lambda.Function,
  stateMachine: sfn.StateMachine,
  names: BackgroundNames,
  logGroup: logs.ILogGroup,
  bound: readonly BoundTargets[],
): void {
  const role = fn.role as iam.Role;
  const arnOf = (value: string) => nagReference(scope, value);
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
  const policy = role.node.findChild('DefaultPolicy');
  const findings: [string, string][] = [
    [
      `IAM5[Resource::${arnOf(names.executionsArn)}]`,
      "Stop and describe the executions of the fleet's own rollout state machine (one fixed name); execution " +
        'names are the CloudFormation request ids, so IAM can only name them by pattern',
    ],
  ];
  const servers = bound.flatMap((part) => part.servers);
  for (const server of servers) {
    findings.push([
      `IAM5[Resource::${arnOf(snapshotArn(scope, server, '*'))}]`,
      `${server.describeSnapshotsAction} lists a target's snapshots (status, retention); RDS authorizes a list ` +
        'against the account wildcard snapshot ARN, so a name pattern would deny it. Read-only metadata.',
    ]);
  }
  const tagged =
    'Targets found by tag at deploy time: RDS lists instances, clusters and snapshots only on the account ' +
    'wildcard; snapshots are created only of servers carrying the fleet tag (aws:ResourceTag condition), named ' +
    "by the tool's prefix and tagged only with the tool's tag keys; secrets only by the patterns the app gives";
  for (const pattern of new Set(bound.flatMap((part) => part.patterns))) {
    findings.push([pattern === '*' ? ANY_RESOURCE : `IAM5[Resource::${arnOf(pattern)}]`, tagged]);
  }
  acknowledge(policy, ...findings);
  acknowledge(fn, [
    'L1',
    'Node.js 22 on purpose: the bundle is built for node22 and the handler is tested on it; the runtime moves ' +
      'with a release of rds-migrate, not with whatever Lambda calls latest',
  ]);
  acknowledge(
    stateMachine.role.node.findChild('DefaultPolicy'),
    [
      `IAM5[Resource::${arnOf(`${fn.functionArn}:*`)}]`,
      "The rollout state machine invokes the fleet's own function only; aws-cdk-lib grants its versions and " +
        'aliases (<arn>:*) with it',
    ],
    [
      ANY_RESOURCE,
      'Step Functions logging to CloudWatch Logs: the log delivery actions aws-cdk-lib grants (Create/Get/Update/' +
        'Delete/ListLogDeliveries, Put/DescribeResourcePolicies, DescribeLogGroups) support no resource-level ' +
        'permissions',
    ],
  );
  acknowledge(stateMachine, [
    'SF2',
    'The rollout only calls the fleet function per target; the function logs every target step with its ' +
      'timing, which is what X-Ray would show',
  ]);
}
