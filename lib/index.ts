/**
 * The public API of rds-migrate (`import ... from 'rds-migrate'`): the types a migration author
 * imports, and the engine. The CDK construct is `rds-migrate/construct`.
 */

export * from './errors.ts';
export { RevisionGraph } from './graph.ts';
export { History } from './history.ts';
export { FileMigrationProvider, loadMigrations } from './loader.ts';
export {
  BASE,
  type BatchOptions,
  type BatchReport,
  type Migration,
  type MigrationContext,
  type MigrationLogger,
  type MigrationProvider,
  type MigrationTimeouts,
  type Revision,
  type Row,
  type SqlTag,
} from './migration.ts';
export { planDowngrade, planTo, planUpgrade } from './plan.ts';
export { type Intent, migrate, type RunOptions, type RunReport } from './runner.ts';
export { readStatus, type Status } from './status.ts';
