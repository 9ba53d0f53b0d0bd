/**
 * The `ctx` a code migration receives: a tagged-template `sql` on the runner's session, the
 * context arguments, a logger, and the keyset batch helper for data migrations.
 */
import type { Database } from './database.ts';
import { RdsMigrateError } from './errors.ts';
import type {
  BatchOptions,
  BatchReport,
  ContextLogger,
  MigrationContext,
  MigrationLogger,
  Revision,
  Row,
  SqlQuery,
  SqlTag,
} from './migration.ts';
import { escapeIdentifier, escapeLiteral } from './sql-quote.ts';
import { BATCH_GRACE_MS, capAtDeadline } from './timeouts.ts';

/** Builds `{ text, values }` from a template: every interpolation becomes a `$n` parameter. */
export function sqlQuery(strings: TemplateStringsArray, values: readonly unknown[]): SqlQuery {
  let text = strings[0] ?? '';
  for (let index = 0; index < values.length; index++) {
    text += `$${index + 1}${strings[index + 1] ?? ''}`;
  }
  return { text, values };
}

export function sqlTag(db: Database): SqlTag {
  const tag = async <T extends Row = Row>(
    strings: TemplateStringsArray,
    ...values: unknown[]
  ): Promise<T[]> => {
    const query = sqlQuery(strings, values);
    return (await db.query<T>(query.text, query.values)).rows;
  };
  return Object.assign(tag, {
    unsafe: async <T extends Row = Row>(text: string, values?: readonly unknown[]): Promise<T[]> =>
      (await db.query<T>(text, values)).rows,
  }) as SqlTag;
}

interface ContextOptions {
  readonly db: Database;
  readonly revision: Revision;
  readonly args: Readonly<Record<string, string>>;
  readonly log: MigrationLogger;
  /** True when the migration runs inside the plan's transaction: batches cannot commit there. */
  readonly inTransaction: boolean;
  /** Schema-qualified checkpoints table, for resumable batches. */
  readonly checkpointsTable: string;
  /** Epoch ms after which no new batch starts (the run stops, resumable). */
  readonly deadline?: number;
  /** The step's statement_timeout, which a batch keeps, capped at the deadline plus its grace. */
  readonly statementTimeout?: string;
}

export function createContext(options: ContextOptions): MigrationContext {
  const log = logOf(options.revision, options.log);
  return {
    sql: sqlTag(options.db),
    args: options.args,
    log,
    batch: <K>(batchOptions: BatchOptions<K>) => runBatches({ ...options, log }, batchOptions),
  };
}

/** The migration's logger: every line says which migration wrote it. */
function logOf(revision: Revision, log: MigrationLogger): ContextLogger {
  return contextLogger({
    info: (message, details) => log.info(message, { revision, ...details }),
    warn: (message, details) => log.warn(message, { revision, ...details }),
  });
}

/** `log` as `ctx.log`: callable for an info line, with `info` and `warn` beside. */
export function contextLogger(log: MigrationLogger): ContextLogger {
  return Object.assign((message: string, details?: Record<string, unknown>) => log.info(message, details), {
    info: (message: string, details?: Record<string, unknown>) => log.info(message, details),
    warn: (message: string, details?: Record<string, unknown>) => log.warn(message, details),
  });
}

/** Rows, rate and ETA of a batch walk, for the logs. */
function progress(
  table: string,
  rows: number,
  rowsThisRun: number,
  batches: number,
  started: number,
  estimatedTotal: number | undefined,
): Record<string, unknown> {
  const rowsPerSecond = Math.round(rowsThisRun / Math.max(0.001, (Date.now() - started) / 1000));
  const etaSeconds =
    estimatedTotal !== undefined && rowsPerSecond > 0
      ? Math.max(0, Math.round((estimatedTotal - rows) / rowsPerSecond))
      : undefined;
  return { table, batches, rows, estimatedTotal, rowsPerSecond, etaSeconds };
}

/** The planner's row estimate: free, and good enough for an ETA; undefined if never analysed. */
async function estimateRows(db: Database, table: string): Promise<number | undefined> {
  const result = await db.query<{ estimate: string | null }>(
    'SELECT reltuples::bigint AS estimate FROM pg_class WHERE oid = to_regclass($1)',
    [table],
  );
  const estimate = Number(result.rows[0]?.estimate ?? -1);
  return estimate > 0 ? estimate : undefined;
}

/**
 * BEGIN of one batch. Near a deadline the step's session timeout may be down to a few
 * milliseconds; a batch that starts before the deadline gets until the deadline plus its grace.
 */
function batchBegin(context: ContextOptions): string {
  if (context.deadline === undefined || context.statementTimeout === undefined) return 'BEGIN';
  const timeout = capAtDeadline(context.statementTimeout, context.deadline + BATCH_GRACE_MS);
  return `BEGIN; SET LOCAL statement_timeout = ${escapeLiteral(timeout)}`;
}

/** The run's deadline came between two batches: the checkpoint is committed, the next run resumes. */
export class DeadlineReached extends RdsMigrateError {
  override readonly name = 'DeadlineReached';
}

/** `ctx.batch` was called where it cannot keep its promise of one transaction per batch. */
export class BatchInTransactionError extends RdsMigrateError {
  override readonly name = 'BatchInTransactionError';
}

async function runBatches<K>(context: ContextOptions, options: BatchOptions<K>): Promise<BatchReport> {
  if (context.inTransaction) {
    throw new BatchInTransactionError(
      `migration ${context.revision} calls ctx.batch inside the plan's transaction, where batches cannot commit ` +
        'one by one; mark the migration transaction: false',
    );
  }
  const { db, log } = context;
  const key = options.key ?? 'id';
  const size = options.size ?? 1000;
  const table = options.table.split('.').map(escapeIdentifier).join('.');
  const column = escapeIdentifier(key);
  const name = `${options.table}:${key}`;
  const started = Date.now();
  const checkpoint = await db.query<{
    last_key: { value: K } | null;
    rows: string;
    batches: number;
    completed?: boolean;
  }>(`SELECT * FROM ${context.checkpointsTable} WHERE revision = $1 AND name = $2`, [context.revision, name]);
  const resumed = checkpoint.rows[0];
  let lastKey: K | undefined = resumed?.last_key?.value;
  let rows = Number(resumed?.rows ?? 0);
  let batches = resumed?.batches ?? 0;
  if (resumed?.completed) {
    // The walk finished in an earlier run that stopped before the step was recorded: running it
    // again would apply every batch twice. Its checkpoint goes with the step's finish record.
    log.info('batches already completed in an earlier run; not walking again', {
      table: options.table,
      rows,
      batches,
    });
    return { batches, rows, durationMs: Date.now() - started, resumed: true };
  }
  const rowsBefore = rows;
  if (resumed) log.info('resuming batches from checkpoint', { table: options.table, lastKey, rows, batches });
  const estimatedTotal = await estimateRows(db, options.table);
  const sql = sqlTag(db);
  const save = (completed: boolean) =>
    db.query(
      `INSERT INTO ${context.checkpointsTable} (revision, name, last_key, rows, batches, estimated_total, completed, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())
       ON CONFLICT (revision, name) DO UPDATE
       SET last_key = EXCLUDED.last_key, rows = EXCLUDED.rows, batches = EXCLUDED.batches,
           estimated_total = EXCLUDED.estimated_total, completed = EXCLUDED.completed, updated_at = clock_timestamp()`,
      [
        context.revision,
        name,
        JSON.stringify({ value: lastKey ?? null }),
        rows,
        batches,
        estimatedTotal ?? null,
        completed,
      ],
    );

  for (;;) {
    if (context.deadline !== undefined && Date.now() >= context.deadline) {
      log.info('deadline reached between batches; stopping at the checkpoint', {
        table: options.table,
        rows,
        batches,
      });
      throw new DeadlineReached(
        `migration ${context.revision} stopped at its checkpoint after ${batches} batches`,
      );
    }
    const page = await db.query<{ key: K }>(
      lastKey === undefined
        ? `SELECT ${column} AS key FROM ${table} ORDER BY ${column} LIMIT $1`
        : `SELECT ${column} AS key FROM ${table} WHERE ${column} > $2 ORDER BY ${column} LIMIT $1`,
      lastKey === undefined ? [size] : [size, lastKey],
    );
    const keys = page.rows.map((row) => row.key);
    if (keys.length === 0) {
      // The last batch was full: mark the walk complete on its own.
      await save(true);
      break;
    }
    const last = keys.length < size;
    await db.query(batchBegin(context));
    try {
      await options.run(keys, sql);
      lastKey = keys[keys.length - 1];
      rows += keys.length;
      batches += 1;
      // The batch's work and its checkpoint commit together; the last batch also marks the walk
      // complete, so a run that stops after it never walks again.
      await save(last);
      await db.query('COMMIT');
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    log.info(
      'batch done',
      progress(options.table, rows, rows - rowsBefore, batches, started, estimatedTotal),
    );
    if (last) break;
  }
  return { batches, rows, durationMs: Date.now() - started, resumed: resumed !== undefined };
}
