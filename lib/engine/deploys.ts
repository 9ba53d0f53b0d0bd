/**
 * Deploy requests, as the history records them (table `deploys`, history format 3): one row per
 * request of an orchestrator that drives a database over several calls (the deployed function:
 * one CloudFormation request, then polls). The row is written before the request's first side
 * effect, so a second delivery of the same request finds it and joins the first instead of
 * planning again, and every poll reads the request's state from here, not from what the last
 * call happened to see.
 */

import type { Database } from './database.ts';
import type { History } from './history.ts';
import type { Revision } from './migration.ts';
import { escapeIdentifier } from './sql-quote.ts';

/**
 * Where a request stands. `snapshot-pending`: the snapshot is named but the database refused to
 * start it yet (busy); `snapshot`: RDS accepted it; `migrate`: ready to migrate; `done`: nothing
 * (more) to do. Readers treat a phase they do not know as still running.
 */
const DEPLOY_PHASES = ['snapshot-pending', 'snapshot', 'migrate', 'done'] as const;
export type DeployPhase = (typeof DEPLOY_PHASES)[number];

export function isDeployPhase(value: string): value is DeployPhase {
  return (DEPLOY_PHASES as readonly string[]).includes(value);
}

export interface DeployRecord {
  readonly requestId: string;
  readonly stack: string;
  readonly target: Revision;
  /** The database's heads when the request planned. */
  readonly from: readonly Revision[];
  /** The plan as it was made: `up <rev>` / `down <rev>`. */
  readonly plan: readonly string[];
  readonly phase: DeployPhase;
  readonly snapshotId?: string;
  readonly snapshotAttempts: number;
  /** When a refused snapshot may be tried again. */
  readonly nextAttemptAt?: Date;
  /** What the database was busy with the last time a snapshot was refused. */
  readonly waitingFor?: string;
  readonly startedAt: Date;
  readonly finishedAt?: Date;
  /** The snapshot policy the request ran under, and why it took a snapshot or none. */
  readonly snapshotPolicy?: string;
  readonly snapshotReason?: string;
  /** The time just before the request's first change: where a point-in-time restore goes back to. */
  readonly restorePointAt?: Date;
  /** The database's automated backup retention when the request planned; 0: no point-in-time recovery. */
  readonly backupRetentionDays?: number;
  /** The snapshot's progress as seen by the polls, oldest first. */
  readonly snapshotProgress?: readonly ProgressSample[];
}

export interface ProgressSample {
  readonly at: string;
  readonly percent: number;
}

export type DeployUpdate = Partial<
  Pick<
    DeployRecord,
    | 'phase'
    | 'snapshotId'
    | 'snapshotAttempts'
    | 'nextAttemptAt'
    | 'waitingFor'
    | 'finishedAt'
    | 'snapshotPolicy'
    | 'snapshotReason'
    | 'restorePointAt'
    | 'backupRetentionDays'
    | 'snapshotProgress'
  >
>;

const COLUMNS: Readonly<Record<keyof DeployUpdate, string>> = {
  phase: 'phase',
  snapshotId: 'snapshot_id',
  snapshotAttempts: 'snapshot_attempts',
  nextAttemptAt: 'next_attempt_at',
  waitingFor: 'waiting_for',
  finishedAt: 'finished_at',
  snapshotPolicy: 'snapshot_policy',
  snapshotReason: 'snapshot_reason',
  restorePointAt: 'restore_point_at',
  backupRetentionDays: 'backup_retention_days',
  snapshotProgress: 'snapshot_progress',
};

export class Deploys {
  private readonly table: string;

  constructor(history: History) {
    this.table = `${escapeIdentifier(history.schema)}.deploys`;
  }

  async find(db: Database, requestId: string): Promise<DeployRecord | undefined> {
    const result = await db.query<Record<string, unknown>>(
      `SELECT * FROM ${this.table} WHERE request_id = $1`,
      [requestId],
    );
    const row = result.rows[0];
    return row ? recordOf(row) : undefined;
  }

  /** Records a new request; a request recorded already is left as it is (and returned). */
  async insert(
    db: Database,
    record: Omit<DeployRecord, 'startedAt' | 'snapshotAttempts'> & {
      snapshotAttempts?: number;
      startedAt?: Date;
    },
  ): Promise<DeployRecord> {
    await db.query(
      `INSERT INTO ${this.table} (request_id, stack, target, from_heads, plan, phase, snapshot_id, snapshot_attempts,
                                  next_attempt_at, waiting_for, finished_at, started_at, snapshot_policy,
                                  snapshot_reason, backup_retention_days)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, coalesce($12, now()), $13, $14, $15)
       ON CONFLICT (request_id) DO NOTHING`,
      [
        record.requestId,
        record.stack,
        record.target,
        [...record.from],
        [...record.plan],
        record.phase,
        record.snapshotId ?? null,
        record.snapshotAttempts ?? 0,
        record.nextAttemptAt ?? null,
        record.waitingFor ?? null,
        record.finishedAt ?? null,
        record.startedAt ?? null,
        record.snapshotPolicy ?? null,
        record.snapshotReason ?? null,
        record.backupRetentionDays ?? null,
      ],
    );
    return (await this.find(db, record.requestId)) as DeployRecord;
  }

  async update(db: Database, requestId: string, update: DeployUpdate): Promise<void> {
    const entries = Object.entries(update) as [keyof DeployUpdate, unknown][];
    if (entries.length === 0) return;
    const sets = entries.map(([key], index) => `${COLUMNS[key]} = $${index + 2}`);
    const values = entries.map(([key, value]) =>
      key === 'snapshotProgress' && value !== undefined ? JSON.stringify(value) : (value ?? null),
    );
    await db.query(
      `UPDATE ${this.table} SET ${sets.join(', ')}, updated_at = clock_timestamp() WHERE request_id = $1`,
      [requestId, ...values],
    );
  }

  /** The newest requests, newest first. */
  async recent(db: Database, limit = 5): Promise<DeployRecord[]> {
    const result = await db.query<Record<string, unknown>>(
      `SELECT * FROM ${this.table} ORDER BY started_at DESC LIMIT $1`,
      [limit],
    );
    return result.rows.map(recordOf);
  }
}

function recordOf(row: Record<string, unknown>): DeployRecord {
  const date = (value: unknown) => (value instanceof Date ? value : undefined);
  return {
    requestId: String(row.request_id),
    stack: String(row.stack),
    target: String(row.target),
    from: row.from_heads as string[],
    plan: row.plan as string[],
    phase: String(row.phase) as DeployPhase,
    snapshotId: typeof row.snapshot_id === 'string' ? row.snapshot_id : undefined,
    snapshotAttempts: Number(row.snapshot_attempts ?? 0),
    nextAttemptAt: date(row.next_attempt_at),
    waitingFor: typeof row.waiting_for === 'string' ? row.waiting_for : undefined,
    startedAt: date(row.started_at) ?? new Date(0),
    finishedAt: date(row.finished_at),
    snapshotPolicy: typeof row.snapshot_policy === 'string' ? row.snapshot_policy : undefined,
    snapshotReason: typeof row.snapshot_reason === 'string' ? row.snapshot_reason : undefined,
    restorePointAt: date(row.restore_point_at),
    backupRetentionDays:
      row.backup_retention_days === null || row.backup_retention_days === undefined
        ? undefined
        : Number(row.backup_retention_days),
    snapshotProgress: Array.isArray(row.snapshot_progress)
      ? (row.snapshot_progress as ProgressSample[])
      : undefined,
  };
}
