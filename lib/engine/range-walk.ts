/**
 * One key range of a background migration, walked batch by batch. Each batch is one transaction
 * that (1) locks the range's checkpoint FOR UPDATE and reads where it stands, (2) then reads the
 * run's row, without a lock, and checks the run is still this walker's to do, (3) takes the next
 * keys after the checkpoint, (4) runs the migration's batch, (5) moves the checkpoint, and commits
 * all of it at once. So a walker killed mid-batch loses nothing (its transaction rolls back and
 * the range resumes from the checkpoint), and two walkers of one range take turns instead of doing
 * a batch twice.
 *
 * Nothing a batch holds conflicts with an update of the run's row, so a pause or cancel never
 * queues behind walkers: it commits at once and every walker's next batch sees it. A revert also
 * locks every checkpoint of the run (background-runs.ts markReverted): it waits for the batches in
 * flight, and a batch that starts after it reads the run only once it holds its checkpoint, so
 * after the revert commits. One batch per walker at most, either way.
 */
import type { BatchPlan } from './background-plan.ts';
import type { BackgroundRuns } from './background-runs.ts';
import { sqlTag } from './context.ts';
import type { Database } from './database.ts';
import { type KeyRange, quotedTable } from './key-ranges.ts';
import type { MigrationLogger, Revision } from './migration.ts';
import { escapeIdentifier } from './sql-quote.ts';

interface RangeWalk {
  readonly db: Database;
  readonly runs: BackgroundRuns;
  readonly revision: Revision;
  readonly plan: BatchPlan;
  readonly range: KeyRange;
  /** The range's checkpoint name (background-runs.ts rangeCheckpointName). */
  readonly checkpoint: string;
  /** The execution this walker works for: a batch starts only while the run is still its. */
  readonly execution: string;
  /** Epoch ms after which no new batch starts (one batch always runs, so every call progresses). */
  readonly deadline?: number;
  readonly log: MigrationLogger;
}

type WalkOutcome =
  | { readonly status: 'done'; readonly rows: number; readonly batches: number }
  | { readonly status: 'deadline'; readonly rows: number; readonly batches: number }
  | { readonly status: 'stopped'; readonly rows: number; readonly batches: number; readonly reason: string };

interface Checkpoint {
  readonly last_key: { value: unknown } | null;
  readonly completed: boolean;
}

/** Walks the range until it is done, the deadline comes, or the run is no longer this walker's. */
export async function walkRange(walk: RangeWalk): Promise<WalkOutcome> {
  let rows = 0;
  let batches = 0;
  for (let first = true; ; first = false) {
    if (!first && walk.deadline !== undefined && Date.now() >= walk.deadline) {
      return { status: 'deadline', rows, batches };
    }
    const batch = await oneBatch(walk);
    rows += batch.rows;
    if (batch.rows > 0) batches += 1;
    if (batch.stopped) return { status: 'stopped', rows, batches, reason: batch.stopped };
    if (batch.done) return { status: 'done', rows, batches };
  }
}

async function oneBatch(walk: RangeWalk): Promise<{ rows: number; done: boolean; stopped?: string }> {
  const { db } = walk;
  await db.query('BEGIN');
  try {
    // The checkpoint first: the run is read after it, so never before a revert holding it commits.
    const checkpoint = await lockCheckpoint(walk);
    const stopped = await guard(walk);
    if (stopped) {
      await db.query('ROLLBACK');
      return { rows: 0, done: false, stopped };
    }
    if (!checkpoint || checkpoint.completed) {
      await db.query('ROLLBACK');
      return { rows: 0, done: true };
    }
    const keys = await nextKeys(walk, checkpoint.last_key?.value ?? undefined);
    if (keys.length > 0) await walk.plan.run(keys, sqlTag(db));
    const done = keys.length < walk.plan.size;
    await db.query(
      `UPDATE ${walk.runs.checkpoints} SET last_key = $3, rows = rows + $4, batches = batches + $5,
              completed = $6, updated_at = clock_timestamp()
       WHERE revision = $1 AND name = $2`,
      [
        walk.revision,
        walk.checkpoint,
        JSON.stringify({
          value: keys.length > 0 ? keys[keys.length - 1] : (checkpoint.last_key?.value ?? null),
        }),
        keys.length,
        keys.length > 0 ? 1 : 0,
        done,
      ],
    );
    await db.query('COMMIT');
    return { rows: keys.length, done };
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Why no batch may start now, or undefined when the run is still this walker's to do. A plain
 * read (a statement of its own, so it sees every commit before it): a lock here would make a
 * pause queue behind walkers.
 */
async function guard(walk: RangeWalk): Promise<string | undefined> {
  const found = await walk.db.query<{ state: string; execution: string | null; direction: string | null }>(
    `SELECT r.state, r.execution,
            (SELECT direction FROM ${escapeIdentifier(walk.runs.history.schema)}.log l
             WHERE l.revision = r.revision ORDER BY l.id DESC LIMIT 1) AS direction
     FROM ${walk.runs.table} r WHERE r.revision = $1`,
    [walk.revision],
  );
  const row = found.rows[0];
  if (!row) return 'the run is no longer recorded';
  // A release without background runs reverts from the log alone: its 'down' row says so.
  if (row.direction !== 'up') return `the migration is no longer applied (${row.direction ?? 'no log'})`;
  if (row.state !== 'running') return `the run is ${row.state}`;
  if (row.execution !== walk.execution) return `the run belongs to ${row.execution ?? 'no execution'} now`;
  return undefined;
}

async function lockCheckpoint(walk: RangeWalk): Promise<Checkpoint | undefined> {
  const found = await walk.db.query<Checkpoint>(
    `SELECT last_key, completed FROM ${walk.runs.checkpoints} WHERE revision = $1 AND name = $2 FOR UPDATE`,
    [walk.revision, walk.checkpoint],
  );
  return found.rows[0];
}

/** The next batch's keys: after the checkpoint, up to the range's end, in key order. */
async function nextKeys(walk: RangeWalk, after: unknown): Promise<unknown[]> {
  const column = escapeIdentifier(walk.plan.key);
  const conditions: string[] = [];
  const values: unknown[] = [walk.plan.size];
  if (after !== undefined && after !== null) {
    values.push(after);
    conditions.push(`${column} > $${values.length}`);
  }
  if (walk.range.upTo !== undefined) {
    values.push(walk.range.upTo);
    conditions.push(`${column} <= $${values.length}`);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const page = await walk.db.query<{ key: unknown }>(
    `SELECT ${column} AS key FROM ${quotedTable(walk.plan.table)} ${where} ORDER BY ${column} LIMIT $1`,
    values,
  );
  return page.rows.map((row) => row.key);
}
