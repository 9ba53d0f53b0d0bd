import type { MigrationContext } from 'rds-migrate';

/**
 * Sample rows for a developer's database, only with `-x dev_data=true`
 * (`rds-migrate up -x dev_data=true`); a no-op everywhere else.
 */
const SAMPLE_EMAILS = ['ada@example.com', 'grace@example.com', 'edsger@example.com'];

export default {
  revision: 'f4b1e6a2c9d8',
  downRevision: '5a09c7d1e8b2',
  message: 'seed dev data',

  async up(ctx: MigrationContext): Promise<void> {
    if (ctx.args.dev_data !== 'true') {
      ctx.log.info('dev_data is not true: no sample rows');
      return;
    }
    await ctx.sql`
      INSERT INTO users (email, name)
      SELECT email, split_part(email, '@', 1) FROM unnest(${SAMPLE_EMAILS}::text[]) AS email`;
    await ctx.sql`
      INSERT INTO products (marketplace, shop_name, title, price, normalized_price)
      VALUES ('amazon', 'ada-books', 'Notes on the Analytical Engine', '$12.50', 12.50),
             ('etsy', 'grace-goods', 'Nanosecond wire', '$0.99', 0.99)`;
  },

  // Always removes the sample rows, whatever -x says now: they may have been seeded earlier.
  async down(ctx: MigrationContext): Promise<void> {
    await ctx.sql`DELETE FROM products WHERE shop_name IN ('ada-books', 'grace-goods')`;
    await ctx.sql`DELETE FROM users WHERE email = ANY(${SAMPLE_EMAILS}::text[])`;
  },
};
