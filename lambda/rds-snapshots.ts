/**
 * Snapshots on RDS: DB snapshots of an instance, or DB cluster snapshots of an Aurora cluster.
 * Named `rds-migrate-<identifier>-<yyyymmddHHMMss>` so a human finds them in the console, and
 * tagged `rds-migrate:managed=true` so this tool only ever lists and prunes its own.
 */
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DeleteDBClusterSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import { SNAPSHOT_TAG } from '../lib/engine/function-contract.ts';
import {
  type Clock,
  type RestoreWindow,
  SnapshotBusyError,
  SnapshotError,
  SnapshotExistsError,
  type SnapshotInfo,
  type SnapshotRequest,
  type SnapshotService,
  type SnapshotState,
  snapshotStamp,
  systemClock,
} from '../lib/engine/snapshot.ts';
import { awsCallHint } from './aws-errors.ts';
import type { DatabaseKind } from './config.ts';

export const MANAGED_TAG = SNAPSHOT_TAG.managed;

/**
 * What RDS answers while the instance or cluster is busy (another snapshot, a backup, a
 * modification, storage optimization): the snapshot can be started later.
 */
const BUSY_FAULTS = new Set([
  'InvalidDBInstanceStateFault',
  'InvalidDBClusterStateFault',
  'InvalidDBInstanceState',
]);

interface RdsSnapshotsOptions {
  readonly client: RDSClient;
  readonly kind: DatabaseKind;
  /** The DB instance identifier, or the DB cluster identifier for Aurora. */
  readonly identifier: string;
  /** @default the system clock */
  readonly clock?: Clock;
}

/** What both snapshot kinds have in common, as DescribeDB(Cluster)Snapshots return them. */
interface RdsSnapshot {
  readonly id?: string;
  readonly status?: string;
  readonly percent?: number;
  readonly createdAt?: Date;
  readonly tags?: readonly Tag[];
}

export class RdsSnapshots implements SnapshotService {
  private readonly client: RDSClient;
  private readonly kind: DatabaseKind;
  private readonly identifier: string;
  private readonly clock: Clock;

  constructor(options: RdsSnapshotsOptions) {
    this.client = options.client;
    this.kind = options.kind;
    this.identifier = options.identifier;
    this.clock = options.clock ?? systemClock;
  }

  /** `rds-migrate-<identifier>-<stamp>[-<n>]`, within RDS's rules: letters, digits, single hyphens. */
  nameAt(at: Date, sequence = 1): string {
    const identifier = this.identifier
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/-+/g, '-')
      .replace(/^-|-$/g, '');
    return `rds-migrate-${identifier}-${snapshotStamp(at)}${sequence > 1 ? `-${sequence}` : ''}`;
  }

  /** The instance's (or cluster's) status when it is not `available`, or a snapshot of it being made. */
  async busyWith(): Promise<string | undefined> {
    const status = await this.call('describe', () => this.databaseStatus());
    if (status && status !== 'available') return `${this.kind} status ${status}`;
    const creating = (await this.call('list the snapshots of', () => this.describe({}))).find(
      (snapshot) => stateOf(snapshot.status) === 'creating',
    );
    return creating ? `snapshot ${creating.id} still being created` : undefined;
  }

  async progress(id: string): Promise<number | undefined> {
    const snapshot = (await this.call(`describe snapshot ${id} of`, () => this.describe({ id })))[0];
    return snapshot?.percent;
  }

  async restoreWindow(): Promise<RestoreWindow> {
    return this.call('describe', async () => {
      if (this.kind === 'cluster') {
        const cluster = (
          await this.client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: this.identifier }))
        ).DBClusters?.[0];
        return {
          retentionDays: cluster?.BackupRetentionPeriod ?? 0,
          latestRestorableTime: cluster?.LatestRestorableTime,
        };
      }
      const instance = (
        await this.client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: this.identifier }))
      ).DBInstances?.[0];
      return {
        retentionDays: instance?.BackupRetentionPeriod ?? 0,
        latestRestorableTime: instance?.LatestRestorableTime,
      };
    });
  }

  private async databaseStatus(): Promise<string | undefined> {
    if (this.kind === 'cluster') {
      const result = await this.client.send(
        new DescribeDBClustersCommand({ DBClusterIdentifier: this.identifier }),
      );
      return result.DBClusters?.[0]?.Status;
    }
    const result = await this.client.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: this.identifier }),
    );
    return result.DBInstances?.[0]?.DBInstanceStatus;
  }

  async create(request: SnapshotRequest): Promise<string> {
    const id = request.name ?? this.nameAt(this.clock.now());
    const tags: Tag[] = [
      { Key: MANAGED_TAG, Value: 'true' },
      ...Object.entries(request.tags).map(([Key, Value]) => ({ Key, Value: tagValue(Value) })),
    ];
    await this.callCreate(id, () =>
      this.kind === 'cluster'
        ? this.client.send(
            new CreateDBClusterSnapshotCommand({
              DBClusterSnapshotIdentifier: id,
              DBClusterIdentifier: this.identifier,
              Tags: tags,
            }),
          )
        : this.client.send(
            new CreateDBSnapshotCommand({
              DBSnapshotIdentifier: id,
              DBInstanceIdentifier: this.identifier,
              Tags: tags,
            }),
          ),
    );
    return id;
  }

  async state(id: string): Promise<SnapshotState> {
    const snapshots = await this.call(`describe snapshot ${id} of`, () => this.describe({ id }));
    const snapshot = snapshots[0];
    if (!snapshot)
      throw new SnapshotError(`snapshot ${id} of ${this.kind} ${this.identifier} no longer exists`);
    return stateOf(snapshot.status);
  }

  async list(): Promise<SnapshotInfo[]> {
    const snapshots = await this.call('list the snapshots of', () => this.describe({}));
    return snapshots
      .filter((snapshot) => snapshot.tags?.some((tag) => tag.Key === MANAGED_TAG && tag.Value === 'true'))
      .map((snapshot) => ({
        id: snapshot.id ?? '',
        // A snapshot still being created has no time yet: it is the newest.
        createdAt: snapshot.createdAt ?? this.clock.now(),
        state: stateOf(snapshot.status),
        tags: Object.fromEntries((snapshot.tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
      }))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  async delete(id: string): Promise<void> {
    await this.call(`delete snapshot ${id} of`, () =>
      this.kind === 'cluster'
        ? this.client.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: id }))
        : this.client.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: id })),
    );
  }

  /** Every manual snapshot of the database (or the one named `id`), across pages. */
  private async describe(filter: { id?: string }): Promise<RdsSnapshot[]> {
    const found: RdsSnapshot[] = [];
    let marker: string | undefined;
    do {
      if (this.kind === 'cluster') {
        const page = await this.client.send(
          new DescribeDBClusterSnapshotsCommand(
            filter.id
              ? { DBClusterSnapshotIdentifier: filter.id }
              : { DBClusterIdentifier: this.identifier, SnapshotType: 'manual', Marker: marker },
          ),
        );
        for (const snapshot of page.DBClusterSnapshots ?? []) {
          found.push({
            id: snapshot.DBClusterSnapshotIdentifier,
            status: snapshot.Status,
            percent: snapshot.PercentProgress,
            createdAt: snapshot.SnapshotCreateTime,
            tags: snapshot.TagList,
          });
        }
        marker = page.Marker;
      } else {
        const page = await this.client.send(
          new DescribeDBSnapshotsCommand(
            filter.id
              ? { DBSnapshotIdentifier: filter.id }
              : { DBInstanceIdentifier: this.identifier, SnapshotType: 'manual', Marker: marker },
          ),
        );
        for (const snapshot of page.DBSnapshots ?? []) {
          found.push({
            id: snapshot.DBSnapshotIdentifier,
            status: snapshot.Status,
            percent: snapshot.PercentProgress,
            createdAt: snapshot.SnapshotCreateTime,
            tags: snapshot.TagList,
          });
        }
        marker = page.Marker;
      }
    } while (marker && !filter.id);
    return found;
  }

  /** CreateDB(Cluster)Snapshot, with the refusals a retry can cure told apart from real failures. */
  private async callCreate<T>(id: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      if (BUSY_FAULTS.has(name)) {
        const busyWith = (await this.busyWith().catch(() => undefined)) ?? (error as Error).message;
        throw new SnapshotBusyError(
          `${this.kind} ${this.identifier} cannot start snapshot ${id} now (${name}): ${busyWith}`,
          busyWith,
        );
      }
      if (name === 'DBSnapshotAlreadyExistsFault' || name === 'DBClusterSnapshotAlreadyExistsFault') {
        throw new SnapshotExistsError(
          `a snapshot named ${id} of ${this.kind} ${this.identifier} exists already`,
        );
      }
      return this.call(`create snapshot ${id} of`, () => Promise.reject(error));
    }
  }

  private async call<T>(what: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const { name, message } = error as { name?: string; message?: string };
      if (name === 'DBSnapshotNotFoundFault' || name === 'DBClusterSnapshotNotFoundFault') {
        throw new SnapshotError(
          `cannot ${what} ${this.kind} ${this.identifier}: the snapshot does not exist`,
        );
      }
      const advice =
        name === 'SnapshotQuotaExceededFault'
          ? '. The account is at its manual snapshot quota: set a snapshot retention, or delete old snapshots'
          : awsCallHint(error, 'the RDS API', 'rds');
      throw new SnapshotError(
        `cannot ${what} ${this.kind} ${this.identifier}: ${name ?? 'Error'}: ${message ?? String(error)}${advice}`,
      );
    }
  }
}

/** RDS has many statuses; a deploy only needs to know whether to wait, go on, or stop. */
export function stateOf(status: string | undefined): SnapshotState {
  if (status === 'available') return 'available';
  if (status && /failed|deleted|deleting|incompatible|inaccessible|error/.test(status)) return 'failed';
  return 'creating';
}

/** RDS tag values allow letters, digits, spaces and `_ . : / = + - @`, up to 256 characters. */
function tagValue(value: string): string {
  return value.replace(/[^\p{L}\p{N}\s_.:/=+\-@]/gu, '_').slice(0, 256);
}
