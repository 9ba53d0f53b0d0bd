/**
 * What the deploy function answers the Provider framework: the marker onEvent returns and every
 * isComplete poll carries back, the Data CloudFormation gets, and the words both use.
 */
import { type DeployPhase, type DeployRecord, isDeployPhase } from '../../lib/engine/deploys.ts';
import type { RevisionGraph } from '../../lib/engine/graph.ts';
import { BASE, type Revision } from '../../lib/engine/migration.ts';
import { ConfigError, isRecord } from '../config.ts';

/** The key of onEvent's result that the framework passes on to every isComplete poll. */
export const MARKER_KEY = 'RdsMigrate';

/** What onEvent decided, for isComplete. */
export interface DeployMarker {
  /**
   * Where the request stood when the marker was made, in the words of its record (deploys.ts):
   * a poll reads the record for where it stands now; only `done` lets it answer without more.
   */
  readonly phase: DeployPhase;
  /** The request that claimed the run lease: a poll of an older request must not migrate. */
  readonly requestId: string;
  readonly target: Revision;
  /** The database's heads when onEvent planned. */
  readonly from: readonly Revision[];
  readonly snapshotId?: string;
  /** True when the plan reverts revisions known only from the history (a stack rollback run by older code). */
  readonly revertsFromHistory?: boolean;
  /** The plan as onEvent saw it: `up <rev>` / `down <rev>`, for the logs. */
  readonly plan: readonly string[];
}

/** What Data carries to CloudFormation (`Fn::GetAtt`); every value a string. */
interface DeployData {
  readonly Revision: string;
  readonly PreviousRevision: string;
  readonly SnapshotId: string;
  readonly Applied: string;
  readonly Reverted: string;
  readonly Note?: string;
  readonly [key: string]: string | undefined;
}

export interface OnEventResult {
  readonly PhysicalResourceId: string;
  readonly Data?: DeployData;
  readonly [MARKER_KEY]: DeployMarker;
}

/** Delete's answer: the incoming physical id (the framework refuses a changed one), and a note. */
export interface DeleteResult {
  readonly PhysicalResourceId?: string;
  readonly Data: { readonly Note: string };
  readonly [MARKER_KEY]: DeployMarker;
}

export interface IsCompleteResult {
  readonly IsComplete: boolean;
  readonly Data?: Partial<DeployData>;
}

export const DELETE_NOTE = 'rds-migrate leaves the schema and data in place when the resource is deleted';

/** The marker every isComplete event carries back; the request's row holds the rest. */
export function markerFor(record: DeployRecord, graph: RevisionGraph): DeployMarker {
  return {
    phase: record.phase,
    requestId: record.requestId,
    target: record.target,
    from: record.from,
    plan: record.plan,
    ...(record.snapshotId ? { snapshotId: record.snapshotId } : {}),
    ...(revertsFromHistory(graph, record) ? { revertsFromHistory: true } : {}),
  };
}

export function markerOf(event: Record<string, unknown>): DeployMarker | undefined {
  const marker = event[MARKER_KEY];
  if (marker === undefined) return undefined;
  if (!isRecord(marker) || typeof marker.phase !== 'string' || !isDeployPhase(marker.phase)) {
    throw new ConfigError(`the isComplete event's ${MARKER_KEY} is not what onEvent returns`);
  }
  if (typeof marker.requestId !== 'string' || marker.requestId.length > 128) {
    throw new ConfigError(`the isComplete event's ${MARKER_KEY} names no request`);
  }
  if (
    (marker.phase === 'snapshot' || marker.phase === 'snapshot-pending') &&
    typeof marker.snapshotId !== 'string'
  ) {
    throw new ConfigError(`the isComplete event's ${MARKER_KEY} has no snapshotId`);
  }
  return marker as unknown as DeployMarker;
}

/** True when the plan reverts revisions this bundle lacks (a stack rollback run by older code). */
export function revertsFromHistory(graph: RevisionGraph, record: DeployRecord): boolean {
  return record.from.some((revision) => !graph.has(revision));
}

export function deployData(
  record: DeployRecord,
  counts: { up: number; down: number },
  note?: string,
): DeployData {
  return {
    Revision: record.target,
    PreviousRevision: revisionsText(record.from),
    SnapshotId: record.phase === 'done' && record.plan.length === 0 ? '' : (record.snapshotId ?? ''),
    Applied: String(counts.up),
    Reverted: String(counts.down),
    ...(record.snapshotPolicy ? { SnapshotPolicy: record.snapshotPolicy } : {}),
    ...(record.snapshotReason ? { SnapshotReason: record.snapshotReason } : {}),
    ...(record.restorePointAt ? { RestorePoint: record.restorePointAt.toISOString() } : {}),
    ...(record.backupRetentionDays === undefined
      ? {}
      : { BackupRetentionDays: String(record.backupRetentionDays) }),
    ...(note ? { Note: note } : {}),
  };
}

export function revisionsText(revisions: readonly Revision[]): string {
  return revisions.length > 0 ? revisions.join('+') : BASE;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
