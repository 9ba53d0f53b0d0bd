import type { MigrationContext } from 'rds-migrate';

/**
 * Backfill (2 of 3): users.email_normalized for the rows that were there before the expand step.
 * A background migration: the deploy starts it and answers at once; Step Functions walks the
 * users table in key ranges, in parallel, one transaction per batch, each batch resumable from its
 * checkpoint (`rds-migrate up` does the same in-process). `run` must be safe to repeat for a batch
 * (here: it sets the column to what it should be), and changes data only.
 */
export default {
  revision: '8f2b3c4d5e6a',
  downRevision: '7e1a2b3c4d5f',
  message: 'backfill users email normalized',
  background: true,

  async up(ctx: MigrationContext): Promise<void> {
    await ctx.batch<string>({
      table: 'users',
      key: 'id',
      size: Number(ctx.args.batch_size ?? 1000),
      run: async (ids, sql) => {
        await sql`
          UPDATE users SET email_normalized = lower(btrim(email))
          WHERE id = ANY(${ids}::bigint[]) AND email_normalized IS DISTINCT FROM lower(btrim(email))`;
      },
    });
  },

  // The column goes with the expand step's down; the values stay until then.
  async down(): Promise<void> {},
};
