/**
 * The server `check` works with, and throwaway databases on it. The server is found the way
 * every command finds its database (`--database-url`, DATABASE_URL, the PG* variables, else the
 * embedded PostgreSQL in `.rds-migrate/`); the round trip then runs in a database of its own,
 * created for it and dropped after, never in the user's.
 */
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import type pg from 'pg';
import { type Connection, connect, databaseConfigured, describeTarget } from './connection.ts';
import type { Database } from './database.ts';
import { startEmbedded } from './embedded.ts';
import { RdsMigrateError } from './errors.ts';

export const SCRATCH_DATABASE_PREFIX = 'rds_migrate_check_';

export interface ServerOptions {
  /** @default DATABASE_URL, then the PG* variables, then the embedded server in `<cwd>/.rds-migrate` */
  readonly databaseUrl?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface Server {
  /** Where the user's database is, for messages (never with a password). */
  readonly target: string;
  /** A session on the user's database, or on another database of the same server. */
  connect(database?: string): Promise<Connection>;
  /** Stops the embedded server if this call started it. */
  stop(): Promise<void>;
}

/** A scratch database could not be made: the message says what to grant or which flag to use. */
export class ScratchDatabaseError extends RdsMigrateError {
  override readonly name = 'ScratchDatabaseError';
}

export async function openServer(options: ServerOptions): Promise<Server> {
  const url = options.databaseUrl ?? options.env.DATABASE_URL;
  if (url || databaseConfigured(options.env)) {
    const config: pg.ClientConfig = url ? { connectionString: url } : {};
    return {
      target: describeTarget(config),
      connect: (database) => connect(database ? onDatabase(config, database) : config, 'rds-migrate'),
      stop: async () => undefined,
    };
  }
  const dataDir = join(options.cwd, '.rds-migrate', 'pgdata');
  const server = await startEmbedded({ dataDir });
  return {
    target: `embedded PostgreSQL in ${relative(options.cwd, dataDir)}`,
    connect: (database) => connect({ connectionString: server.url(database) }, 'rds-migrate'),
    stop: () => server.stop(),
  };
}

/** The same connection settings, for another database of the server. */
function onDatabase(config: pg.ClientConfig, database: string): pg.ClientConfig {
  if (!config.connectionString) return { ...config, database };
  // pg lets the connection string win over a `database` field, so rewrite the string itself.
  const url = new URL(config.connectionString);
  url.pathname = `/${encodeURIComponent(database)}`;
  return { ...config, connectionString: url.toString() };
}

export interface ScratchDatabase {
  readonly name: string;
  readonly db: Database;
}

/**
 * Runs `body` on a new, empty database `rds_migrate_check_<random>` of the server, and drops it
 * after, whatever happened. `onLeftover` hears of a scratch database that could not be dropped.
 */
export async function withScratchDatabase<T>(
  server: Server,
  body: (scratch: ScratchDatabase) => Promise<T>,
  onLeftover: (message: string) => void = () => undefined,
): Promise<T> {
  const name = `${SCRATCH_DATABASE_PREFIX}${randomBytes(6).toString('hex')}`;
  const admin = await server.connect();
  try {
    await admin.db.query(`CREATE DATABASE ${name}`).catch((error: Error) => {
      throw new ScratchDatabaseError(
        `cannot create the scratch database ${name} on ${server.target}: ${error.message}; ` +
          'grant this user CREATEDB, point --database-url at a server where it may create databases, ' +
          'or run check --skip-round-trip',
      );
    });
    try {
      const scratch = await server.connect(name);
      try {
        return await body({ name, db: scratch.db });
      } finally {
        await scratch.close();
      }
    } finally {
      await admin.db.query(`DROP DATABASE IF EXISTS ${name}`).catch((error: Error) => {
        onLeftover(`could not drop the scratch database ${name} (${error.message}); drop it by hand`);
      });
    }
  } finally {
    await admin.close();
  }
}
