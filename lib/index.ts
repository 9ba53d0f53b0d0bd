/**
 * `rds-migrate`: the engine API and the types a migration author imports
 * (`import type { MigrationContext } from 'rds-migrate'`). The CDK construct is
 * `rds-migrate/construct` (lib/construct/index.ts); the CLI is bin/cli.ts; the deployed function
 * is lambda/handler.ts, prebuilt into dist/handler. It re-exports the engine and nothing else.
 *
 * Layering, as test/layering.test.ts reads it: may import engine; may load nothing.
 */
export * from './engine/index.ts';
