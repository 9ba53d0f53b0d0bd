/**
 * The PostgreSQL server a command works with, found the same way by every command:
 * `--database-url`, then DATABASE_URL, then the standard PG* variables, else the embedded
 * PostgreSQL whose data lives in `.rds-migrate/` of the project.
 */
import { join, relative } from 'node:path';
import type pg from 'pg';
import {
  type Connection,
  ConnectionError,
  connect,
  databaseConfigured,
  describeTarget,
} from '../engine/connection.ts';
import { UsageError } from '../engine/errors.ts';
import { printable } from '../engine/printable.ts';
import { binariesPackage, startEmbedded } from './embedded.ts';
import { pinMismatch } from './postgres-major.ts';
import { readProjectConfig } from './project-config.ts';

export interface ServerOptions {
  /** @default DATABASE_URL, then the PG* variables, then the embedded server in `<cwd>/.rds-migrate` */
  readonly databaseUrl?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface Server {
  /** Where the user's database is, for messages (never with a password). */
  readonly target: string;
  /**
   * What the user should hear before the command's own output: that the embedded server is not
   * the major the project pins. Empty for a configured server (doctor and check compare those).
   */
  readonly warnings: readonly string[];
  /** True for the embedded PostgreSQL of the project, false for a configured database. */
  readonly embedded: boolean;
  /** Connection settings for the user's database, or another database of the same server. */
  config(database?: string): pg.ClientConfig;
  /** A session on the user's database, or on another database of the same server. */
  connect(database?: string): Promise<Connection>;
  /** Stops the embedded server if this call started it. */
  stop(): Promise<void>;
}

/** The project folder the embedded server keeps its data in. */
const EMBEDDED_FOLDER = '.rds-migrate';

/** The embedded server's data folder: `.rds-migrate/pgdata` of the project. */
export function embeddedDataDir(cwd: string): string {
  return join(cwd, EMBEDDED_FOLDER, 'pgdata');
}

/** The configured database's connection settings, or undefined when none is (the embedded server). */
export function configuredDatabase(options: ServerOptions): pg.ClientConfig | undefined {
  const url = options.databaseUrl ?? options.env.DATABASE_URL;
  if (url) return { connectionString: checkedUrl(url, urlSource(options)) };
  return databaseConfigured(options.env) ? {} : undefined;
}

/** Where the configured database came from, as the user set it. */
function urlSource(options: ServerOptions): string {
  if (options.databaseUrl !== undefined) return '--database-url';
  return options.env.DATABASE_URL ? 'DATABASE_URL' : 'the PG* variables';
}

/** Schemes pg reads as a PostgreSQL connection string. */
const POSTGRES_SCHEMES = new Set(['postgres:', 'postgresql:', 'socket:']);

/**
 * `url`, refused unless it is a PostgreSQL URL: pg would take `base` for a host name and
 * `postgress://` for a socket path, and fail later with a message about something else. The error
 * shows the scheme only: the rest may hold a password.
 */
function checkedUrl(url: string, source: string): string {
  let scheme: string | undefined;
  try {
    scheme = new URL(url).protocol;
  } catch {
    scheme = undefined;
  }
  if (scheme && POSTGRES_SCHEMES.has(scheme.toLowerCase())) return url;
  const found = scheme ? `it starts with '${printable(scheme)}//'` : 'it is not a URL';
  throw new UsageError(
    `${source} is not a PostgreSQL URL (${found}): write postgres://user:password@host:5432/database, ` +
      `or unset it to use the embedded PostgreSQL in ${EMBEDDED_FOLDER}/`,
  );
}

/** What to check when a configured database cannot be reached, by what went wrong. */
function connectHint(message: string, source: string): string {
  const where = source === 'the PG* variables' ? 'PGHOST and PGPORT' : `the host and port of ${source}`;
  const unset =
    source === '--database-url'
      ? 'leave out --database-url'
      : `unset ${source === 'DATABASE_URL' ? source : 'them'}`;
  const instead = `or ${unset} to use the embedded PostgreSQL in ${EMBEDDED_FOLDER}/`;
  if (/ECONNREFUSED/.test(message))
    return `nothing accepts connections there: is the server running? Check ${where}, ${instead}`;
  if (/ENOTFOUND|EAI_AGAIN/.test(message)) return `no such host: check ${where}, ${instead}`;
  if (/ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|timeout/i.test(message))
    return `no answer: check ${where}, and that a firewall or security group lets you in`;
  if (/password authentication failed|28P01|no pg_hba\.conf entry/i.test(message))
    return `the server refused the user or password: check those of ${source}`;
  if (/database "[^"]*" does not exist|3D000/.test(message))
    return `create the database (createdb <name>), or name one that exists in ${source}`;
  return '';
}

export async function openServer(options: ServerOptions): Promise<Server> {
  const config = configuredDatabase(options);
  if (config) {
    const source = urlSource(options);
    const configFor = (database?: string) => (database ? onDatabase(config, database) : config);
    return {
      target: describeTarget(config),
      warnings: [],
      embedded: false,
      config: configFor,
      connect: async (database) => {
        try {
          return await connect(configFor(database), 'rds-migrate');
        } catch (error) {
          if (!(error instanceof ConnectionError)) throw error;
          const hint = connectHint(error.message, source);
          throw hint ? new ConnectionError(`${error.message}. ${hint}`) : error;
        }
      },
      stop: async () => undefined,
    };
  }
  const dataDir = embeddedDataDir(options.cwd);
  // Read first: a config file that is wrong fails before a server starts.
  const { postgres: pinned } = await readProjectConfig(options.cwd);
  const server = await startEmbedded({ dataDir });
  const warning = pinMismatch(pinned, server.major, 'the embedded server', binariesPackage());
  return {
    target: `embedded PostgreSQL ${server.major} in ${relative(options.cwd, dataDir)}`,
    warnings: warning ? [warning] : [],
    embedded: true,
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
