/**
 * The rehearsal's second session: it samples the rehearsal's backend every 20 ms from
 * pg_stat_activity and pg_locks, whether it waits for a lock, on what and behind whom, and the
 * relation locks it holds (those of a statement outside a transaction are gone when it returns).
 */
import type { Database } from '../engine/database.ts';

/** A wait for a lock the watcher saw while a statement ran. */
export interface LockWait {
  /** Sampled: first to last sample that saw the wait, plus one sampling interval. */
  readonly waitedMs: number;
  /** The lock waited for. */
  readonly relation?: string;
  readonly mode?: string;
  /** The sessions in the way, as the watcher saw them: pid, application, state, first line of query. */
  readonly blockedBy: readonly string[];
}

interface Sample {
  readonly at: number;
  readonly waiting: boolean;
  readonly relation?: string;
  readonly mode?: string;
  readonly blockedBy: readonly string[];
  readonly held: readonly { relation: string; mode: string }[];
}

// A wait counts when someone other than the watcher is in the way: CREATE INDEX CONCURRENTLY also
// waits, for a moment, for the watcher's own sampling query to end.
const SAMPLE_SQL = `SELECT a.wait_event_type = 'Lock' AND EXISTS (
    SELECT 1 FROM unnest(pg_blocking_pids(a.pid)) AS blocker WHERE blocker <> pg_backend_pid()) AS waiting,
  (SELECT json_build_object('relation', coalesce(quote_ident(n.nspname) || '.' || quote_ident(c.relname), l.relation::text), 'mode', l.mode)
     FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) AS wanted,
  (SELECT coalesce(json_agg(format('pid %s (app %L, %s: %s)', b.pid, b.application_name, b.state, left(split_part(b.query, E'\\n', 1), 120))), '[]')
     FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid)) AND b.pid <> pg_backend_pid()) AS blockers,
  (SELECT coalesce(json_agg(json_build_object('relation', quote_ident(n.nspname) || '.' || quote_ident(c.relname), 'mode', l.mode)), '[]')
     FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE l.pid = a.pid AND l.granted AND l.locktype = 'relation'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname <> $2) AS held
FROM pg_stat_activity a WHERE a.pid = $1`;

/** How often the watcher looks: a wait shorter than this may go unseen. */
const SAMPLE_INTERVAL_MS = 20;

export class LockWatcher {
  private readonly samples: Sample[] = [];
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly watcher: Database,
    private readonly pid: number,
    private readonly historySchema: string,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.sampleUntilStopped();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async sampleUntilStopped(): Promise<void> {
    while (this.running) {
      const result = await this.watcher
        .query<{
          waiting: boolean | null;
          wanted: { relation: string; mode: string } | null;
          blockers: string[];
          held: { relation: string; mode: string }[];
        }>(SAMPLE_SQL, [this.pid, this.historySchema])
        .catch(() => undefined);
      const row = result?.rows[0];
      if (row) {
        this.samples.push({
          at: performance.now(),
          waiting: row.waiting === true,
          ...(row.wanted ? { relation: row.wanted.relation, mode: row.wanted.mode } : {}),
          blockedBy: row.blockers,
          held: row.held,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS));
    }
  }

  /** The wait the samples saw between `startedAt` and `endedAt` (performance.now()), if any, at most `durationMs`. */
  waitDuring(startedAt: number, endedAt: number, durationMs: number): LockWait | undefined {
    const waiting = this.during(startedAt, endedAt).filter((sample) => sample.waiting);
    const first = waiting[0];
    const last = waiting[waiting.length - 1];
    if (!first || !last) return undefined;
    return {
      waitedMs: Math.min(durationMs, Math.round(last.at - first.at + SAMPLE_INTERVAL_MS)),
      ...(first.relation ? { relation: first.relation, mode: first.mode } : {}),
      blockedBy: [...new Set(waiting.flatMap((sample) => sample.blockedBy))],
    };
  }

  /** The relation locks the samples saw held between `startedAt` and `endedAt`. */
  locksDuring(startedAt: number, endedAt: number): { relation: string; mode: string }[] {
    const held = this.during(startedAt, endedAt).flatMap((sample) => sample.held);
    return [...new Map(held.map((lock) => [`${lock.relation} ${lock.mode}`, lock])).values()];
  }

  private during(startedAt: number, endedAt: number): Sample[] {
    return this.samples.filter((sample) => sample.at >= startedAt && sample.at <= endedAt);
  }
}
