CREATE TABLE products (
  id bigserial PRIMARY KEY,
  marketplace text NOT NULL,
  shop_name text NOT NULL,
  title text NOT NULL,
  -- Prices arrive as scraped text ("$1,299.00"); normalized_price is the number.
  price text,
  created_at timestamptz NOT NULL DEFAULT now(),
  normalized_price numeric(12, 2) NOT NULL
);

CREATE INDEX idx_products_marketplace_shop ON products (marketplace, shop_name);
