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
import { acknowledge, acknowledgeVpcFunctionFindings, nagReference, snapshotListFinding } from '../nag.ts';
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
  acknowledgeVpcFunctionFindings(scope, fn, logGroup);
  const policy = role.node.findChild('DefaultPolicy');
  const findings: [string, string][] = [
    [
      `IAM5[Resource::${arnOf(names.executionsArn)}]`,
      "Stop and describe the executions of the fleet's own rollout state machine (one fixed name); execution " +
        'names are the CloudFormation request ids, so IAM can only name them by pattern',
    ],
  ];
  const servers = bound.flatMap((part) => part.servers);
  for (const server of servers) findings.push(snapshotListFinding(scope, server));
  const reasons = new Map<string, string>();
  for (const part of bound) {
    for (const pattern of part.patterns) {
      if (!reasons.has(pattern) && part.patternsReason) reasons.set(pattern, part.patternsReason);
    }
  }
  for (const [pattern, reason] of reasons) {
    findings.push([`IAM5[Resource::${pattern === '*' ? '*' : arnOf(pattern)}]`, reason]);
  }
  acknowledge(policy, ...findings);
  acknowledge(
    stateMachine.role.node.findChild('DefaultPolicy'),
    [
      `IAM5[Resource::${arnOf(`${fn.functionArn}:*`)}]`,
      "The rollout state machine invokes the fleet's own function only; aws-cdk-lib grants its versions and " +
        'aliases (<arn>:*) with it',
    ],
    [
      'IAM5[Resource::*]',
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
