/**
 * The checks before a deploy: `rds-migrate check` (check.ts: graph, drift, lint, round trip, the
 * wanted schema), composing the linter (lib/lint) and the schema tools (lib/schema); the rules
 * about background migrations (background-rules.ts), scoped checks (check-scope.ts: --pending,
 * --since), the report for reviewers (report-formats.ts: GitHub annotations, SARIF), and `doctor`
 * (doctor.ts), which looks at the environment every command runs in.
 *
 * It may import the engine, local/, lint/ and schema/; never cli/, construct/ or lambda/.
 */

export { LINT_RULES, type LintFinding, type LintRule, lintSql } from '../lint/lint.ts';
export { type CheckOptions, type CheckReport, checkMigrations, formatCheck } from './check.ts';
export { type DoctorReport, formatDoctor, runDoctor } from './doctor.ts';
