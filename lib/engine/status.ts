/**
 * Where the database stands against a migrations folder, as data: the current heads, the
 * folder's heads, what is pending, drift (of files, and of the schema against the fingerprint
 * the last run recorded), an interrupted migration, and the recent log. The CLI
 * prints it; the deployed function returns it to `aws lambda invoke`.
 */
import { type BackgroundProgress, BackgroundRuns } from './background-runs.ts';
import type { Database } from './database.ts';
import type { DriftedRevision } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import { type BatchProgress, History, type HistoryFormat, type InProgress, type LogRow } from './history.ts';
import type { Revision } from './migration.ts';
import { planUpgrade } from './plan.ts';
import { findDrift } from './runner.ts';
import { readSchemaDrift, type SchemaDrift } from './schema-fingerprint.ts';
import { recoveryTarget } from './unknown-revisions.ts';

export interface PendingMigration {
  readonly revision: Revision;
  readonly message: string;
  readonly source: string;
  readonly transactional: boolean;
}

export interface Status {
  /** The database's heads; empty at base. */
  readonly current: readonly Revision[];
  /** The folder's heads (one, unless branches wait for a merge). */
  readonly heads: readonly Revision[];
  readonly pending: readonly PendingMigration[];
  readonly upToDate: boolean;
  /** Current revisions no migration in the folder defines. */
  readonly unknown: readonly Revision[];
  /**
   * With unknown revisions: what `stamp --purge` should record to go on from this folder, the
   * newest revisions of it the log says are applied (empty: base). Absent otherwise.
   */
  readonly recoverTo?: readonly Revision[];
  readonly drift: readonly DriftedRevision[];
  readonly inProgress?: InProgress;
  /** Batched data migrations part-way through, with rows done, rate and ETA. */
  readonly batches: readonly BatchProgress[];
  /** Background migrations: state, ranges done, rows, rate, ETA, errors (history format 7). */
  readonly background: readonly BackgroundProgress[];
  readonly recent: readonly LogRow[];
  readonly historySchema: string;
  /** The history's format (0: no history yet) and the release that last upgraded it. */
  readonly historyFormat: HistoryFormat;
  /** The schema against the fingerprint the last run recorded: changes made outside migrations. */
  readonly schemaDrift: SchemaDrift;
}

export async function readStatus(
  db: Database,
  graph: RevisionGraph,
  history: History = new History(),
  recentCount = 10,
): Promise<Status> {
  const state = await history.read(db);
  const unknown = state.heads.filter((revision) => !graph.has(revision));
  const pending =
    unknown.length > 0
      ? []
      : planUpgrade(graph, state.heads, 'heads').steps.map((step) => ({
          revision: step.revision,
          message: step.migration.message,
          source: step.migration.source,
          transactional: step.migration.transaction,
        }));
  return {
    current: state.heads,
    heads: graph.heads,
    pending,
    upToDate: pending.length === 0 && unknown.length === 0,
    unknown,
    ...(unknown.length > 0 ? { recoverTo: recoveryTarget(graph, state) } : {}),
    drift: findDrift(graph, state),
    inProgress: state.inProgress,
    ...(await batchesAndBackground(db, history)),
    recent: await history.log(db, recentCount),
    historySchema: history.schema,
    historyFormat: state.format,
    // The format read above says whether the fingerprints table exists: no round trip to ask.
    schemaDrift: await readSchemaDrift(db, history, { historyFormat: state.format.version }),
  };
}

/** Batch progress, with the ranges of background runs shown as their runs rather than one by one. */
async function batchesAndBackground(
  db: Database,
  history: History,
): Promise<{ batches: BatchProgress[]; background: BackgroundProgress[] }> {
  const background = await new BackgroundRuns(history).progress(db);
  const runs = new Set(background.map((run) => run.revision));
  const batches = (await history.batchProgress(db)).filter((batch) => !runs.has(batch.revision));
  return { batches, background };
}
