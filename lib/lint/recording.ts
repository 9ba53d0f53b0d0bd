/**
 * Dry runs of code migrations: `up(ctx)` or `down(ctx)` called with a `ctx` whose `sql` writes
 * each statement down instead of sending it, so a TS migration can be linted (`check`) and
 * printed (`up --sql`) with no database at all, `cdk synth` included. Queries return no rows and
 * `ctx.batch` runs its body once with no keys, so code that branches on data takes its
 * empty-database path: a recording is what the migration would issue there, and says so.
 * (Not to be confused with recorded.ts: the down steps kept in the history.)
 */
import { pathToFileURL } from 'node:url';
import { BatchInTransactionError, contextLogger, sqlQuery } from '../engine/context.ts';
import type {
  BatchOptions,
  BatchReport,
  Migration,
  MigrationContext,
  Row,
  SqlTag,
} from '../engine/migration.ts';

type RecordedEntry =
  | {
      readonly kind: 'statement';
      readonly text: string;
      readonly values: readonly unknown[];
      /** Line of the migration's source file that issued it, when the stack shows it. */
      readonly line?: number;
    }
  | { readonly kind: 'note'; readonly text: string };

export interface Recording {
  readonly revision: string;
  readonly source: string;
  readonly direction: 'up' | 'down';
  readonly args: Readonly<Record<string, string>>;
  readonly entries: readonly RecordedEntry[];
  /** What the code threw, when the dry run stopped before the end. */
  readonly stoppedBy?: Error;
}

/** Records what the code step of `migration` issues in `direction`, given the context arguments. */
export async function recordCodeStep(
  migration: Migration,
  direction: 'up' | 'down',
  args: Readonly<Record<string, string>>,
): Promise<Recording> {
  const step = direction === 'up' ? migration.up : migration.down;
  if (step?.kind !== 'code') {
    throw new RangeError(`${migration.source} has no ${direction} code step to record`);
  }
  const entries: RecordedEntry[] = [];
  const sourceFile = migration.modulePath;
  const statement = (text: string, values: readonly unknown[]) =>
    entries.push({ kind: 'statement', text, values, line: callerLine(sourceFile) });
  const note = (text: string) => entries.push({ kind: 'note', text });
  const ctx = recordingContext(migration, args, statement, note);
  let stoppedBy: Error | undefined;
  try {
    await step.run(ctx);
  } catch (error) {
    stoppedBy = error instanceof Error ? error : new Error(String(error));
  }
  return { revision: migration.revision, source: migration.source, direction, args, entries, stoppedBy };
}

/** The one-line marker every use of a recording carries: where it came from, and the caveat. */
export function recordingMarker(recording: Recording): string {
  return `recorded from ${recording.source} (${recording.direction}) with args ${JSON.stringify(recording.args)}; the real run may differ`;
}

function recordingContext(
  migration: Migration,
  args: Readonly<Record<string, string>>,
  statement: (text: string, values: readonly unknown[]) => void,
  note: (text: string) => void,
): MigrationContext {
  const sql = recordingTag(statement);
  const log = contextLogger({
    info: (message, details) =>
      note(`ctx.log.info: ${message}${details ? ` ${JSON.stringify(details)}` : ''}`),
    warn: (message, details) =>
      note(`ctx.log.warn: ${message}${details ? ` ${JSON.stringify(details)}` : ''}`),
  });
  return {
    sql,
    args,
    log,
    batch: async <K>(options: BatchOptions<K>): Promise<BatchReport> => {
      if (migration.transaction) {
        // The same refusal as the real ctx.batch: a run would always fail here.
        throw new BatchInTransactionError(
          `migration ${migration.revision} calls ctx.batch inside the plan's transaction, where batches ` +
            'cannot commit one by one; mark the migration transaction: false',
        );
      }
      const key = options.key ?? 'id';
      note(
        `ctx.batch walks ${options.table} by ${key}, ${options.size ?? 1000} rows per batch, ` +
          'each batch in its own transaction; every batch runs (recorded with no keys):',
      );
      await options.run([], sql);
      note('end of ctx.batch');
      return { batches: 0, rows: 0, durationMs: 0, resumed: false };
    },
  };
}

function recordingTag(statement: (text: string, values: readonly unknown[]) => void): SqlTag {
  const tag = async <T extends Row = Row>(strings: TemplateStringsArray, ...values: unknown[]) => {
    const query = sqlQuery(strings, values);
    statement(query.text, query.values);
    return [] as T[];
  };
  return Object.assign(tag, {
    unsafe: async <T extends Row = Row>(text: string, values: readonly unknown[] = []) => {
      statement(text, values);
      return [] as T[];
    },
  }) as SqlTag;
}

/**
 * The line of `file` in the current stack: the migration's own call of `sql`. Stack traces of
 * TS modules map back to source lines (tsx and vitest load them with source maps).
 */
function callerLine(file: string | undefined): number | undefined {
  if (!file) return undefined;
  const names = [pathToFileURL(file).href, file];
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const frame of stack.split('\n')) {
    for (const name of names) {
      const at = frame.indexOf(`${name}:`);
      if (at === -1) continue;
      const line = Number(frame.slice(at + name.length + 1).split(':')[0]);
      if (line > 0) return line;
    }
  }
  return undefined;
}
