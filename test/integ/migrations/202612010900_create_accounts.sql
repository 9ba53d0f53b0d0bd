-- revision: 5e1f0a7c2b01
-- down_revision: none
-- message: create accounts

-- migrate:up
CREATE TABLE accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL
);
INSERT INTO accounts (email) SELECT ' User' || n || '@Example.com' FROM generate_series(1, 500) AS n;

-- migrate:down
DROP TABLE accounts;
