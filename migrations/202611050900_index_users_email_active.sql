-- revision: 5a09c7d1e8b2
-- down_revision: d2f86b3e5a17
-- message: index users by email and active flag
-- transaction: false
-- statement_timeout: 30min

-- migrate:up
-- CONCURRENTLY builds without blocking writes to users; PostgreSQL refuses it inside a
-- transaction, hence transaction: false. IF NOT EXISTS lets an interrupted run be repeated.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email_active ON users (email, is_active);

-- migrate:down
DROP INDEX CONCURRENTLY IF EXISTS idx_users_email_active;
