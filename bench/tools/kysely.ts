/**
 * kysely's Migrator with an in-memory provider (no files to load): each migration runs the
 * workload's SQL through `sql.raw`. On PostgreSQL the Migrator takes a session advisory lock
 * and runs every pending migration of a call in ONE transaction (supportsTransactionalDdl).
 */
import {
  Kysely,
  type Migration,
  type MigrationResultSet,
  Migrator,
  NO_MIGRATIONS,
  PostgresDialect,
  sql,
} from 'kysely';
import pg from 'pg';
import type { Tool } from './tool.ts';

export const kysely: Tool = {
  name: 'kysely Migrator',
  transactions: 'one transaction per migrateToLatest/migrateTo call (all pending migrations together)',
  async prepare({ url, migrations, applied = 0 }) {
    const pool = new pg.Pool({ connectionString: url, max: 1, application_name: 'bench-kysely' });
    // An idle pooled client whose session ends emits 'error' on the pool; the next query reports it.
    pool.on('error', () => undefined);
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
    // Open the pool's one connection before any clock starts, as every other tool is connected.
    await sql`SELECT 1`.execute(db);
    const provided: Record<string, Migration> = {};
    for (const migration of migrations) {
      provided[`${migration.ordinal}_bench`] = {
        up: async (trx) => {
          await sql.raw(migration.up).execute(trx);
        },
        down: async (trx) => {
          await sql.raw(migration.down).execute(trx);
        },
      };
    }
    const migrator = new Migrator({ db, provider: { getMigrations: async () => provided } });
    const check = (result: MigrationResultSet, expected: number) => {
      if (result.error) throw result.error;
      const done = result.results?.filter((step) => step.status === 'Success').length ?? 0;
      if (done !== expected) throw new Error(`kysely ran ${done} migrations, expected ${expected}`);
      return undefined;
    };
    return {
      phases: {
        up: async () => check(await migrator.migrateToLatest(), migrations.length - applied),
        'no-op up': async () => check(await migrator.migrateToLatest(), 0),
        down: async () => check(await migrator.migrateTo(NO_MIGRATIONS), migrations.length),
      },
      close: () => db.destroy(),
    };
  },
};
