/**
 * The unsafe-change linter: reads migrations with PostgreSQL's own parser and reports statements
 * that lock or break a live database, each with the safe recipe to use instead.
 *
 * - `lint.ts` reads one SQL text (statements, allow comments) and turns violations into findings;
 *   `lint-walker.ts` walks its statements, `transaction-lint.ts` judges statements of one
 *   transaction together, `plan-lint.ts` the transactions a plan spans across migrations;
 *   `migration-lint.ts` lints a TS migration on the SQL a recording dry run (`recording.ts`) issues.
 * - `model/`: PostgreSQL's lock and rewrite rules: what each statement locks and blocks
 *   (lock-model.ts, with table-effects.ts, index-effects.ts and row-effects.ts per kind of
 *   statement, effect-parts.ts and parse-tree-reading.ts; lock-modes.ts; alter-table-model.ts per
 *   ALTER TABLE subcommand), what rewrites or scans a table (rewrite-rules.ts,
 *   statement-effect.ts), what earlier statements created (schema-knowledge.ts), relation names
 *   and the server version.
 * - `rules/`: one module per rule, holding its metadata (id, title, why, fix), how it is found
 *   (`detect`, see rule.ts) and its examples; `rules/index.ts` registers each (one RULES entry,
 *   which is its import). `lint-rules.ts` gives their metadata to findings and reports;
 *   `analysed-statement.ts`, `transaction-pairs.ts` and `lock-queue.ts` are what rules read.
 *
 * Adding a rule: one new file `rules/<rule-id>.ts` exporting `{ id, title, why, fix, detect,
 * examples } as const satisfies RuleModule`, and its one line in `rules/index.ts` (the RULES
 * entry, which is its import). A rule over a statement's text
 * (`detect: { by: 'statement', check }`) or over statements of one transaction
 * (`by: 'transaction'`) holds its detection and its examples (test/check/lint.test.ts runs them;
 * test/lint/rule-registry.test.ts holds the registry to being the only list). A rule about what PostgreSQL locks, rewrites or scans is named by the
 * model on the work it finds (`by: 'lock model'`): its module adds its id to the model's
 * `ModelRuleIds` (declaration merging) and the model's entry names it where it applies.
 *
 * It may import the engine and itself, and load libpg-query; never check/, local/, cli/,
 * construct/ or lambda/ (check/ and cli/ import it).
 *
 * Other parts import its modules directly, so this file exports nothing: it says what the part
 * holds and what it may import.
 *
 * Layering, as test/layering.test.ts reads it: may import engine; may load libpg-query.
 */
