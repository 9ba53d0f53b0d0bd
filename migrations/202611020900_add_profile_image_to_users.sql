-- revision: 8e52d0c4a9f1
-- down_revision: 3c1f9a27b4e0
-- message: add profile image to users

-- migrate:up
-- Nullable and without a default: a catalog-only change, no table rewrite, safe on a live table.
ALTER TABLE users ADD COLUMN profile_image text;

-- migrate:down
ALTER TABLE users DROP COLUMN profile_image;
