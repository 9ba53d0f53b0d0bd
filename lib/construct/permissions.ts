/**
 * What the migrations function may do, and nothing more: read the one secret (or connect as
 * the one IAM user), make and tag snapshots of this one database, delete only the ones it tagged,
 * list snapshots, and read its own stack's status (to tell a rollback Update from a forward one).
 */
import { aws_iam as iam, type aws_lambda as lambda, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { DatabaseMigrationsProps } from './props.ts';
import { MANAGED_SNAPSHOT_TAG, type MigrationTarget, ownSnapshotPattern, snapshotArn } from './target.ts';

export function grantDatabaseAccess(
  scope: IConstruct,
  fn: lambda.IFunction,
  props: DatabaseMigrationsProps,
  target: MigrationTarget,
  snapshot: { enabled: boolean; retain?: number },
): void {
  if (props.iamAuthentication) target.grantConnect(fn, props.iamAuthentication.username);
  else props.secret?.grantRead(fn);

  const arn = (name: string) => snapshotArn(scope, target, name);
  const ownSnapshots = arn(ownSnapshotPattern(target));

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
        resources: [target.arn, ownSnapshots],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['rds:AddTagsToResource'], resources: [ownSnapshots] }),
    );
  }
  if (snapshot.enabled && snapshot.retain !== undefined) {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [target.deleteSnapshotAction],
        resources: [ownSnapshots],
        conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_SNAPSHOT_TAG}`]: 'true' } },
      }),
    );
  }
  // The handler reads its own stack's status to tell a rollback Update from a forward one.
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['cloudformation:DescribeStacks'],
      resources: [Stack.of(scope).stackId],
    }),
  );
}
