-- revision: 7e1a2b3c4d5f
-- down_revision: f4b1e6a2c9d8
-- message: add users email normalized

-- migrate:up
-- Expand (1 of 3): the new column, nullable, so adding it is instant; a trigger fills it for rows
-- written from now on, and the background migration after this one fills the rows already there.
ALTER TABLE users ADD COLUMN email_normalized text;

CREATE FUNCTION users_email_normalized() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.email_normalized := lower(btrim(NEW.email));
  RETURN NEW;
END
$$;

CREATE TRIGGER users_email_normalized BEFORE INSERT OR UPDATE OF email ON users
  FOR EACH ROW EXECUTE FUNCTION users_email_normalized();

-- migrate:down
DROP TRIGGER users_email_normalized ON users;
DROP FUNCTION users_email_normalized();
ALTER TABLE users DROP COLUMN email_normalized;
