-- revision: 9a3c4d5e6f7b
-- down_revision: 8f2b3c4d5e6a
-- message: require users email normalized
-- requires_complete: 8f2b3c4d5e6a
-- transaction: false

-- migrate:up
-- Contract (3 of 3): every row has email_normalized now, which holds only once the backfill has
-- completed: requires_complete makes a deploy refuse this migration until then. The CHECK is added
-- NOT VALID (no scan under a lock), then validated (a scan that does not block writes).
ALTER TABLE users ADD CONSTRAINT users_email_normalized_present CHECK (email_normalized IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_email_normalized_present;

-- migrate:down
ALTER TABLE users DROP CONSTRAINT users_email_normalized_present;
