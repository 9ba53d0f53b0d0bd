-- The schema the example app wants, as CREATE statements: `rds-migrate create --autogenerate`
-- compares it with the schema the migrations build, and `rds-migrate check` fails when they
-- disagree. Files run in name order on an empty database.
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  email text NOT NULL,
  name text,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  profile_image text
);

CREATE INDEX idx_users_email_active ON users (email, is_active);
