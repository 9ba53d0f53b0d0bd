/**
 * The checks before a deploy: `rds-migrate check` (check.ts: graph, drift, lint, round trip), the
 * unsafe-change linter (lint.ts reads migrations and allow comments, lint-rules.ts holds the
 * rules and their recipes, lint-walker.ts finds them in the parse tree; migration-lint.ts and
 * recording.ts lint TS migrations on the SQL a recording dry run issues), the round trip on a
 * scratch database (round-trip.ts, scratch-database.ts), and `doctor`.
 *
 * It may import the engine and local/ (a scratch database needs a server); never cli/,
 * construct/ or lambda/.
 */
export { type CheckOptions, type CheckReport, checkMigrations, formatCheck } from './check.ts';
export { type DoctorReport, formatDoctor, runDoctor } from './doctor.ts';
export { LINT_RULES, type LintFinding, type LintRule, lintSql } from './lint.ts';
