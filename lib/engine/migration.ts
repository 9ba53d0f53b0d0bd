/**
 * What a migration is, independent of where it came from (a .sql file, a .ts module, a
 * history row) and of how it runs. Providers produce `Migration`s; the runner executes them.
 */

/**
 * A revision id: 1 to 64 letters, digits or `_` (`create` makes 12 random hex characters, like
 * Alembic; ids carried over from an Alembic project keep theirs).
 */
export type Revision = string;

/** The conventional name of "no revision": below the first migration. */
export const BASE = 'base';

/** A tagged-template SQL query: text with `$n` placeholders and its values. */
export interface SqlQuery {
  readonly text: string;
  readonly values: readonly unknown[];
}

/** A row as `pg` returns it. */
export type Row = Record<string, unknown>;

/**
 * The tagged-template `sql` of a migration context: `await sql\`UPDATE t SET a = ${v}\``.
 * Interpolated values are always bound parameters, never spliced into the text.
 * `sql.unsafe(text)` runs raw text (DDL assembled by the migration itself).
 */
export interface SqlTag {
  <T extends Row = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]>;
  unsafe<T extends Row = Row>(text: string, values?: readonly unknown[]): Promise<T[]>;
}

export interface MigrationLogger {
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
}

/** `ctx.log`: a logger that is also a function, `ctx.log('…')` being `ctx.log.info('…')`. */
export interface ContextLogger extends MigrationLogger {
  (message: string, details?: Record<string, unknown>): void;
}

/** Options of the keyset batch helper for data migrations. */
export interface BatchOptions<K = unknown> {
  /** Table to walk, optionally schema-qualified (`public.products`). */
  readonly table: string;
  /** Column of a unique, ordered key (usually the primary key). @default 'id' */
  readonly key?: string;
  /** Rows per batch, each batch in its own transaction. @default 1000 */
  readonly size?: number;
  /**
   * Work for one batch: receives the keys of this batch (ascending) and a `sql` bound to the
   * batch's transaction; returns nothing.
   */
  readonly run: (keys: readonly K[], sql: SqlTag) => Promise<void>;
}

export interface BatchReport {
  readonly batches: number;
  readonly rows: number;
  readonly durationMs: number;
  /** True when the batch walk resumed from a checkpoint left by an interrupted run. */
  readonly resumed: boolean;
}

/** What `up(ctx)` and `down(ctx)` of a migration receive. */
export interface MigrationContext {
  readonly sql: SqlTag;
  /** Context arguments (`-x key=value`), the same for every migration of a run. */
  readonly args: Readonly<Record<string, string>>;
  /** `ctx.log('…')` or `ctx.log.info('…')`, and `ctx.log.warn('…')`: lines that name the migration. */
  readonly log: ContextLogger;
  /** Walks `table` by key in batches, one transaction per batch, with progress logs. */
  batch<K = unknown>(options: BatchOptions<K>): Promise<BatchReport>;
}

export interface MigrationTimeouts {
  /** PostgreSQL interval text, e.g. '5s'. */
  readonly lockTimeout?: string;
  /** PostgreSQL interval text, e.g. '15min'. */
  readonly statementTimeout?: string;
}

/** One step of a migration: SQL text (SQL files; `line` is where it starts in the file) or code. */
export type MigrationStep =
  | { readonly kind: 'sql'; readonly sql: string; readonly line: number }
  | { readonly kind: 'code'; readonly run: (ctx: MigrationContext) => Promise<void> };

export interface Migration {
  readonly revision: Revision;
  /** Parents: none for a base, one for a plain step, two or more for a merge. */
  readonly downRevisions: readonly Revision[];
  /**
   * Names for this revision's branch (Alembic's `branch_labels`), so targets can say
   * `billing@head`, `billing@base`, `billing@+1`. Absent: none.
   */
  readonly branchLabels?: readonly string[];
  /**
   * Revisions applied before this one without being its parents (Alembic's `depends_on`): ordered
   * like parents, but they keep their own branch and head. As written: revision ids or branch
   * labels; in a RevisionGraph, the revision ids they name. Absent: none.
   */
  readonly dependsOn?: readonly Revision[];
  readonly message: string;
  /** False runs the migration alone, outside the plan's transaction. @default true */
  readonly transaction: boolean;
  readonly timeouts: MigrationTimeouts;
  /** Tries after a lock timeout, when the migration says (header `lock_retries`); else the run's. */
  readonly lockRetries?: number;
  readonly up: MigrationStep;
  /** Absent when the migration has no down step. */
  readonly down?: MigrationStep;
  /** Why the migration cannot be reverted, when its author says so; then it has no down step. */
  readonly irreversible?: string;
  /**
   * A background migration (header `background: true`): data work only, one `ctx.batch` walk that
   * the deploy starts and Step Functions (or `up`, in-process) runs beside it, over key ranges.
   * Applying it records it as started; a later migration waits for it with `requiresComplete`.
   * Absent: an ordinary migration.
   */
  readonly background?: boolean;
  /**
   * Background migrations that must have completed before this one is applied (header
   * `requires_complete`): the contract step of expand → backfill → contract. Absent: none.
   */
  readonly requiresComplete?: readonly Revision[];
  /**
   * The revisions this one squashes (header `replaces`, written by `rds-migrate squash`): it
   * builds from nothing the schema they built, keeps the id of the last of them, and a database
   * whose history holds them is at this revision already. Absent: none.
   */
  readonly replaces?: readonly Revision[];
  /** Where it came from, for messages: a path relative to the migrations folder, or 'history'. */
  readonly source: string;
  /** sha256 (hex) of the source file's text; drift is a change of this value. */
  readonly checksum: string;
  /** For code migrations: the file the module is imported from, so its down step can be recorded. */
  readonly modulePath?: string;
}

/** The example app of a deploy: every migration of one folder, loaded. */
export interface MigrationProvider {
  getMigrations(): Promise<readonly Migration[]>;
}
