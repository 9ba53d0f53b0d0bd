/**
 * Background migrations as the history records them (table `background_runs`, history format 7):
 * one row per background migration with its walk (table, key, batch size), its key ranges once
 * split, its state, the execution that runs it, its errors and its completion. Progress is kept
 * where every batch already writes it: one checkpoint per range (`checkpoints`, named
 * `<table>:<key>#<n>/<of>`), committed with the batch.
 *
 * States: `pending` (applied by a deploy or `up`, not started yet), `running`, `paused`,
 * `failed` (the execution gave up; resume goes on from the checkpoints), `cancelled` (stopped
 * for good: the gate stays closed until it is reverted), `reverted` (a down step or a rollback
 * went past it), `completed`. Readers treat a state they do not know as not completed.
 */
import {
  BackgroundRunBlocked,
  type BlockingSession,
  blockersHint,
  blockingSessions,
  describeBlockers,
  type LockedRows,
} from './background-blockers.ts';
import type { BatchPlan } from './background-plan.ts';
import type { Database } from './database.ts';
import type { History } from './history.ts';
import { type KeyRange, splitKeyRange } from './key-ranges.ts';
import { isLockTimeout } from './lock-retry.ts';
import type { Revision } from './migration.ts';
import { escapeIdentifier, escapeLiteral } from './sql-quote.ts';
import { DEFAULT_TIMEOUTS, intervalMs } from './timeouts.ts';

/** Where a revert marks its run: under a savepoint of the plan's transaction, or in one of its own. */
const IN_THE_PLAN = {
  open: 'SAVEPOINT rds_migrate_revert',
  close: 'RELEASE SAVEPOINT rds_migrate_revert',
  undo: 'ROLLBACK TO SAVEPOINT rds_migrate_revert',
} as const;
const ON_ITS_OWN = { open: 'BEGIN', close: 'COMMIT', undo: 'ROLLBACK' } as const;

export type BackgroundState =
  | 'pending'
  | 'running'
  | 'paused'
  | 'failed'
  | 'cancelled'
  | 'reverted'
  | 'completed';

export interface BackgroundRun {
  readonly revision: Revision;
  readonly state: BackgroundState;
  readonly table: string;
  readonly key: string;
  readonly batchSize: number;
  /** The key ranges, once the first execution split them; absent before. */
  readonly ranges?: readonly KeyRange[];
  readonly estimatedTotal?: number;
  /** Who runs it: a Step Functions execution ARN, or `local:<id>` for `up`. */
  readonly execution?: string;
  /** The deploy request that applied it. */
  readonly requestId?: string;
  readonly actor: string;
  readonly errors: number;
  readonly lastError?: string;
  readonly startedAt: Date;
  readonly updatedAt: Date;
  readonly completedAt?: Date;
  readonly completedBy?: string;
}

/** A run with its progress, summed over its ranges' checkpoints. */
export interface BackgroundProgress extends BackgroundRun {
  readonly rangeCount: number;
  readonly rangesDone: number;
  readonly rows: number;
  readonly batches: number;
  readonly rowsPerSecond: number;
  readonly etaSeconds?: number;
  /** The newest batch's commit. */
  readonly lastBatchAt?: Date;
}

export type CompleteOutcome =
  | { readonly completed: true; readonly already: boolean }
  | { readonly completed: false; readonly reason: string };

/** The checkpoint name of range `index` (0-based) of `count`: ranges resume independently. */
export function rangeCheckpointName(table: string, key: string, index: number, count: number): string {
  return `${table}:${key}#${index + 1}/${count}`;
}

export class BackgroundRuns {
  private readonly q: string;

  constructor(readonly history: History) {
    this.q = escapeIdentifier(history.schema);
  }

  get table(): string {
    return `${this.q}.background_runs`;
  }

  get checkpoints(): string {
    return `${this.q}.checkpoints`;
  }

  /**
   * SQL that records a background migration as applied and waiting to start: a fresh run (an
   * earlier, reverted one's row is reset). Sent in the step's own transaction or session.
   */
  recordSql(
    revision: Revision,
    plan: BatchPlan,
    who: { readonly actor: string; readonly requestId?: string },
    state: 'pending' | 'completed' = 'pending',
  ): string {
    const completed = state === 'completed';
    return `INSERT INTO ${this.table} AS r (revision, state, table_name, key_column, batch_size, actor, request_id, completed_at, completed_by)
VALUES (${[
      escapeLiteral(revision),
      escapeLiteral(state),
      escapeLiteral(plan.table),
      escapeLiteral(plan.key),
      String(plan.size),
      escapeLiteral(who.actor),
      who.requestId ? escapeLiteral(who.requestId) : 'NULL',
      completed ? 'clock_timestamp()' : 'NULL',
      completed ? escapeLiteral('inline') : 'NULL',
    ].join(', ')})
ON CONFLICT (revision) DO UPDATE SET state = EXCLUDED.state, table_name = EXCLUDED.table_name,
  key_column = EXCLUDED.key_column, batch_size = EXCLUDED.batch_size, actor = EXCLUDED.actor,
  request_id = EXCLUDED.request_id, ranges = NULL, estimated_total = NULL, execution = NULL, errors = 0,
  last_error = NULL, started_at = clock_timestamp(), updated_at = clock_timestamp(),
  completed_at = EXCLUDED.completed_at, completed_by = EXCLUDED.completed_by;`;
  }

  /**
   * Marks the run of `revision` reverted before its down step, if it has one, and waits for its
   * batches in flight: it locks every checkpoint of the run, which each batch holds while it runs,
   * and a batch reads the run only once it holds its checkpoint, so no batch commits after this one
   * but before the down step (range-walk.ts tells why). In the plan's transaction
   * (`inTransaction`) under a savepoint, else in a transaction of its own. What is not granted
   * within `lockTimeout` in all changes nothing, and the error names who holds it.
   */
  async markReverted(
    db: Database,
    revision: Revision,
    options: { readonly inTransaction: boolean; readonly lockTimeout: string },
  ): Promise<void> {
    const scope = options.inTransaction ? IN_THE_PLAN : ON_ITS_OWN;
    const waitMs = intervalMs(options.lockTimeout) ?? 0;
    const deadline = waitMs > 0 ? Date.now() + waitMs : undefined;
    const runRow = { table: this.table, where: `revision = ${escapeLiteral(revision)}` };
    try {
      await db.query(
        `${scope.open}; SET LOCAL lock_timeout = ${escapeLiteral(options.lockTimeout)};
         UPDATE ${this.table} SET state = 'reverted', updated_at = clock_timestamp() WHERE ${runRow.where};`,
      );
      const held = await this.waitForBatches(db, revision, deadline);
      // Read before letting go: walkers queued behind this revert would take their rows at once.
      if (held) throw this.revertBlocked(revision, options.lockTimeout, await blockingSessions(db, [held]));
      await db.query(scope.close);
    } catch (error) {
      await db.query(scope.undo).catch(() => undefined);
      if (error instanceof BackgroundRunBlocked || !isLockTimeout(error)) throw error;
      // The run's row: no walker queues behind it, so its holder is still there to be seen.
      throw this.revertBlocked(revision, options.lockTimeout, await blockingSessions(db, [runRow]));
    }
  }

  /**
   * Locks the checkpoints of `revision`'s run one by one, each waiting for the batch that holds
   * it, until `deadline`: the checkpoint another session still holds then, if any.
   */
  private async waitForBatches(
    db: Database,
    revision: Revision,
    deadline: number | undefined,
  ): Promise<LockedRows | undefined> {
    const literal = escapeLiteral(revision);
    const names = await db.query<{ name: string }>(
      `SELECT c.name FROM ${this.checkpoints} c WHERE c.revision = ${literal}
         AND EXISTS (SELECT 1 FROM ${this.table} r WHERE r.revision = ${literal}) ORDER BY c.name`,
    );
    for (const { name } of names.rows) {
      const row = {
        table: this.checkpoints,
        where: `revision = ${literal} AND name = ${escapeLiteral(name)}`,
      };
      const timeout = deadline === undefined ? '0' : `${Math.max(1, deadline - Date.now())}ms`;
      try {
        await db.query(
          `SAVEPOINT rds_migrate_checkpoint; SET LOCAL lock_timeout = ${escapeLiteral(timeout)};
           SELECT 1 FROM ${row.table} WHERE ${row.where} FOR UPDATE; RELEASE SAVEPOINT rds_migrate_checkpoint;`,
        );
      } catch (error) {
        if (!isLockTimeout(error)) throw error;
        await db.query('ROLLBACK TO SAVEPOINT rds_migrate_checkpoint');
        return row;
      }
    }
    return undefined;
  }

  private revertBlocked(
    revision: Revision,
    lockTimeout: string,
    blockers: readonly BlockingSession[],
  ): BackgroundRunBlocked {
    return new BackgroundRunBlocked(
      `background run ${revision} cannot be marked reverted: held past lock_timeout ${lockTimeout} by ` +
        `${describeBlockers(blockers)}; the revert changed nothing.`,
      blockers,
      `it is not the migration that failed: ${blockersHint(blockers, 'revert again (a stack rollback: continue the rollback)')}.`,
    );
  }

  async exists(db: Database): Promise<boolean> {
    const found = await db.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
      this.table,
    ]);
    return Boolean(found.rows[0]?.found);
  }

  /** The revisions that have a run recorded, reverted ones included (the table must exist: history format 7). */
  async revisions(db: Database): Promise<Set<Revision>> {
    const result = await db.query<{ revisions: string[] | null }>(
      `SELECT array_agg(revision) AS revisions FROM ${this.table}`,
    );
    return new Set(result.rows[0]?.revisions ?? []);
  }

  async list(db: Database): Promise<BackgroundRun[]> {
    if (!(await this.exists(db))) return [];
    const result = await db.query<Record<string, unknown>>(
      `SELECT * FROM ${this.table} ORDER BY started_at, revision`,
    );
    return result.rows.map(runOf);
  }

  async find(db: Database, revision: Revision): Promise<BackgroundRun | undefined> {
    if (!(await this.exists(db))) return undefined;
    const result = await db.query<Record<string, unknown>>(
      `SELECT * FROM ${this.table} WHERE revision = $1`,
      [revision],
    );
    const row = result.rows[0];
    return row ? runOf(row) : undefined;
  }

  /**
   * Makes `execution` the run's owner if the run is in one of `from`: true when it did. Walkers
   * take no lock on the row, so this never waits for them: a batch of the previous owner still in
   * flight commits (the new owner's walker of its range waits for its checkpoint), and its next
   * batch stops.
   */
  async claim(
    db: Database,
    revision: Revision,
    execution: string,
    from: readonly BackgroundState[],
  ): Promise<boolean> {
    const changed = await this.updateRun(
      db,
      [revision],
      `give the background run of ${revision} to ${execution}`,
      `UPDATE ${this.table} SET state = 'running', execution = $2, updated_at = clock_timestamp()
       WHERE revision = $1 AND state = ANY($3::text[])`,
      [revision, execution, [...from]],
    );
    return changed > 0;
  }

  /**
   * Moves the run to `state` from one of `from`; true when it did. Walkers take no lock on the
   * row, so a pause or cancel does not wait for them: it commits at once and every walker stops
   * before its next batch. Only a session really holding the row (not a batch) can keep it
   * waiting, and not beyond `lockTimeout`: then nothing changes and the error names the session.
   */
  async transition(
    db: Database,
    revision: Revision,
    state: BackgroundState,
    from: readonly BackgroundState[],
    options: { readonly lastError?: string; readonly lockTimeout?: string } = {},
  ): Promise<boolean> {
    const changed = await this.updateRun(
      db,
      [revision],
      `move the background run of ${revision} to ${state}`,
      `UPDATE ${this.table} SET state = $2, updated_at = clock_timestamp(),
              last_error = coalesce($4, last_error)
       WHERE revision = $1 AND state = ANY($3::text[])`,
      [revision, state, [...from], options.lastError?.slice(0, 1000) ?? null],
      options.lockTimeout,
    );
    return changed > 0;
  }

  /**
   * After a revert that failed: the runs of `revisions` whose migration is still applied (the log
   * says so), running or marked reverted, are paused with `note` saying what happened and what to
   * do. Their walkers stop before their next batch; resume, or a revert, goes on from there.
   */
  async pauseUnreverted(db: Database, revisions: readonly Revision[], note: string): Promise<number> {
    if (revisions.length === 0) return 0;
    return this.updateRun(
      db,
      revisions,
      `pause the background runs of ${revisions.join(', ')}`,
      `UPDATE ${this.table} r SET state = 'paused', last_error = $2, updated_at = clock_timestamp()
       WHERE r.revision = ANY($1::text[]) AND r.state IN ('running', 'paused', 'reverted')
         AND (SELECT direction FROM ${escapeIdentifier(this.history.schema)}.log l
              WHERE l.revision = r.revision ORDER BY l.id DESC LIMIT 1) = 'up'`,
      [[...revisions], note.slice(0, 1000)],
    );
  }

  /** `sql`, an update of run rows, under a lock timeout; how many rows it changed. */
  private async updateRun(
    db: Database,
    revisions: readonly Revision[],
    what: string,
    sql: string,
    values: unknown[],
    lockTimeout = DEFAULT_TIMEOUTS.lockTimeout,
  ): Promise<number> {
    await db.query('BEGIN');
    try {
      await db.query(`SET LOCAL lock_timeout = ${escapeLiteral(lockTimeout)}`);
      const result = await db.query(sql, values);
      await db.query('COMMIT');
      return result.rowCount ?? 0;
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      if (!isLockTimeout(error)) throw error;
      const blockers = await blockingSessions(db, [
        { table: this.table, where: `revision IN (${revisions.map(escapeLiteral).join(', ')})` },
      ]);
      throw new BackgroundRunBlocked(
        `could not ${what}: a session holds its row, and lock_timeout ${lockTimeout} passed: ` +
          `${describeBlockers(blockers)}. Nothing changed: the run is as it was.`,
        blockers,
        `${blockersHint(blockers, 'try again')}.`,
      );
    }
  }

  /** Counts a failed batch (the task is retried); the message is kept for status. */
  async recordError(db: Database, revision: Revision, message: string): Promise<void> {
    await this.updateRun(
      db,
      [revision],
      `count an error on the background run of ${revision}`,
      `UPDATE ${this.table} SET errors = errors + 1, last_error = $2, updated_at = clock_timestamp() WHERE revision = $1`,
      [revision, message.slice(0, 1000)],
    );
  }

  /**
   * The run's key ranges: split now (each with a checkpoint at its start) when no execution did
   * yet, else the ones recorded, so a resumed run walks the same ranges. Returns the indexes of
   * the ranges not completed.
   */
  async split(db: Database, run: BackgroundRun, count: number): Promise<number[]> {
    if (run.ranges) return this.pendingRanges(db, run);
    // Under the row's lock: a second split (a retried first step) finds the ranges and keeps them.
    await db.query('BEGIN');
    try {
      const locked = await db.query<{ ranges: KeyRange[] | null }>(
        `SELECT ranges FROM ${this.table} WHERE revision = $1 FOR UPDATE`,
        [run.revision],
      );
      let ranges = locked.rows[0]?.ranges ?? undefined;
      if (!ranges) {
        ranges = await splitKeyRange(db, run.table, run.key, count);
        await this.recordRanges(db, run, ranges);
      }
      await db.query('COMMIT');
      return this.pendingRanges(db, { ...run, ranges });
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Each range's checkpoint at its start, and the ranges themselves, in the open transaction. */
  private async recordRanges(db: Database, run: BackgroundRun, ranges: readonly KeyRange[]): Promise<void> {
    const estimate = await db.query<{ estimate: string | null }>(
      'SELECT reltuples::bigint AS estimate FROM pg_class WHERE oid = to_regclass($1)',
      [run.table],
    );
    const estimatedTotal = Number(estimate.rows[0]?.estimate ?? -1);
    await db.query(`DELETE FROM ${this.checkpoints} WHERE revision = $1`, [run.revision]);
    for (const [index, range] of ranges.entries()) {
      await db.query(`INSERT INTO ${this.checkpoints} (revision, name, last_key) VALUES ($1, $2, $3)`, [
        run.revision,
        rangeCheckpointName(run.table, run.key, index, ranges.length),
        JSON.stringify({ value: range.after ?? null }),
      ]);
    }
    await db.query(
      `UPDATE ${this.table} SET ranges = $2::jsonb, estimated_total = $3, updated_at = clock_timestamp()
       WHERE revision = $1`,
      [run.revision, JSON.stringify(ranges), estimatedTotal > 0 ? estimatedTotal : null],
    );
  }

  private async pendingRanges(db: Database, run: BackgroundRun): Promise<number[]> {
    const ranges = run.ranges ?? [];
    const done = await db.query<{ name: string }>(
      `SELECT name FROM ${this.checkpoints} WHERE revision = $1 AND completed`,
      [run.revision],
    );
    const completed = new Set(done.rows.map((row) => row.name));
    return ranges
      .map((_, index) => index)
      .filter((index) => !completed.has(rangeCheckpointName(run.table, run.key, index, ranges.length)));
  }

  /**
   * Marks the run completed when every range is: exactly once, whoever asks how often (a retried
   * last step, two executions racing). The row is locked while it is decided.
   */
  async complete(db: Database, revision: Revision, by: string, execution?: string): Promise<CompleteOutcome> {
    await db.query('BEGIN');
    try {
      const found = await db.query<{ state: string; execution: string | null; ranges: KeyRange[] | null }>(
        `SELECT state, execution, ranges FROM ${this.table} WHERE revision = $1 FOR UPDATE`,
        [revision],
      );
      const row = found.rows[0];
      const outcome = await this.completion(db, revision, row, execution);
      if (outcome.completed && !outcome.already) {
        await db.query(
          `UPDATE ${this.table} SET state = 'completed', completed_at = clock_timestamp(), completed_by = $2,
                  updated_at = clock_timestamp() WHERE revision = $1`,
          [revision, by],
        );
      }
      await db.query('COMMIT');
      return outcome;
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async completion(
    db: Database,
    revision: Revision,
    row: { state: string; execution: string | null; ranges: KeyRange[] | null } | undefined,
    execution: string | undefined,
  ): Promise<CompleteOutcome> {
    if (!row) return { completed: false, reason: `no background run of ${revision} is recorded` };
    if (row.state === 'completed') return { completed: true, already: true };
    if (row.state !== 'running') return { completed: false, reason: `the run is ${row.state}` };
    if (execution && row.execution !== execution)
      return { completed: false, reason: `the run belongs to ${row.execution ?? 'no execution'} now` };
    if (!row.ranges) return { completed: false, reason: 'its key ranges were never split' };
    const left = await db.query<{ left: string }>(
      `SELECT count(*) AS left FROM ${this.checkpoints} WHERE revision = $1 AND NOT completed`,
      [revision],
    );
    const remaining = Number(left.rows[0]?.left ?? 0);
    if (remaining > 0) return { completed: false, reason: `${remaining} of its ranges are not done` };
    return { completed: true, already: false };
  }

  /** Every run with its progress. */
  async progress(db: Database): Promise<BackgroundProgress[]> {
    const runs = await this.list(db);
    if (runs.length === 0) return [];
    const sums = await db.query<{
      revision: string;
      ranges_done: string;
      rows: string;
      batches: string;
      last_batch_at: Date | null;
    }>(
      `SELECT revision, count(*) FILTER (WHERE completed) AS ranges_done, coalesce(sum(rows), 0) AS rows,
              coalesce(sum(batches), 0) AS batches, max(updated_at) FILTER (WHERE batches > 0) AS last_batch_at
       FROM ${this.checkpoints} WHERE revision = ANY($1::text[]) GROUP BY revision`,
      [runs.map((run) => run.revision)],
    );
    const byRevision = new Map(sums.rows.map((row) => [row.revision, row]));
    const withTotals = await Promise.all(runs.map((run) => this.withEstimate(db, run)));
    return withTotals.map((run) => progressOf(run, byRevision.get(run.revision)));
  }

  /** A run not split yet has no recorded total: the planner's estimate of its table stands in. */
  private async withEstimate(db: Database, run: BackgroundRun): Promise<BackgroundRun> {
    if (run.estimatedTotal !== undefined || run.state === 'completed') return run;
    const estimate = await db.query<{ estimate: string | null }>(
      'SELECT reltuples::bigint AS estimate FROM pg_class WHERE oid = to_regclass($1)',
      [run.table],
    );
    const total = Number(estimate.rows[0]?.estimate ?? -1);
    return total > 0 ? { ...run, estimatedTotal: total } : run;
  }
}

function progressOf(
  run: BackgroundRun,
  sums: { ranges_done: string; rows: string; batches: string; last_batch_at: Date | null } | undefined,
): BackgroundProgress {
  const rows = Number(sums?.rows ?? 0);
  const lastBatchAt = sums?.last_batch_at ?? undefined;
  const seconds = lastBatchAt ? Math.max(0.001, (lastBatchAt.getTime() - run.startedAt.getTime()) / 1000) : 0;
  const rowsPerSecond = seconds > 0 ? Math.round(rows / seconds) : 0;
  const rangeCount = run.ranges?.length ?? 0;
  const rangesDone = Number(sums?.ranges_done ?? 0);
  const left = run.estimatedTotal === undefined ? undefined : Math.max(0, run.estimatedTotal - rows);
  const etaSeconds =
    run.state === 'completed'
      ? 0
      : left !== undefined && rowsPerSecond > 0
        ? Math.round(left / rowsPerSecond)
        : undefined;
  return {
    ...run,
    rangeCount,
    rangesDone: run.ranges ? Math.min(rangesDone, rangeCount) : 0,
    rows,
    batches: Number(sums?.batches ?? 0),
    rowsPerSecond,
    ...(etaSeconds === undefined ? {} : { etaSeconds }),
    ...(lastBatchAt ? { lastBatchAt } : {}),
  };
}

function runOf(row: Record<string, unknown>): BackgroundRun {
  const date = (value: unknown) => (value instanceof Date ? value : undefined);
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    revision: String(row.revision),
    state: String(row.state) as BackgroundState,
    table: String(row.table_name),
    key: String(row.key_column),
    batchSize: Number(row.batch_size),
    ...(Array.isArray(row.ranges) ? { ranges: row.ranges as KeyRange[] } : {}),
    ...(row.estimated_total === null || row.estimated_total === undefined
      ? {}
      : { estimatedTotal: Number(row.estimated_total) }),
    ...(text(row.execution) ? { execution: text(row.execution) } : {}),
    ...(text(row.request_id) ? { requestId: text(row.request_id) } : {}),
    actor: String(row.actor),
    errors: Number(row.errors ?? 0),
    ...(text(row.last_error) ? { lastError: text(row.last_error) } : {}),
    startedAt: date(row.started_at) ?? new Date(0),
    updatedAt: date(row.updated_at) ?? new Date(0),
    ...(date(row.completed_at) ? { completedAt: date(row.completed_at) } : {}),
    ...(text(row.completed_by) ? { completedBy: text(row.completed_by) } : {}),
  };
}
