/**
 * The checks before a deploy: `rds-migrate check` (check.ts: graph, drift, lint, round trip), the
 * unsafe-change linter (lint.ts reads migrations and allow comments, lint-rules.ts holds the
 * rules and their recipes, lint-walker.ts finds them in the parse tree; migration-lint.ts and
 * recording.ts lint TS migrations on the SQL a recording dry run issues), the round trip on a
 * scratch database (round-trip.ts, scratch-database.ts), and `doctor`. Autogenerate and drift:
 * the wanted schema (wanted-schema.ts, drizzle-schema.ts), shadow databases (shadow-schema.ts),
 * the diff library (schema-diff.ts), our rules over its statements (safe-migrations.ts), the
 * generated files (generated-migration.ts, autogenerate.ts), check's comparison
 * (schema-agreement.ts) and `diff` (database-diff.ts). The linter's model of PostgreSQL's locks
and rewrites: lock-model.ts and lock-modes.ts (what each statement locks and blocks),
alter-table-model.ts (each ALTER TABLE subcommand), rewrite-rules.ts and statement-effect.ts (what
rewrites or scans a table), schema-knowledge.ts (what earlier statements created), relation-name.ts,
pg-version.ts; transaction-lint.ts and plan-lint.ts judge statements together. Scoped checks
(check-scope.ts: --pending, --since), the report for reviewers (report-formats.ts: GitHub
annotations, SARIF), and `squash` (squash.ts).
 *
 * It may import the engine and local/ (a scratch database needs a server); never cli/,
 * construct/ or lambda/.
 */
export { type CheckOptions, type CheckReport, checkMigrations, formatCheck } from './check.ts';
export { type DoctorReport, formatDoctor, runDoctor } from './doctor.ts';
export { LINT_RULES, type LintFinding, type LintRule, lintSql } from './lint.ts';
