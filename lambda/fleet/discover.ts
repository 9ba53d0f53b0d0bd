/**
 * Targets found at deploy time, source by source in the fleet's order: the RDS instances and
 * Aurora clusters (PostgreSQL) carrying a source's tag, by name, and the targets an SSM parameter
 * lists, as listed (parameter-source.ts). A tagged server is named by its `rds-migrate:target` tag (else its identifier), logs in with
 * the secret its `rds-migrate:secret` tag names (else the master secret RDS manages for it), and
 * migrates the database its `rds-migrate:database` tag names (else the secret's).
 */
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { awsCallHint } from '../aws-errors.ts';
import { messageOf } from '../deploy/answers.ts';
import { DeployFailed } from '../failure.ts';
import { FLEET_TAG, type FleetTarget, type TagSource, type TargetSource } from './model.ts';
import { listedTargets } from './parameter-source.ts';

interface DiscoveryClients {
  readonly rds: RDSClient;
  /** Made on first use: only a fleet with a parameter source reads SSM. */
  readonly ssm: () => SSMClient;
}

export async function discoverTargets(
  clients: DiscoveryClients,
  sources: readonly TargetSource[],
): Promise<FleetTarget[]> {
  let servers: Promise<[DBInstance[], DBCluster[]]> | undefined;
  const found: FleetTarget[] = [];
  for (const source of sources) {
    if (source.type === 'parameter') {
      found.push(...(await listedTargets(clients.ssm(), source)));
      continue;
    }
    servers ??= Promise.all([allInstances(clients.rds), allClusters(clients.rds)]);
    found.push(...taggedTargets(source, ...(await servers)));
  }
  return found;
}

function taggedTargets(source: TagSource, instances: DBInstance[], clusters: DBCluster[]): FleetTarget[] {
  const found: FleetTarget[] = [];
  const tagged = (tags: Tag[] | undefined) =>
    tags?.some((tag) => tag.Key === source.key && tag.Value === source.value);
  for (const instance of instances) {
    // An instance of an Aurora cluster is migrated through its cluster.
    if (instance.DBClusterIdentifier || !tagged(instance.TagList)) continue;
    found.push(
      targetOf(
        'instance',
        instance.DBInstanceIdentifier,
        instance.TagList,
        instance.MasterUserSecret?.SecretArn,
      ),
    );
  }
  for (const cluster of clusters) {
    if (!tagged(cluster.TagList)) continue;
    found.push(
      targetOf('cluster', cluster.DBClusterIdentifier, cluster.TagList, cluster.MasterUserSecret?.SecretArn),
    );
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function targetOf(
  kind: FleetTarget['kind'],
  identifier: string | undefined,
  tags: Tag[] | undefined,
  managedSecret: string | undefined,
): FleetTarget {
  const tag = (key: string) => tags?.find((item) => item.Key === key)?.Value || undefined;
  const secretArn = tag(FLEET_TAG.secret) ?? managedSecret;
  if (!identifier || !secretArn) {
    throw new DeployFailed(
      `${kind} ${identifier} carries the fleet's tag but has no secret to log in with: tag it ` +
        `${FLEET_TAG.secret}=<secret ARN>, or let RDS manage its master password (manageMasterUserPassword); nothing was migrated`,
    );
  }
  const database = tag(FLEET_TAG.database);
  return {
    name: tag(FLEET_TAG.name) ?? identifier,
    kind,
    identifier,
    secretArn,
    ...(database ? { database } : {}),
  };
}

function allInstances(rds: RDSClient): Promise<DBInstance[]> {
  return allPages('RDS instances', async (Marker) => {
    const page = await rds.send(
      new DescribeDBInstancesCommand({ Marker, Filters: [{ Name: 'engine', Values: ['postgres'] }] }),
    );
    return { items: page.DBInstances ?? [], marker: page.Marker };
  });
}

function allClusters(rds: RDSClient): Promise<DBCluster[]> {
  return allPages('Aurora clusters', async (Marker) => {
    const page = await rds.send(
      new DescribeDBClustersCommand({ Marker, Filters: [{ Name: 'engine', Values: ['aurora-postgresql'] }] }),
    );
    return { items: page.DBClusters ?? [], marker: page.Marker };
  });
}

async function allPages<T>(
  what: string,
  fetch: (marker: string | undefined) => Promise<{ items: T[]; marker?: string }>,
): Promise<T[]> {
  const all: T[] = [];
  let marker: string | undefined;
  do {
    const page = await fetch(marker).catch((error: unknown) => {
      throw new DeployFailed(
        `could not list the ${what} to find the fleet's tagged targets: ${messageOf(error)}${awsCallHint(error, 'RDS', 'rds')}`,
      );
    });
    all.push(...page.items);
    marker = page.marker;
  } while (marker);
  return all;
}
