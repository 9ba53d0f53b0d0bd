/**
 * The schema tools: what the app wants its schema to be, what the migrations build, and the SQL
 * between them.
 *
 * - The wanted schema: a `schema/` SQL folder or Drizzle models (wanted-schema.ts,
 *   drizzle-schema.ts), built on shadow databases (shadow-schema.ts, scratch-database.ts).
 * - The diff: the diff library (schema-diff.ts), our safety rules over its statements
 *   (safe-migrations.ts, which reads them through the parser: diff-statements.ts), renames a person decides (rename-decisions.ts, rename-statements.ts),
 *   and the files it writes (generated-migration.ts); `create --autogenerate` runs them
 *   (autogenerate.ts), making and proving the migrations on a shadow database
 *   (migration-generator.ts), linted with lib/lint.
 * - Drift: `diff` (database-diff.ts) and check's wanted-schema comparison (schema-agreement.ts).
 * - Proofs on a scratch database: the round trip (round-trip.ts, schema-tracker.ts), which check
 *   and squash both run.
 * - `squash` (squash.ts): it rewrites history into the schema the migrations build, and its
 *   proof is these tools' (shadow databases, the diff, the round trip), so it lives with them.
 *
 * It may import the engine, local/ (shadow databases need a server), lint/ and itself, and load
 * pg, libpg-query, @pgkit/migra, drizzle-kit and tsx; never check/, cli/, construct/ or lambda/
 * (check/ and cli/ import it).
 *
 * Other parts import its modules directly, so this file exports nothing: it says what the part
 * holds and what it may import.
 *
 * Layering, as test/layering.test.ts reads it: may import engine, local, lint; may load pg,
 * libpg-query, @pgkit/migra, drizzle-kit, tsx.
 */
