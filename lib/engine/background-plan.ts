/**
 * What a background migration walks, learnt without walking it: its `up(ctx)` is called with a
 * planning `ctx` whose `batch` records the options it is given and stops the migration there.
 * The table, key, batch size and the per-batch `run` are all a runner needs to split the key
 * into ranges and walk each one, wherever that happens (a Step Functions task, `up` locally).
 */
import { contextLogger } from './context.ts';
import { RdsMigrateError } from './errors.ts';
import type { BatchOptions, Migration, MigrationContext, Row, SqlTag } from './migration.ts';

/** The one `ctx.batch` walk of a background migration, with its defaults filled in. */
export interface BatchPlan {
  readonly table: string;
  readonly key: string;
  readonly size: number;
  readonly run: BatchOptions['run'];
}

/** A background migration that is not one `ctx.batch` walk, and what to do about it. */
export class BackgroundMigrationError extends RdsMigrateError {
  override readonly name = 'BackgroundMigrationError';
}

/** Thrown by the planning `ctx.batch` to stop `up(ctx)` once the walk is known. */
class PlanningStop extends Error {}

const DEFAULT_BATCH_SIZE = 1000;

/** The walk `migration.up` asks for, as the planning run records it. */
export async function batchPlanOf(
  migration: Migration,
  args: Readonly<Record<string, string>>,
): Promise<BatchPlan> {
  if (migration.up.kind !== 'code') {
    throw new BackgroundMigrationError(
      `background migration ${migration.revision} (${migration.source}) has no batch walk: give it ` +
        "'-- batch_table: <table>' and a statement using $1, or make it a TS migration calling ctx.batch",
    );
  }
  let recorded: BatchOptions | undefined;
  const refuse = (): never => {
    throw new BackgroundMigrationError(
      `background migration ${migration.revision} (${migration.source}) runs SQL outside ctx.batch; a ` +
        'background migration holds data work only, one ctx.batch walk: move schema changes to a migration ' +
        'before it (expand) or after it (contract)',
    );
  };
  const sql = Object.assign(async <T extends Row = Row>(): Promise<T[]> => refuse(), {
    unsafe: async <T extends Row = Row>(): Promise<T[]> => refuse(),
  }) as SqlTag;
  const ctx: MigrationContext = {
    sql,
    args,
    log: contextLogger({ info: () => undefined, warn: () => undefined }),
    batch: async (options) => {
      recorded = options as BatchOptions;
      throw new PlanningStop();
    },
  };
  try {
    await migration.up.run(ctx);
  } catch (error) {
    if (!(error instanceof PlanningStop)) throw error;
  }
  if (!recorded) {
    throw new BackgroundMigrationError(
      `background migration ${migration.revision} (${migration.source}) never calls ctx.batch; its up(ctx) ` +
        'must be one ctx.batch walk (with these -x arguments too)',
    );
  }
  const size = recorded.size ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(size) || size < 1) {
    throw new BackgroundMigrationError(
      `background migration ${migration.revision} asks for batches of ${size} rows; give a whole number, e.g. 1000`,
    );
  }
  return { table: recorded.table, key: recorded.key ?? 'id', size, run: recorded.run };
}
