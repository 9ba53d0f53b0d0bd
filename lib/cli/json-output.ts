/**
 * What each `--json` prints, by command. The JSON Schemas in schemas/ are generated from these
 * types (`npm run schemas`), and a test validates every command's real output against them, so a
 * script can rely on the shape: across releases fields are added, never renamed or removed.
 */

import type { CheckReport } from '../check/check.ts';
import type { DoctorReport } from '../check/doctor.ts';
import type { LogRow } from '../engine/history.ts';
import type { Revision } from '../engine/migration.ts';
import type { RunReport } from '../engine/runner.ts';
import type { SnapshotInfo } from '../engine/snapshot.ts';
import type { Status } from '../engine/status.ts';
import type { RestoreResult } from '../local/snapshots.ts';
import type { AutogenerateReport } from '../schema/autogenerate.ts';
import type { DatabaseDiff } from '../schema/database-diff.ts';
import type { SquashReport } from '../schema/squash.ts';
import type { FleetStatusReport } from './fleet-status.ts';
import type { HistoryEntry, RevisionDetails } from './report.ts';

/** `rds-migrate history --json`. */
export interface HistoryJson {
  /** The database's current revisions (empty at base). */
  readonly current: readonly Revision[];
  /** Newest first. */
  readonly revisions: readonly HistoryEntry[];
  /** The last 100 rows of the run log, newest first. */
  readonly log?: readonly LogRow[];
}

/** `rds-migrate heads --json`. */
export interface HeadsJson {
  readonly heads: readonly {
    readonly revision: Revision;
    readonly message: string;
    readonly source: string;
    readonly branchLabels: readonly string[];
    /** Only depended on (depends_on): Alembic's "effective head". */
    readonly effective: boolean;
  }[];
}

/** `rds-migrate current --json`. */
export interface CurrentJson {
  readonly current: readonly Revision[];
}

/** `rds-migrate db url --json`. */
export type DbUrlJson =
  | {
      readonly running: true;
      readonly url: string;
      readonly pid: number;
      readonly port: number;
      /** Where the data lives, as the project names it. */
      readonly dataDir: string;
    }
  | { readonly running: false; readonly dataDir: string };

/** `rds-migrate backup list --json`. */
export interface BackupListJson {
  readonly backups: readonly SnapshotInfo[];
}

/** Each command's `--json`, by the name of its schema: schemas/<name>.schema.json. */
export interface JsonOutputs {
  check: CheckReport;
  history: HistoryJson;
  show: RevisionDetails;
  heads: HeadsJson;
  status: Status;
  current: CurrentJson;
  /** up, down and stamp. */
  run: RunReport;
  diff: DatabaseDiff;
  /** create --autogenerate. */
  'create-autogenerate': AutogenerateReport;
  doctor: DoctorReport;
  'db-url': DbUrlJson;
  'backup-list': BackupListJson;
  backup: SnapshotInfo;
  restore: RestoreResult;
  squash: SquashReport;
  'fleet-status': FleetStatusReport;
  /** The deployed function's answer, as it sent it: schemas/invoke.schema.json, from lambda/invoke.ts. */
  invoke: Readonly<Record<string, unknown>>;
}

export type JsonOutputName = keyof JsonOutputs;
