-- revision: b7a4e19c03d5
-- down_revision: 8e52d0c4a9f1
-- message: index products by marketplace and shop

-- migrate:up
-- rds-migrate:allow create-index-non-concurrently products is new and small when this ships; a plain build takes milliseconds
CREATE INDEX idx_products_marketplace_shop ON products (marketplace, shop_name);

-- migrate:down
DROP INDEX idx_products_marketplace_shop;
