CREATE TABLE products (
  id bigserial PRIMARY KEY,
  marketplace text NOT NULL,
  shop_name text NOT NULL,
  title text NOT NULL,
  -- Prices arrive as scraped text ("$1,299.00"); normalized_price is the number.
  price text,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Named as the database has it: the migration that made it NOT NULL staged a CHECK under the
  -- name PostgreSQL 18 gives the NOT NULL constraint itself, which then took the next free one.
  normalized_price numeric(12, 2) CONSTRAINT products_normalized_price_not_null1 NOT NULL
);

CREATE INDEX idx_products_marketplace_shop ON products (marketplace, shop_name);
