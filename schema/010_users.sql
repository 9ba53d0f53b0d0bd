-- The schema the example app wants, as CREATE statements: `rds-migrate create --autogenerate`
-- compares it with the schema the migrations build, and `rds-migrate check` fails when they
-- disagree. Files run in name order on an empty database.
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  email text NOT NULL,
  name text,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  profile_image text,
  -- Filled by the trigger below for new rows, by a background migration for the older ones.
  email_normalized text,
  CONSTRAINT users_email_normalized_present CHECK (email_normalized IS NOT NULL)
);

CREATE FUNCTION users_email_normalized() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.email_normalized := lower(btrim(NEW.email));
  RETURN NEW;
END
$$;

CREATE TRIGGER users_email_normalized BEFORE INSERT OR UPDATE OF email ON users
  FOR EACH ROW EXECUTE FUNCTION users_email_normalized();

CREATE INDEX idx_users_email_active ON users (email, is_active);
