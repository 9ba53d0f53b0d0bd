-- revision: 3c1f9a27b4e0
-- down_revision: none
-- message: create users and products

-- migrate:up
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  email text NOT NULL,
  name text,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  id bigserial PRIMARY KEY,
  marketplace text NOT NULL,
  shop_name text NOT NULL,
  title text NOT NULL,
  -- Prices arrive as scraped text ("$1,299.00"); normalized_price (a later migration) is the number.
  price text,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE products;
DROP TABLE users;
