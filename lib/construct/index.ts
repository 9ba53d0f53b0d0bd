/**
 * `rds-migrate/construct`: the CDK construct that migrates an RDS PostgreSQL instance or Aurora
 * cluster on every `cdk deploy`, and rolls the schema back with the stack.
 *
 * The construct part of the package: database-migrations (the wiring), props, target (instance
 * or cluster), permissions, logs, networking, nag (cdk-nag acknowledgments), bundling (the function's
 * asset and the synth-time check). It may import the engine (lib/engine) and aws-cdk-lib; never
 * the CLI, the checks or the local server (the synth-time check runs the CLI in a child process).
 *
 * Layering, as test/layering.test.ts reads it: may import engine; may load aws-cdk-lib, constructs,
 * esbuild.
 */

export { HandlerMissingError, MigrationsCheckError } from './bundling.ts';
export { DatabaseMigrations } from './database-migrations.ts';
export { FleetTargets } from './fleet/targets.ts';
export {
  FleetMigrations,
  type FleetMigrationsProps,
  type FleetRolloutOptions,
  type FleetStageOptions,
} from './fleet-migrations.ts';
export type { MigrationLogsOptions } from './logs.ts';
export {
  type DatabaseMigrationsProps,
  DatabaseMigrationsPropsError,
  type IamAuthenticationOptions,
  type ManualOperationsOptions,
  type MigrationSnapshotOptions,
  type MigrationTimeouts,
  type SnapshotPolicy,
} from './props.ts';
export { MANAGED_SNAPSHOT_TAG } from './target.ts';
