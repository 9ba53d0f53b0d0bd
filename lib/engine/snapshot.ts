/**
 * Snapshots taken before a deploy changes a database, behind one interface: RDS snapshots in the
 * deployed function (lambda/rds-snapshots.ts), template-database copies on a database the CLI
 * reaches directly (lib/local-snapshots.ts). Results are data; the callers format them.
 */
import { RdsMigrateError } from './errors.ts';

export type SnapshotState = 'creating' | 'available' | 'failed';

/** Tags name the snapshot's purpose: stack, from and to revisions. Values are plain strings. */
export type SnapshotTags = Readonly<Record<string, string>>;

export interface SnapshotInfo {
  /** What `state`, `delete` and a restore take: the RDS snapshot identifier or the copy's database name. */
  readonly id: string;
  readonly createdAt: Date;
  readonly state: SnapshotState;
  readonly tags: SnapshotTags;
}

export interface SnapshotRequest {
  /** The snapshot's id; when absent the service names it after the database and the time. */
  readonly name?: string;
  readonly tags: SnapshotTags;
}

export interface SnapshotService {
  /**
   * The name of a snapshot started at `at`: known before it is started, so it can be recorded
   * first. `sequence` (2, 3, ...) picks another name for the same second.
   */
  nameAt(at: Date, sequence?: number): string;
  /** What keeps the database from starting a snapshot now, if anything can be said. */
  busyWith?(): Promise<string | undefined>;
  /** How far a snapshot being made has got, in percent, when the service can say. */
  progress?(id: string): Promise<number | undefined>;
  /** The database's point-in-time recovery window, when the service can say. */
  restoreWindow?(): Promise<RestoreWindow>;
  /**
   * Starts a snapshot and returns its id; it may still be `creating` when this returns. Throws
   * SnapshotBusyError when the database cannot start one now (another snapshot, a backup, a
   * modification), SnapshotExistsError when one of that name exists already.
   */
  create(request: SnapshotRequest): Promise<string>;
  state(id: string): Promise<SnapshotState>;
  /** Snapshots this tool made of this database, newest first. */
  list(): Promise<SnapshotInfo[]>;
  delete(id: string): Promise<void>;
}

/** What automated backups let a restore reach. */
export interface RestoreWindow {
  /** Days automated backups are kept; 0 means they are off: no point-in-time recovery. */
  readonly retentionDays: number;
  /** The newest time a point-in-time restore reaches now (usually within the last five minutes). */
  readonly latestRestorableTime?: Date;
}

/** Where "now" comes from, so tests and the demo can name snapshots predictably. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A snapshot cannot be made, found or removed. */
export class SnapshotError extends RdsMigrateError {
  override readonly name: string = 'SnapshotError';
}

/** The database cannot start a snapshot now; trying again later may work. */
export class SnapshotBusyError extends SnapshotError {
  override readonly name = 'SnapshotBusyError';
  constructor(
    message: string,
    /** What the database is busy with, as its status says: `backing-up`, `snapshot ... creating`. */
    readonly busyWith: string,
  ) {
    super(message);
  }
}

/** A snapshot of the requested name exists already (a retried request made it). */
export class SnapshotExistsError extends SnapshotError {
  override readonly name = 'SnapshotExistsError';
}

/** `2026-11-25T10:30:05Z` → `20261125103005` (UTC), the suffix of every snapshot name. */
export function snapshotStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:T]/g, '');
}

/**
 * Keeps the newest `retain` snapshots of `service.list()` and deletes the rest, oldest first.
 * A snapshot still `creating` is never deleted (RDS refuses it, and it may be a run's safety net).
 * Returns what it deleted.
 */
export async function pruneSnapshots(service: SnapshotService, retain: number): Promise<SnapshotInfo[]> {
  if (!Number.isInteger(retain) || retain < 1) {
    throw new SnapshotError(
      `retain must be a whole number of at least 1 (got ${retain}); leave it unset to keep all`,
    );
  }
  const snapshots = await service.list();
  const beyond = snapshots.slice(retain).filter((snapshot) => snapshot.state !== 'creating');
  const deleted: SnapshotInfo[] = [];
  for (const snapshot of beyond.reverse()) {
    await service.delete(snapshot.id);
    deleted.push(snapshot);
  }
  return deleted;
}
