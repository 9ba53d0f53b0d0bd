/**
 * The database as the construct sees it: an RDS instance or an Aurora cluster, with the ARNs,
 * actions and endpoint each kind needs, and the names of the snapshots this tool makes of it.
 */
import { ArnFormat, type aws_ec2 as ec2, type aws_iam as iam, Stack, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { type DbKind, SNAPSHOT_TAG } from '../engine/function-contract.ts';
import { snapshotStamp } from '../engine/snapshot.ts';
import { type DatabaseMigrationsProps, DatabaseMigrationsPropsError } from './props.ts';

/** Tag the handler puts on its snapshots; only snapshots carrying it may be deleted. */
export const MANAGED_SNAPSHOT_TAG = SNAPSHOT_TAG.managed;

/** The database as the function sees it: instance or Aurora cluster. */
export interface MigrationTarget {
  readonly kind: DbKind;
  readonly identifier: string;
  /** The database construct, for messages: its path in the app. */
  readonly construct: IConstruct;
  /** ARN of the instance or cluster as IAM sees it (RDS identifiers are lower case). */
  readonly arn: string;
  readonly connections: ec2.Connections;
  readonly snapshotResourceType: 'snapshot' | 'cluster-snapshot';
  readonly createSnapshotAction: string;
  readonly describeSnapshotsAction: string;
  /** Reads the database's status: what keeps it from taking a snapshot now. */
  readonly describeDatabaseAction: string;
  readonly deleteSnapshotAction: string;
  readonly endpoint: { readonly hostname: string; readonly port: string };
  grantConnect(grantee: iam.IGrantable, username: string): iam.Grant;
}

/**
 * RDS stores identifiers in lower case and IAM compares ARNs case-sensitively, so an imported
 * database named `App-DB` must be granted as `db:app-db`. Identifiers that are tokens (made in
 * this app) are lower case already.
 */
function lowerCaseArn(
  scope: IConstruct,
  resource: 'db' | 'cluster',
  identifier: string,
  arn: string,
): string {
  if (Token.isUnresolved(identifier) || identifier === identifier.toLowerCase()) return arn;
  return Stack.of(scope).formatArn({
    service: 'rds',
    resource,
    resourceName: identifier.toLowerCase(),
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** One IAM `?` per character of the handler's snapshot stamp (`yyyymmddHHMMss`). */
const STAMP_PATTERN = '?'.repeat(snapshotStamp(new Date(0)).length);

/**
 * Names of the snapshots the handler makes (lambda/rds-snapshots.ts `nameAt`):
 * `rds-migrate-<identifier>-<yyyymmddHHMMss>`, or with `-<n>` when that name was taken (n is at
 * most 5), with the identifier in lower case as RDS stores it (IAM compares ARNs
 * case-sensitively). IAM's `?` stands for exactly one character, so the snapshots of another
 * database whose identifier merely starts with this one (`<identifier>-other`) never match, as
 * they would with `*`.
 */
export function ownSnapshotPatterns(target: MigrationTarget): string[] {
  const identifier = Token.isUnresolved(target.identifier)
    ? target.identifier
    : target.identifier.toLowerCase();
  const name = `rds-migrate-${identifier}-${STAMP_PATTERN}`;
  return [name, `${name}-?`];
}

export function migrationTarget(
  props: Pick<DatabaseMigrationsProps, 'database' | 'cluster'>,
): MigrationTarget {
  if (props.database && props.cluster) {
    throw new DatabaseMigrationsPropsError('give either database or cluster, not both');
  }
  if (props.database) {
    const database = props.database;
    return {
      kind: 'instance',
      identifier: database.instanceIdentifier,
      construct: database,
      arn: lowerCaseArn(database, 'db', database.instanceIdentifier, database.instanceArn),
      connections: database.connections,
      snapshotResourceType: 'snapshot',
      createSnapshotAction: 'rds:CreateDBSnapshot',
      describeSnapshotsAction: 'rds:DescribeDBSnapshots',
      describeDatabaseAction: 'rds:DescribeDBInstances',
      deleteSnapshotAction: 'rds:DeleteDBSnapshot',
      endpoint: { hostname: database.dbInstanceEndpointAddress, port: database.dbInstanceEndpointPort },
      grantConnect: (grantee, username) => database.grantConnect(grantee, username),
    };
  }
  if (props.cluster) {
    const cluster = props.cluster;
    return {
      kind: 'cluster',
      identifier: cluster.clusterIdentifier,
      construct: cluster,
      arn: lowerCaseArn(cluster, 'cluster', cluster.clusterIdentifier, cluster.clusterArn),
      connections: cluster.connections,
      snapshotResourceType: 'cluster-snapshot',
      createSnapshotAction: 'rds:CreateDBClusterSnapshot',
      describeSnapshotsAction: 'rds:DescribeDBClusterSnapshots',
      describeDatabaseAction: 'rds:DescribeDBClusters',
      deleteSnapshotAction: 'rds:DeleteDBClusterSnapshot',
      endpoint: {
        hostname: cluster.clusterEndpoint.hostname,
        port: Token.asString(cluster.clusterEndpoint.port),
      },
      grantConnect: (grantee, username) => cluster.grantConnect(grantee, username),
    };
  }
  throw new DatabaseMigrationsPropsError('give database (an RDS instance) or cluster (an Aurora cluster)');
}

/** The ARN of a snapshot (or pattern) of `target`'s kind, in `scope`'s account and region. */
export function snapshotArn(scope: IConstruct, target: MigrationTarget, name: string): string {
  return Stack.of(scope).formatArn({
    service: 'rds',
    resource: target.snapshotResourceType,
    resourceName: name,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** The DatabaseMigrations of an app, by the database and history schema they migrate. */
const claims = new WeakMap<IConstruct, Map<string, string>>();

/**
 * One DatabaseMigrations per database and history schema in an app: two would race each other's
 * snapshots, run lease and history. An identifier made in this app is a token, the same for every
 * reference to that database; an imported one is its name, which RDS compares in lower case.
 */
export function claimDatabase(scope: IConstruct, target: MigrationTarget, historySchema: string): void {
  const identifier = Token.isUnresolved(target.identifier)
    ? target.identifier
    : target.identifier.toLowerCase();
  const key = `${target.kind}/${identifier}/${historySchema}`;
  const app = scope.node.root;
  const taken = claims.get(app) ?? new Map<string, string>();
  claims.set(app, taken);
  const other = taken.get(key);
  if (other !== undefined) {
    const name = Token.isUnresolved(target.identifier) ? target.construct.node.path : target.identifier;
    throw new DatabaseMigrationsPropsError(
      `${scope.node.path} and ${other} both migrate ${target.kind} ${name} with history schema ${historySchema}; ` +
        "two would race each other's snapshots, run lease and history. Give each database one DatabaseMigrations " +
        'with one migrationsDir (merge the folders: rds-migrate merge joins their heads), or, when two apps share ' +
        'the database on purpose, give each its own historySchema.',
    );
  }
  taken.set(key, scope.node.path);
}
