/**
 * The unsafe-change linter: reads migrations with PostgreSQL's own parser and reports statements
 * that lock or break a live database, each with the safe recipe to use instead.
 *
 * - `lint.ts` reads one SQL text (statements, allow comments) and turns violations into findings;
 *   `lint-walker.ts` walks its statements, `transaction-lint.ts` judges statements of one
 *   transaction together, `plan-lint.ts` the transactions a plan spans across migrations;
 *   `migration-lint.ts` lints a TS migration on the SQL a recording dry run (`recording.ts`) issues.
 * - `model/`: PostgreSQL's lock and rewrite rules: what each statement locks and blocks
 *   (lock-model.ts, lock-modes.ts, alter-table-model.ts per ALTER TABLE subcommand), what
 *   rewrites or scans a table (rewrite-rules.ts, statement-effect.ts), what earlier statements
 *   created (schema-knowledge.ts), relation names and the server version.
 * - `lint-rules.ts`: the rules, each with its id, title, why and fix.
 *
 * It may import the engine and itself, and load libpg-query; never check/, local/, cli/,
 * construct/ or lambda/ (check/ and cli/ import it).
 */
export { LINT_RULES, type LintFinding, type LintRule, type LintRuleId, lintSql } from './lint.ts';
