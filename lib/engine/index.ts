/**
 * The engine: what a migration is and where it comes from (migration, loader), the revision graph
 * and pure planning over it (graph, plan), and the only code that changes a database (runner,
 * plan-run, step-runner), with the history it keeps (history, history-format), the advisory lock
 * and the deploy's run lease, the migration context (`ctx.sql`, `ctx.batch`) and status.
 *
 * It may import only itself and its libraries (pg, libpg-query, esbuild and tsx to load TS
 * migrations): never lint/, schema/, check/, cli/, local/, construct/ or lambda/. Side effects enter through small interfaces (Database, SnapshotService,
 * Clock) so tests and the deployed function can drive it. This is the public API of the package
 * (`import ... from 'rds-migrate'`, re-exported by lib/index.ts).
 *
 * Layering, as test/layering.test.ts reads it: may import nothing else; may load pg, libpg-query,
 * esbuild, tsx.
 */
export * from './errors.ts';
export { RevisionGraph } from './graph.ts';
export { History, type HistoryFormat } from './history.ts';
export { CURRENT_FORMAT } from './history-format.ts';
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
export { type Intent, migrate, type RunOptions, type RunReport, type StepResult } from './runner.ts';
export { readStatus, type Status } from './status.ts';
export { RELEASE } from './version.ts';
