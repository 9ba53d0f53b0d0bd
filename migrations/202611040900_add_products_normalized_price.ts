import type { MigrationContext } from 'rds-migrate';

/**
 * Adds products.normalized_price, fills it from the text price in batches (one transaction per
 * batch, resumable from its checkpoint), then makes it NOT NULL without a long exclusive lock:
 * CHECK ... NOT VALID, VALIDATE (reads without blocking writes), SET NOT NULL (uses the check).
 * Each step commits on its own, so the migration runs outside the plan's transaction.
 */
export default {
  revision: 'd2f86b3e5a17',
  downRevision: 'b7a4e19c03d5',
  message: 'add products normalized price',
  transaction: false,

  async up(ctx: MigrationContext): Promise<void> {
    await ctx.sql`ALTER TABLE products ADD COLUMN IF NOT EXISTS normalized_price numeric(12, 2)`;
    const report = await ctx.batch<string>({
      table: 'products',
      key: 'id',
      size: Number(ctx.args.batch_size ?? 1000),
      run: async (ids, sql) => {
        await sql`
          UPDATE products
          SET normalized_price = coalesce(nullif(regexp_replace(price, '[^0-9.]', '', 'g'), '')::numeric, 0)
          WHERE id = ANY(${ids}::bigint[])`;
      },
    });
    ctx.log.info('normalized prices', { rows: report.rows, batches: report.batches });
    await ctx.sql`ALTER TABLE products DROP CONSTRAINT IF EXISTS products_normalized_price_not_null`;
    await ctx.sql`
      ALTER TABLE products
      ADD CONSTRAINT products_normalized_price_not_null CHECK (normalized_price IS NOT NULL) NOT VALID`;
    await ctx.sql`ALTER TABLE products VALIDATE CONSTRAINT products_normalized_price_not_null`;
    await ctx.sql`ALTER TABLE products ALTER COLUMN normalized_price SET NOT NULL`;
    await ctx.sql`ALTER TABLE products DROP CONSTRAINT products_normalized_price_not_null`;
  },

  async down(ctx: MigrationContext): Promise<void> {
    await ctx.sql`ALTER TABLE products DROP COLUMN IF EXISTS normalized_price`;
  },
};
