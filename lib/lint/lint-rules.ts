/**
 * The rules of the unsafe-change linter: each one's id, what it means, and the safe recipe to use
 * instead. The walker that finds them in the parse tree is `lint-walker.ts`; reading migrations,
 * allow comments and findings live in `lint.ts`.
 */

export interface LintRule {
  /** Kebab-case id, as written in findings and in `-- rds-migrate:allow <rule-id> <reason>`. */
  readonly id: string;
  readonly title: string;
  /** One line: why the change hurts a live database. */
  readonly why: string;
  /** The safe recipe, as numbered steps separated by newlines. */
  readonly fix: string;
}

const steps = (...lines: string[]): string => lines.join('\n');

const RULES = [
  {
    id: 'drop-table',
    title: 'DROP TABLE of an existing table',
    why: 'Dropping a table deletes its data for good, and deployed code that still reads or writes it fails at once.',
    fix: steps(
      '1. Deploy application code that no longer reads or writes the table.',
      '2. In a later migration, drop it (the deploy snapshots RDS first; locally run `rds-migrate backup`).',
      '3. Mark that statement with `-- rds-migrate:allow drop-table <reason>` on the line above.',
    ),
  },
  {
    id: 'drop-column',
    title: 'DROP COLUMN of an existing table',
    why: 'Deployed code that selects or writes the column (ORMs list every column) fails as soon as it is gone, and its data is lost.',
    fix: steps(
      '1. Deploy application code that no longer reads or writes the column (tell the ORM to ignore it).',
      '2. In a later migration, drop it, marked `-- rds-migrate:allow drop-column <reason>`.',
    ),
  },
  {
    id: 'alter-column-type',
    title: 'ALTER COLUMN ... TYPE on an existing table',
    why: 'Most type changes rewrite the table and its indexes under an ACCESS EXCLUSIVE lock, blocking every read and write until done.',
    fix: steps(
      '1. Add a new nullable column with the new type.',
      '2. Write both columns from the application (or a trigger).',
      '3. Backfill the new column in batches (a TS migration with ctx.batch).',
      '4. Switch reads to the new column, then stop writing the old one.',
      '5. Drop the old column in a later migration.',
      'A change PostgreSQL makes without a rewrite (varchar(n) to text or to a larger n) can be marked ' +
        '`-- rds-migrate:allow alter-column-type <reason>`.',
    ),
  },
  {
    id: 'add-column-not-null-without-default',
    title: 'ADD COLUMN ... NOT NULL without a DEFAULT',
    why: 'PostgreSQL has no value for the existing rows, so the statement fails on any table that has rows (and passes on an empty dev database).',
    fix: steps(
      '1. Add the column nullable, or with a constant DEFAULT (PostgreSQL 11+ adds that without a rewrite).',
      '2. Backfill existing rows in batches (a TS migration with ctx.batch).',
      '3. In a migration with `transaction: false`: ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; ' +
        'VALIDATE CONSTRAINT c; ALTER COLUMN col SET NOT NULL; DROP CONSTRAINT c.',
    ),
  },
  {
    id: 'set-not-null',
    title: 'SET NOT NULL without a validated CHECK (col IS NOT NULL)',
    why: 'SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, unless a validated CHECK (col IS NOT NULL) already proves it.',
    fix: steps(
      'In one migration with `transaction: false` (each statement commits on its own):',
      '1. ALTER TABLE t ADD CONSTRAINT t_col_not_null CHECK (col IS NOT NULL) NOT VALID;',
      '2. ALTER TABLE t VALIDATE CONSTRAINT t_col_not_null; (scans without blocking writes)',
      '3. ALTER TABLE t ALTER COLUMN col SET NOT NULL; (uses the constraint, no scan)',
      '4. ALTER TABLE t DROP CONSTRAINT t_col_not_null;',
      'A validated CHECK (col IS NOT NULL) from an earlier migration counts too (PostgreSQL 12+); ' +
        'before 12 SET NOT NULL always scans: keep the validated CHECK instead of SET NOT NULL.',
    ),
  },
  {
    id: 'rename-table',
    title: 'RENAME of an existing table',
    why: 'Deployed code still uses the old name and fails at once: code and schema never change at the same instant.',
    fix: steps(
      '1. In one migration: ALTER TABLE old RENAME TO new; CREATE VIEW old AS SELECT * FROM new; ' +
        '(a simple view is updatable, so old code keeps working).',
      '2. Deploy code that uses the new name.',
      '3. Drop the view in a later migration.',
    ),
  },
  {
    id: 'rename-column',
    title: 'RENAME COLUMN of an existing table',
    why: 'Deployed code still uses the old column name and fails at once: code and schema never change at the same instant.',
    fix: steps(
      '1. Add the new column.',
      '2. Write both columns (application or trigger) and backfill the new one in batches (a TS migration with ctx.batch).',
      '3. Switch reads to the new column, deploy, then stop writing the old one.',
      '4. Drop the old column in a later migration.',
    ),
  },
  {
    id: 'create-index-non-concurrently',
    title: 'CREATE INDEX without CONCURRENTLY on an existing table',
    why: 'CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits until it ends.',
    fix: steps(
      '1. Write CREATE INDEX CONCURRENTLY IF NOT EXISTS ... alone in a migration with `transaction: false`.',
      '2. If it fails it leaves an INVALID index: DROP INDEX CONCURRENTLY IF EXISTS ..., then run it again.',
    ),
  },
  {
    id: 'add-foreign-key-without-not-valid',
    title: 'ADD FOREIGN KEY without NOT VALID on an existing table',
    why: 'Adding a foreign key checks every row while holding a SHARE ROW EXCLUSIVE lock on both tables, blocking writes to both for the whole scan.',
    fix: steps(
      '1. ALTER TABLE t ADD CONSTRAINT t_x_fkey FOREIGN KEY (x) REFERENCES u (id) NOT VALID; ' +
        '(instant; new rows are checked from now on)',
      '2. ALTER TABLE t VALIDATE CONSTRAINT t_x_fkey; in a migration with `transaction: false`, ' +
        'so it runs after step 1 has committed and scans without blocking writes.',
      'For ADD COLUMN ... REFERENCES: add the column without REFERENCES, then do steps 1 and 2.',
    ),
  },
  {
    id: 'add-check-without-not-valid',
    title: 'ADD CHECK without NOT VALID on an existing table',
    why: 'Adding a CHECK constraint scans every row under an ACCESS EXCLUSIVE lock, blocking every read and write for the whole scan.',
    fix: steps(
      '1. ALTER TABLE t ADD CONSTRAINT t_x_check CHECK (...) NOT VALID; (instant; new rows are checked from now on)',
      '2. ALTER TABLE t VALIDATE CONSTRAINT t_x_check; in a migration with `transaction: false`, ' +
        'so it runs after step 1 has committed and scans without blocking writes.',
      'For ADD COLUMN ... CHECK: add the column without the CHECK, then do steps 1 and 2.',
    ),
  },
  {
    id: 'vacuum-full',
    title: 'VACUUM FULL',
    why: 'VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock, blocking every read and write until done.',
    fix: steps(
      '1. Leave space reclamation out of migrations.',
      '2. Run pg_repack (available on RDS) or a plain VACUUM in a maintenance window, outside the deploy.',
    ),
  },
  {
    id: 'cluster',
    title: 'CLUSTER',
    why: 'CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock, blocking every read and write until done.',
    fix: steps(
      '1. Leave physical reordering out of migrations.',
      '2. Run pg_repack --order-by (available on RDS) in a maintenance window, outside the deploy.',
    ),
  },
  {
    id: 'concurrently-in-transaction',
    title: 'CONCURRENTLY inside a transactional migration',
    why: 'PostgreSQL refuses CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY inside a transaction block, so the migration always fails.',
    fix: steps(
      '1. Move the statement to its own migration with `transaction: false` in its header ' +
        '(the runner applies it alone, outside the plan transaction).',
      '2. Keep that migration to that one statement, so a failure leaves at most an INVALID index to drop and rebuild.',
    ),
  },
  {
    id: 'update-without-where',
    title: 'UPDATE of every row of an existing table',
    why: 'Updating a whole live table in one statement locks every row until commit, stalls concurrent writers and floods WAL and replicas.',
    fix: steps(
      '1. Backfill in a TS migration with ctx.batch({ table, key, run }): it walks the table by key, one transaction per batch.',
      '2. Make each batch idempotent (UPDATE ... WHERE id = ANY(keys) AND col IS DISTINCT FROM ...) so an interrupted run resumes safely.',
      'For a table known to stay small, mark it `-- rds-migrate:allow update-without-where <reason>`.',
    ),
  },
  {
    id: 'delete-without-where',
    title: 'DELETE of every row of an existing table',
    why: 'Deleting a whole live table in one statement locks every row until commit, stalls concurrent writers and floods WAL and replicas.',
    fix: steps(
      '1. Delete in a TS migration with ctx.batch({ table, key, run }): one transaction per batch.',
      '2. If the table must simply be emptied and nothing uses it, TRUNCATE is instant (it takes a brief ACCESS EXCLUSIVE lock).',
      'For a table known to stay small, mark it `-- rds-migrate:allow delete-without-where <reason>`.',
    ),
  },
  {
    id: 'add-column-volatile-default',
    title: 'ADD COLUMN with a volatile DEFAULT',
    why: 'A volatile default (random(), gen_random_uuid(), clock_timestamp(), serial, identity) is computed per row, so PostgreSQL rewrites the table under an ACCESS EXCLUSIVE lock.',
    fix: steps(
      '1. Add the column without a default (or with a constant one).',
      '2. ALTER COLUMN col SET DEFAULT <expression>; (applies to new rows only, no rewrite)',
      '3. Backfill existing rows in batches (a TS migration with ctx.batch).',
      '4. If the column must be NOT NULL, follow the set-not-null recipe.',
    ),
  },
  {
    id: 'add-unique-constraint-without-index',
    title: 'ADD UNIQUE or PRIMARY KEY without USING INDEX on an existing table',
    why: 'ADD CONSTRAINT ... UNIQUE or PRIMARY KEY builds its index under an ACCESS EXCLUSIVE lock, blocking every read and write for the whole build.',
    fix: steps(
      '1. CREATE UNIQUE INDEX CONCURRENTLY t_x_key ON t (x); alone in a migration with `transaction: false`.',
      '2. ALTER TABLE t ADD CONSTRAINT t_x_key UNIQUE USING INDEX t_x_key; (instant; PRIMARY KEY USING INDEX ' +
        'also needs the columns NOT NULL, see set-not-null)',
    ),
  },
  {
    id: 'validate-in-same-transaction',
    title: 'VALIDATE CONSTRAINT in the transaction that added it NOT VALID',
    why: "The lock of ADD ... NOT VALID is held until commit, so validating in the same transaction blocks writes for the whole scan, as if NOT VALID weren't there; consecutive transactional migrations share one transaction when they are pending together.",
    fix: steps(
      '1. Mark the migration that validates `transaction: false`: the runner then commits everything before it ' +
        '(ADD ... NOT VALID included) and runs its statements one by one,',
      '2. or, within one migration, mark it `transaction: false` so ADD ... NOT VALID commits before VALIDATE starts.',
    ),
  },
  {
    id: 'table-rewrite',
    title: 'A statement that rewrites an existing table, index or materialized view',
    why: 'A rewrite copies every row (and rebuilds the indexes) while holding an ACCESS EXCLUSIVE lock, blocking every read and write until done.',
    fix: steps(
      '1. SET TABLESPACE, SET LOGGED/UNLOGGED, SET ACCESS METHOD: leave them out of migrations; run pg_repack ' +
        '(available on RDS) or do it in a maintenance window.',
      '2. A stored generated column (ADD COLUMN ... STORED, SET EXPRESSION): on PostgreSQL 18 add it VIRTUAL; otherwise add a ' +
        'plain column, fill it from a trigger for new rows and in batches (a TS migration with ctx.batch) for old ones.',
      '3. If the relation is known to stay small, mark the statement `-- rds-migrate:allow table-rewrite <reason>`.',
    ),
  },
  {
    id: 'table-scan-under-lock',
    title: 'A statement that scans an existing table while blocking its writes or reads',
    why: 'The statement reads every row to check it while holding a lock that blocks writes (SHARE or stronger), so traffic waits for the whole scan.',
    fix: steps(
      '1. ATTACH PARTITION: first ADD a CHECK constraint matching the partition bound NOT VALID on the table to attach, VALIDATE it ' +
        'in a `transaction: false` migration, then ATTACH (the scan is skipped) and drop the CHECK.',
      '2. ALTER DOMAIN ADD CONSTRAINT: add it NOT VALID, then VALIDATE CONSTRAINT in a later `transaction: false` migration. ' +
        'ALTER DOMAIN SET NOT NULL: use a CHECK (VALUE IS NOT NULL) NOT VALID constraint the same way.',
      '3. VALIDATE CONSTRAINT or ALTER CONSTRAINT ... ENFORCED in a statement that also takes a stronger lock: give it a statement of its own, ' +
        'in a `transaction: false` migration.',
      '4. ADD CONSTRAINT ... EXCLUDE has no non-blocking form: ship it with the table, or in a maintenance window.',
    ),
  },
  {
    id: 'add-column-default-rewrite',
    title: 'ADD COLUMN with a DEFAULT before PostgreSQL 11',
    why: 'Before PostgreSQL 11 every DEFAULT (even a constant) is written into every row, rewriting the table under an ACCESS EXCLUSIVE lock.',
    fix: steps(
      '1. Add the column without a default.',
      '2. ALTER COLUMN col SET DEFAULT <value>; (new rows only, no rewrite)',
      '3. Backfill existing rows in batches (a TS migration with ctx.batch).',
      'Or upgrade to PostgreSQL 11+, where a constant default is stored once in the catalog (and say so with --pg-version).',
    ),
  },
  {
    id: 'reindex-non-concurrently',
    title: 'REINDEX without CONCURRENTLY on an existing table or index',
    why: "REINDEX holds a SHARE lock on the table (writes wait) and an ACCESS EXCLUSIVE lock on each index it rebuilds, which blocks nearly every query, since the planner locks all of a table's indexes.",
    fix: steps(
      '1. Write REINDEX INDEX CONCURRENTLY ... (PostgreSQL 12+) alone in a migration with `transaction: false`.',
      '2. Before 12: CREATE INDEX CONCURRENTLY a replacement, then DROP INDEX CONCURRENTLY the old one, each in a `transaction: false` migration.',
    ),
  },
  {
    id: 'refresh-materialized-view-non-concurrently',
    title: 'REFRESH MATERIALIZED VIEW without CONCURRENTLY on an existing view',
    why: 'A plain refresh rebuilds the view under an ACCESS EXCLUSIVE lock, so every query of it waits until the whole view query has run.',
    fix: steps(
      '1. Give the view a UNIQUE index (CREATE UNIQUE INDEX CONCURRENTLY in a `transaction: false` migration).',
      '2. REFRESH MATERIALIZED VIEW CONCURRENTLY v; (an EXCLUSIVE lock: reads go on while it runs).',
      'A view that has never been populated (WITH NO DATA) must be refreshed plainly once: mark that statement ' +
        '`-- rds-migrate:allow refresh-materialized-view-non-concurrently <reason>`.',
    ),
  },
  {
    id: 'cannot-run-in-transaction',
    title: 'A statement PostgreSQL refuses inside a transaction block, in a transactional migration',
    why: 'VACUUM, CREATE/DROP DATABASE, CREATE/DROP TABLESPACE, ALTER SYSTEM, REINDEX SCHEMA/DATABASE/SYSTEM, CLUSTER without a table (and ALTER TYPE ... ADD VALUE before PostgreSQL 12) cannot run inside a transaction block, so the migration always fails.',
    fix: steps(
      '1. Move the statement to its own migration with `transaction: false` in its header ' +
        '(the runner applies it alone, outside the plan transaction).',
      '2. For VACUUM or ANALYZE after a data change, consider leaving it to autovacuum: a migration rarely needs one.',
    ),
  },
  {
    id: 'enum-value-used-in-transaction',
    title: 'An enum value used in the transaction that added it',
    why: 'A value added by ALTER TYPE ... ADD VALUE cannot be used until that transaction commits (PostgreSQL fails with "unsafe use of new value"); consecutive transactional migrations share one transaction when they are pending together.',
    fix: steps(
      '1. Mark the migration that adds the value `transaction: false`, so ADD VALUE commits on its own,',
      '2. or mark the migration that uses it `transaction: false`, so the plan commits before it starts.',
    ),
  },
  {
    id: 'lock-held-during-long-step',
    title: 'A lock that blocks traffic, held while a later step of the same transaction does long work',
    why: 'A lock is held until the transaction commits: one taken early (even by an instant statement) keeps blocking its table while a later rewrite, scan, index build or whole-table update runs, and consecutive transactional migrations share one transaction when they are pending together.',
    fix: steps(
      '1. Put the long step in its own migration with `transaction: false` (or the lock-taking statement, so it commits at once).',
      '2. Or take the lock after the long step: order the statements so the brief ACCESS EXCLUSIVE change comes last.',
      '3. If the long step is known to be short (a small table), mark it `-- rds-migrate:allow lock-held-during-long-step <reason>`.',
    ),
  },
  {
    id: 'transaction-control',
    title: 'BEGIN, COMMIT or ROLLBACK in a transactional migration',
    why: 'The runner applies the plan in one transaction; a COMMIT or ROLLBACK inside a migration ends it midway, so a later failure can no longer restore the database.',
    fix: steps(
      '1. Remove BEGIN/COMMIT/ROLLBACK: the runner opens and commits the transaction (SAVEPOINT is fine).',
      '2. For statements that must commit on their own, use a migration with `transaction: false`.',
    ),
  },
  {
    id: 'invalid-allow-comment',
    title: 'Allow comment without a reason, with an unknown rule, or not above a statement',
    why: 'An exemption must name the rule it lifts and say why, so a reviewer can judge it; a malformed one exempts nothing.',
    fix: steps(
      '1. Write `-- rds-migrate:allow <rule-id> <reason>` directly above the statement (no blank line between).',
      '2. One comment per rule; the rule id is one of LINT_RULES.',
    ),
  },
] as const satisfies readonly LintRule[];

export type LintRuleId = (typeof RULES)[number]['id'];

export const LINT_RULES: readonly LintRule[] = RULES;

/** Rules an allow comment may name: all but the check of allow comments themselves. */
export const ALLOWABLE_RULE_IDS: ReadonlySet<string> = new Set(
  RULES.map((rule) => rule.id).filter((id) => id !== 'invalid-allow-comment'),
);

const RULES_BY_ID: ReadonlyMap<string, LintRule> = new Map(RULES.map((rule) => [rule.id, rule]));

export function lintRule(id: LintRuleId): LintRule {
  const rule = RULES_BY_ID.get(id);
  if (!rule) throw new RangeError(`no lint rule '${id}'`);
  return rule;
}

// ---------------------------------------------------------------------------------------------
// The rules, over the parse tree, statement by statement in order.
