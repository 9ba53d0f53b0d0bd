/**
 * The checks before a deploy: `rds-migrate check` (check.ts: graph, drift, lint, round trip, the
 * wanted schema), composing the linter (lib/lint) and the schema tools (lib/schema); the rules
 * about background migrations (background-rules.ts), scoped checks (check-scope.ts: --pending,
 * --since), the report for reviewers (report-formats.ts: GitHub annotations, SARIF), and `doctor`
 * (doctor.ts), which looks at the environment every command runs in.
 *
 * It may import the engine, local/, lint/ and schema/; never cli/, construct/ or lambda/.
 *
 * Other parts import its modules directly, so this file exports nothing: it says what the part
 * holds and what it may import.
 *
 * Layering, as test/layering.test.ts reads it: may import engine, lint, local, schema; may load
 * libpg-query, sarif.
 */
