-- revision: 5e1f0a7c2b04
-- down_revision: 5e1f0a7c2b03
-- message: add plan

-- migrate:up
-- Applied by the update whose later resource fails: the stack's rollback must take it back.
ALTER TABLE accounts ADD COLUMN plan text;

-- migrate:down
ALTER TABLE accounts DROP COLUMN plan;
