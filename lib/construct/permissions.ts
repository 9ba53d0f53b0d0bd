/**
 * What the construct's functions may do, and nothing more. The migrations function: write its own
 * log group, attach to the VPC, read the one secret (or connect as the one IAM user), make and tag
 * snapshots of this one database, delete only the ones it tagged, list snapshots, and read its own
 * stack and custom resource (to confirm each request with CloudFormation). The Provider
 * framework's functions get roles that write only their own log group.
 */
import { aws_iam as iam, type aws_lambda as lambda, type aws_logs as logs, Stack } from 'aws-cdk-lib';
import type { Construct, IConstruct } from 'constructs';
import { MANAGED_SNAPSHOT_TAG_KEYS } from '../engine/function-contract.ts';
import { logGroupWriteArns } from './logs.ts';
import type { DatabaseMigrationsProps } from './props.ts';
import { MANAGED_SNAPSHOT_TAG, type MigrationTarget, ownSnapshotPatterns, snapshotArn } from './target.ts';

/**
 * What a Lambda function in a VPC needs to attach to it: its network interfaces. EC2 cannot scope
 * the Describe calls to a resource, so these are granted on `*`, as the AWS managed policy
 * AWSLambdaVPCAccessExecutionRole grants them (without its logs on every log group).
 */
const VPC_NETWORK_INTERFACE_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

/**
 * A Lambda execution role that may write `logGroup` and no other log group (the AWS managed
 * AWSLambdaBasicExecutionRole allows every one), and with `inVpc` manage the function's network
 * interfaces. Both are inline in the role, so they exist before the function is created.
 */
export function executionRole(
  scope: Construct,
  id: string,
  logGroup: logs.ILogGroup,
  options: { readonly inVpc: boolean; readonly description: string },
): iam.Role {
  const statements = [
    new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: logGroupWriteArns(scope, logGroup),
    }),
  ];
  if (options.inVpc) {
    statements.push(new iam.PolicyStatement({ actions: VPC_NETWORK_INTERFACE_ACTIONS, resources: ['*'] }));
  }
  return new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: options.description,
    inlinePolicies: { Execution: new iam.PolicyDocument({ statements }) },
  });
}

export function grantDatabaseAccess(
  scope: IConstruct,
  fn: lambda.IFunction,
  props: Pick<DatabaseMigrationsProps, 'iamAuthentication' | 'secret'>,
  target: MigrationTarget,
  snapshot: { enabled: boolean; retain?: number },
): void {
  if (props.iamAuthentication) target.grantConnect(fn, props.iamAuthentication.username);
  else props.secret?.grantRead(fn);

  const arn = (name: string) => snapshotArn(scope, target, name);
  const ownSnapshots = ownSnapshotPatterns(target).map(arn);

  // Listing snapshots is authorized against the wildcard snapshot ARN, not a name pattern.
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [target.describeSnapshotsAction],
      resources: [target.arn, arn('*')],
    }),
  );
  // The database's status and backup retention: why it refuses a snapshot now, and whether
  // point-in-time recovery can reach the deploy's restore point.
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: [target.describeDatabaseAction], resources: [target.arn] }),
  );
  if (snapshot.enabled) {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [target.createSnapshotAction],
        resources: [target.arn, ...ownSnapshots],
      }),
    );
    // Tags on create need AddTagsToResource too, limited to the keys the function writes. RDS has
    // no condition key that tells tagging on create apart from a later AddTagsToResource, so the
    // function could also re-tag a snapshot matching its own name pattern with these keys.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['rds:AddTagsToResource'],
        resources: ownSnapshots,
        conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [...MANAGED_SNAPSHOT_TAG_KEYS] } },
      }),
    );
  }
  if (snapshot.enabled && snapshot.retain !== undefined) {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [target.deleteSnapshotAction],
        resources: ownSnapshots,
        conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_SNAPSHOT_TAG}`]: 'true' } },
      }),
    );
  }
  // Before it acts on a request the function confirms with CloudFormation that its own stack and
  // custom resource are in the matching in-progress state; it reads no other stack.
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['cloudformation:DescribeStacks', 'cloudformation:DescribeStackResource'],
      resources: [Stack.of(scope).stackId],
    }),
  );
}
