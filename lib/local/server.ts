/**
 * The PostgreSQL server a command works with, found the same way by every command:
 * `--database-url`, then DATABASE_URL, then the standard PG* variables, else the embedded
 * PostgreSQL whose data lives in `.rds-migrate/` of the project.
 */
import { join, relative } from 'node:path';
import type pg from 'pg';
import { type Connection, connect, databaseConfigured, describeTarget } from '../engine/connection.ts';
import { startEmbedded } from './embedded.ts';

export interface ServerOptions {
  /** @default DATABASE_URL, then the PG* variables, then the embedded server in `<cwd>/.rds-migrate` */
  readonly databaseUrl?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface Server {
  /** Where the user's database is, for messages (never with a password). */
  readonly target: string;
  /** Connection settings for the user's database, or another database of the same server. */
  config(database?: string): pg.ClientConfig;
  /** A session on the user's database, or on another database of the same server. */
  connect(database?: string): Promise<Connection>;
  /** Stops the embedded server if this call started it. */
  stop(): Promise<void>;
}

/** The embedded server's data folder: `.rds-migrate/pgdata` of the project. */
export function embeddedDataDir(cwd: string): string {
  return join(cwd, '.rds-migrate', 'pgdata');
}

/** The configured database's connection settings, or undefined when none is (the embedded server). */
export function configuredDatabase(options: ServerOptions): pg.ClientConfig | undefined {
  const url = options.databaseUrl ?? options.env.DATABASE_URL;
  if (url) return { connectionString: url };
  return databaseConfigured(options.env) ? {} : undefined;
}

export async function openServer(options: ServerOptions): Promise<Server> {
  const config = configuredDatabase(options);
  if (config) {
    const configFor = (database?: string) => (database ? onDatabase(config, database) : config);
    return {
      target: describeTarget(config),
      config: configFor,
      connect: (database) => connect(configFor(database), 'rds-migrate'),
      stop: async () => undefined,
    };
  }
  const dataDir = embeddedDataDir(options.cwd);
  const server = await startEmbedded({ dataDir });
  return {
    target: `embedded PostgreSQL in ${relative(options.cwd, dataDir)}`,
    config: (database) => ({ connectionString: server.url(database) }),
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
