/** The public API of rds-migrate: the types a migration author imports, the engine, the construct. */

export * from './errors.ts';
export { RevisionGraph } from './graph.ts';
export { History } from './history.ts';
export { FileMigrationProvider, loadMigrations } from './loader.ts';
export type {
  BatchOptions,
  BatchReport,
  Migration,
  MigrationContext,
  MigrationLogger,
  SqlTag,
} from './migration.ts';
export { planDowngrade, planTo, planUpgrade } from './plan.ts';
export { type Intent, migrate, type RunOptions, type RunReport } from './runner.ts';
export { readStatus, type Status } from './status.ts';
