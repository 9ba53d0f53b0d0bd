import type { MigrationContext } from 'rds-migrate';

/** A background migration: the deploy starts it, the construct's state machine walks the table. */
export default {
  revision: '5e1f0a7c2b03',
  downRevision: '5e1f0a7c2b02',
  message: 'backfill email normalized',
  background: true,

  async up(ctx: MigrationContext): Promise<void> {
    await ctx.batch<string>({
      table: 'accounts',
      key: 'id',
      size: 100,
      run: async (ids, sql) => {
        await sql`
          UPDATE accounts SET email_normalized = lower(btrim(email))
          WHERE id = ANY(${ids}::bigint[]) AND email_normalized IS DISTINCT FROM lower(btrim(email))`;
      },
    });
  },

  async down(): Promise<void> {},
};
