/**
 * `rds-migrate`: the engine API and the types a migration author imports
 * (`import type { MigrationContext } from 'rds-migrate'`). The CDK construct is
 * `rds-migrate/construct` (lib/construct/index.ts); the CLI is bin/cli.ts; the deployed function
 * is lambda/handler.ts, prebuilt into dist/handler.
 */
export * from './engine/index.ts';
