/**
 * The state the tool keeps in the database, in its own schema: the current heads, and an
 * append-only log of every applied, reverted or stamped revision with its checksum, timing,
 * who ran it, and its down step (so a bundle that lacks a revision can still revert it).
 */
import type { Database } from './database.ts';
import { UsageError } from './errors.ts';
import { upgradeSql } from './history-format.ts';
import { DEFAULT_HISTORY_SCHEMA } from './history-schema.ts';
import type { Revision } from './migration.ts';
import { escapeIdentifier, escapeLiteral } from './sql-quote.ts';
import { RELEASE } from './version.ts';

export { DEFAULT_HISTORY_SCHEMA };

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export type LogDirection = 'up' | 'down' | 'stamp-up' | 'stamp-down';

/** A recorded down step: SQL text, or the self-contained JavaScript module of a code migration. */
export interface RecordedDownStep {
  readonly kind: 'sql' | 'module';
  readonly text: string;
}

/** A log row as a run writes it: the revision as recorded, and the run that moved it. */
export interface LogEntry extends RecordedRevision {
  readonly direction: LogDirection;
  readonly runId: string;
  readonly actor: string;
  readonly note?: string;
  /** The deploy request this run serves (the deployed function's), when there is one. */
  readonly requestId?: string;
}

/** A step's log row, with its timing as the client measured it. */
export interface LoggedStep {
  readonly entry: LogEntry;
  readonly durationMs: number;
  readonly startedAt?: Date;
}

export interface LogRow extends Omit<LogEntry, 'downStep'> {
  readonly id: number;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly hasDownStep: boolean;
}

/** A history's format version (history-format.ts), and the release that last upgraded it. */
export interface HistoryFormat {
  /** 0: no history yet; 1: written before formats were recorded (rds-migrate 0.1.0). */
  readonly version: number;
  readonly release?: string;
}

export interface HistoryState {
  /** False when the history schema does not exist yet: nothing was ever applied. */
  readonly exists: boolean;
  readonly format: HistoryFormat;
  readonly heads: readonly Revision[];
  /** Checksum each applied revision had when it was applied (or stamped). */
  readonly checksums: ReadonlyMap<Revision, string>;
  /** A non-transactional migration that started and did not finish, if any. */
  readonly inProgress?: InProgress;
}

export interface InProgress {
  readonly revision: Revision;
  readonly direction: 'up' | 'down';
  readonly startedAt: Date;
  readonly actor: string;
  /** Statements of a SQL migration that completed before the interruption (the resume skips them). */
  readonly statementsDone: number;
}

export class History {
  readonly schema: string;
  private readonly q: string;

  constructor(schema: string = DEFAULT_HISTORY_SCHEMA) {
    if (!SCHEMA_NAME.test(schema)) {
      throw new UsageError(
        `history schema '${schema}' is not a plain lowercase identifier; use e.g. ${DEFAULT_HISTORY_SCHEMA}`,
      );
    }
    this.schema = schema;
    this.q = escapeIdentifier(schema);
  }

  /** The advisory lock key: one lock per history schema, so two apps in one database don't block each other. */
  get lockName(): string {
    return `rds-migrate:${this.schema}`;
  }

  /** Brings the history to the current format (creating it when absent), in its own round trip. */
  async ensure(db: Database): Promise<void> {
    const sql = this.upgradeSql(await this.format(db));
    if (sql) await db.query(sql);
  }

  /**
   * SQL that brings a history of format `from` (0: none) to the one this release writes; empty
   * when it is current or newer. Sent with the run's first change, inside its transaction.
   */
  upgradeSql(from: number): string {
    return upgradeSql(this.q, from);
  }

  /** The whole history schema as this release creates it on a new database. */
  createSql(): string {
    return this.upgradeSql(0);
  }

  /** The history's format: 0 when there is none, 1 for histories written before formats were recorded. */
  async format(db: Database): Promise<number> {
    return (await this.read(db)).format.version;
  }

  /** Whether the history table `table` exists yet. */
  private async has(db: Database, table: string): Promise<boolean> {
    const result = await db.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [
      `${this.q}.${table}`,
    ]);
    return Boolean(result.rows[0]?.found);
  }

  /**
   * A select list (one row) that says which history tables exist: the runner sends it in the
   * lock's round trip (lock.ts, in a transaction after the lock's) and passes the row to `read`.
   */
  probeSql(): string {
    const table = (name: string) => escapeLiteral(`${this.q}.${name}`);
    return `to_regclass(${table('heads')})::text AS heads, to_regclass(${table('format')})::text AS format`;
  }

  /**
   * The heads, each applied revision's checksum, the in-progress mark and the format, in one
   * round trip (none when `probed`, the row of `probeSql`, says there is no history yet).
   */
  async read(db: Database, probed?: Record<string, unknown>): Promise<HistoryState> {
    const tables = probed ?? (await db.query(`SELECT ${this.probeSql()}`)).rows[0];
    if (!tables?.heads) {
      return { exists: false, format: { version: 0 }, heads: [], checksums: new Map() };
    }
    // Rows of kinds, directions and columns this release does not know are left alone: a newer
    // release may have written them (see history-format.ts). One row, the checksums as one
    // string: on a no-op `up` with hundreds of revisions, parsing rows is most of the read.
    const format = tables.format
      ? `(SELECT version::text || ' ' || coalesce(release, '') FROM ${this.q}.format ORDER BY version DESC LIMIT 1)`
      : 'NULL::text';
    const result = await db.query<{
      heads: string[];
      checksums: string | null;
      in_progress: { revision: string; value: string; at: number }[] | null;
      format: string | null;
    }>(
      `SELECT (SELECT coalesce(array_agg(revision), '{}') FROM ${this.q}.heads) AS heads,
        (SELECT string_agg(revision || ' ' || checksum, ' ') FROM (
           SELECT DISTINCT ON (revision) revision, checksum, direction FROM ${this.q}.log
           ORDER BY revision, id DESC) latest
         WHERE direction IN ('up', 'stamp-up')) AS checksums,
        (SELECT json_agg(json_build_object('revision', revision,
           'value', direction || ' ' || actor || ' ' || coalesce(to_jsonb(p) ->> 'statements_done', '0'),
           'at', extract(epoch FROM started_at) * 1000))
         FROM ${this.q}.in_progress p) AS in_progress,
        ${format} AS format`,
    );
    const found = result.rows[0];
    const checksums = new Map<Revision, string>();
    const pairs = found?.checksums ? found.checksums.split(' ') : [];
    for (let index = 0; index + 1 < pairs.length; index += 2) {
      checksums.set(pairs[index] as string, pairs[index + 1] as string);
    }
    let inProgress: InProgress | undefined;
    for (const mark of found?.in_progress ?? []) {
      inProgress = parseInProgress(mark.revision, mark.value, new Date(mark.at)) ?? inProgress;
    }
    return {
      exists: true,
      format: formatOf(found?.format ?? null),
      heads: [...(found?.heads ?? [])].sort(),
      checksums,
      inProgress,
    };
  }

  /**
   * SQL that records one step: its log row and the new heads. Literal, not parameterised, so it
   * can travel in the same round trip as other statements.
   */
  recordSql(entry: LogEntry, headsAfter: readonly Revision[], durationMs: number): string {
    return `${this.logSql([{ entry, durationMs }])}\n${this.recordHeadsSql(headsAfter)}`;
  }

  /**
   * One INSERT for the log rows of several steps (a transaction's, sent with its COMMIT).
   * Without `startedAt`, a row's start is taken as the server's clock less its duration.
   */
  logSql(rows: readonly LoggedStep[]): string {
    const values = rows.map(({ entry, durationMs, startedAt }) => {
      const duration = Number(durationMs);
      const started = startedAt
        ? `${escapeLiteral(startedAt.toISOString())}::timestamptz`
        : `clock_timestamp() - interval '${duration} ms'`;
      return `(${[
        escapeLiteral(entry.revision),
        textArray(entry.parents),
        escapeLiteral(entry.direction),
        escapeLiteral(entry.message),
        escapeLiteral(entry.checksum),
        escapeLiteral(entry.source),
        entry.transactional ? 'true' : 'false',
        entry.downStep ? escapeLiteral(entry.downStep.kind) : 'NULL',
        entry.downStep ? escapeLiteral(entry.downStep.text) : 'NULL',
        started,
        String(duration),
        escapeLiteral(entry.runId),
        escapeLiteral(entry.actor),
        entry.note ? escapeLiteral(entry.note) : 'NULL',
        escapeLiteral(RELEASE),
        entry.requestId ? escapeLiteral(entry.requestId) : 'NULL',
        entry.dependsOn && entry.dependsOn.length > 0 ? textArray(entry.dependsOn) : 'NULL',
      ].join(', ')})`;
    });
    return `INSERT INTO ${this.q}.log (revision, parents, direction, message, checksum, source, transactional, down_kind, down_text, started_at, duration_ms, run_id, actor, note, release, request_id, depends_on) VALUES
${values.join(',\n')};`;
  }

  /** SQL that makes `heads` the current heads. */
  recordHeadsSql(headsAfter: readonly Revision[]): string {
    const heads = textArray(headsAfter);
    return `DELETE FROM ${this.q}.heads WHERE revision <> ALL(${heads});
INSERT INTO ${this.q}.heads (revision) SELECT unnest(${heads}) ON CONFLICT DO NOTHING;`;
  }

  async markInProgress(
    db: Database,
    revision: Revision,
    direction: 'up' | 'down',
    actor: string,
  ): Promise<void> {
    await db.query(this.markInProgressSql(revision, direction, actor));
  }

  /** SQL that marks a migration running outside a transaction, until its finish clears it. */
  markInProgressSql(revision: Revision, direction: 'up' | 'down', actor: string): string {
    return `INSERT INTO ${this.q}.in_progress (revision, direction, actor) VALUES (${escapeLiteral(revision)}, ${escapeLiteral(direction)}, ${escapeLiteral(actor)})
ON CONFLICT (revision) DO UPDATE SET direction = EXCLUDED.direction, actor = EXCLUDED.actor, started_at = now();`;
  }

  /** SQL that records how many statements of an interrupted-able migration are done. */
  statementsDoneSql(revision: Revision, done: number): string {
    return `UPDATE ${this.q}.in_progress SET statements_done = ${Number(done)} WHERE revision = ${escapeLiteral(revision)};`;
  }

  /**
   * SQL that forgets an interrupted migration and its batch checkpoints: one revision's, or all.
   * Sent with the step's finish record (or a stamp), so a checkpoint never outlives the step it
   * belongs to, and never disappears before the step is recorded.
   */
  clearInProgressSql(revision?: Revision): string {
    const where = revision === undefined ? '' : ` WHERE revision = ${escapeLiteral(revision)}`;
    return `DELETE FROM ${this.q}.in_progress${where}; DELETE FROM ${this.q}.checkpoints${where};`;
  }

  /** How many steps of each direction the runs of one deploy request applied. */
  async requestCounts(db: Database, requestId: string): Promise<{ up: number; down: number }> {
    const result = await db.query<{ direction: string; steps: string }>(
      `SELECT direction, count(*) AS steps FROM ${this.q}.log WHERE request_id = $1 GROUP BY direction`,
      [requestId],
    );
    const count = (direction: string) =>
      Number(result.rows.find((row) => row.direction === direction)?.steps ?? 0);
    return { up: count('up'), down: count('down') };
  }

  /** Data migrations part-way through their batches, with their progress. */
  async batchProgress(db: Database): Promise<BatchProgress[]> {
    if (!(await this.has(db, 'checkpoints'))) return [];
    const result = await db.query<{
      revision: string;
      name: string;
      rows: string;
      batches: number;
      estimated_total: string | null;
      started_at: Date;
      updated_at: Date;
    }>(
      `SELECT revision, name, rows, batches, estimated_total, started_at, updated_at
       FROM ${this.q}.checkpoints ORDER BY revision, name`,
    );
    return result.rows.map((row) => batchProgressOf(row));
  }

  /** The log, newest first. */
  async log(db: Database, limit = 50): Promise<LogRow[]> {
    if (!(await this.has(db, 'log'))) return [];
    const result = await db.query<Record<string, unknown>>(
      `SELECT id, revision, parents, direction, message, checksum, source, transactional,
              down_text IS NOT NULL AS has_down_step, started_at, duration_ms, run_id, actor, note
       FROM ${this.q}.log ORDER BY id DESC LIMIT $1`,
      [limit],
    );
    return result.rows.map((row) => ({
      id: Number(row.id),
      revision: String(row.revision),
      parents: row.parents as string[],
      direction: row.direction as LogDirection,
      message: String(row.message),
      checksum: String(row.checksum),
      source: String(row.source),
      transactional: Boolean(row.transactional),
      hasDownStep: Boolean(row.has_down_step),
      startedAt: row.started_at as Date,
      durationMs: Number(row.duration_ms),
      runId: String(row.run_id),
      actor: String(row.actor),
      note: row.note === null ? undefined : String(row.note),
    }));
  }

  /**
   * What the log knows of each revision's latest application: parents, message and down step.
   * Used to revert revisions the running bundle does not contain.
   */
  async recordedRevisions(db: Database): Promise<RecordedRevision[]> {
    if (!(await this.has(db, 'log'))) return [];
    const result = await db.query<{
      revision: string;
      parents: string[];
      message: string;
      checksum: string;
      source: string;
      transactional: boolean;
      down_kind: 'sql' | 'module' | null;
      down_text: string | null;
      depends_on: string[] | null;
    }>(
      // depends_on by name through to_jsonb: a history older than format 6 has no such column.
      `SELECT revision, parents, message, checksum, source, transactional, down_kind, down_text,
              to_jsonb(latest) -> 'depends_on' AS depends_on
       FROM (SELECT DISTINCT ON (revision) * FROM ${this.q}.log
             WHERE direction IN ('up', 'stamp-up') ORDER BY revision, id DESC) latest`,
    );
    return result.rows.map((row) => ({
      revision: row.revision,
      parents: row.parents,
      message: row.message,
      checksum: row.checksum,
      source: row.source,
      transactional: row.transactional,
      downStep:
        row.down_kind && row.down_text !== null ? { kind: row.down_kind, text: row.down_text } : undefined,
      ...(row.depends_on && row.depends_on.length > 0 ? { dependsOn: row.depends_on } : {}),
    }));
  }
}

export interface RecordedRevision {
  readonly revision: Revision;
  readonly parents: readonly Revision[];
  /** Revisions of other branches it depends on (depends_on), as ids; absent in rows older than format 6. */
  readonly dependsOn?: readonly Revision[];
  readonly message: string;
  readonly checksum: string;
  readonly source: string;
  readonly transactional: boolean;
  readonly downStep?: RecordedDownStep;
}

export interface BatchProgress {
  readonly revision: Revision;
  /** `table:key` of the walk. */
  readonly name: string;
  readonly rows: number;
  readonly batches: number;
  /** From the planner's statistics at the start; absent when the table was never analysed. */
  readonly estimatedTotal?: number;
  readonly rowsPerSecond: number;
  readonly etaSeconds?: number;
  readonly updatedAt: Date;
}

function batchProgressOf(row: {
  revision: string;
  name: string;
  rows: string;
  batches: number;
  estimated_total: string | null;
  started_at: Date;
  updated_at: Date;
}): BatchProgress {
  const rows = Number(row.rows);
  const seconds = Math.max(0.001, (row.updated_at.getTime() - row.started_at.getTime()) / 1000);
  const rowsPerSecond = Math.round(rows / seconds);
  const estimatedTotal = row.estimated_total === null ? undefined : Number(row.estimated_total);
  const etaSeconds =
    estimatedTotal !== undefined && rowsPerSecond > 0
      ? Math.max(0, Math.round((estimatedTotal - rows) / rowsPerSecond))
      : undefined;
  return {
    revision: row.revision,
    name: row.name,
    rows,
    batches: row.batches,
    estimatedTotal,
    rowsPerSecond,
    etaSeconds,
    updatedAt: row.updated_at,
  };
}

function textArray(values: readonly string[]): string {
  return `ARRAY[${values.map((value) => escapeLiteral(value)).join(', ')}]::text[]`;
}

/** `<version> <release>` from the format table; 1 when there is none (written by rds-migrate 0.1.0). */
function formatOf(text: string | null): HistoryFormat {
  if (text === null) return { version: 1 };
  const [version, release] = text.split(' ');
  return { version: Number(version), release: release || undefined };
}

/** An in_progress row; undefined for a direction this release does not know (a newer one wrote it). */
function parseInProgress(revision: string, value: string, at: Date): InProgress | undefined {
  const [direction, ...rest] = value.split(' ');
  if (direction !== 'up' && direction !== 'down') return undefined;
  const statementsDone = Number(rest.pop() ?? 0);
  return { revision, direction, startedAt: at, actor: rest.join(' '), statementsDone };
}
