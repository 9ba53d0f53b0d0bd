-- revision: 5e1f0a7c2b02
-- down_revision: 5e1f0a7c2b01
-- message: add email normalized

-- migrate:up
-- Expand: the column the next deploy's background migration fills.
ALTER TABLE accounts ADD COLUMN email_normalized text;

-- migrate:down
ALTER TABLE accounts DROP COLUMN email_normalized;
