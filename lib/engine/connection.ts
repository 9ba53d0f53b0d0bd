/**
 * Opening the one session a run needs, from a connection string or the standard PG* variables,
 * with errors that say where we tried to connect but never with what password.
 */
import pg from 'pg';
import type { Database } from './database.ts';
import { RdsMigrateError } from './errors.ts';

export interface Connection {
  readonly db: Database;
  readonly client: pg.Client;
  close(): Promise<void>;
}

export class ConnectionError extends RdsMigrateError {
  override readonly name = 'ConnectionError';
}

/** True when the environment names a database: DATABASE_URL, or PGHOST / PGDATABASE. */
export function databaseConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.DATABASE_URL || env.PGHOST || env.PGDATABASE || env.PGSERVICE);
}

export async function connect(config: pg.ClientConfig, applicationName = 'rds-migrate'): Promise<Connection> {
  // TCP keepalives from 30 s idle: a session whose server or route went away is noticed, not waited on.
  const client = new pg.Client({
    application_name: applicationName,
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
    ...config,
  });
  // An idle client whose server goes away emits 'error'; the next query reports it instead.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new ConnectionError(
      `cannot connect to PostgreSQL at ${describeTarget(config)}: ${safeMessage(error)}`,
    );
  }
  return { db: databaseOf(client), client, close: () => client.end().catch(() => undefined) };
}

export function databaseOf(client: pg.ClientBase): Database {
  return {
    query: async (text, values) => {
      const result = await client.query(text, values as unknown[] | undefined);
      // A multi-statement query returns one result per statement; callers want the last.
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      return { rows: last?.rows ?? [], rowCount: last?.rowCount ?? null };
    },
  };
}

/** user@host:port/database, from the config or the PG* defaults pg would use. */
export function describeTarget(config: pg.ClientConfig): string {
  if (config.connectionString) {
    try {
      const url = new URL(config.connectionString);
      return `${decodeURIComponent(url.username) || 'default user'}@${url.hostname}:${url.port || 5432}${url.pathname}`;
    } catch {
      return 'the DATABASE_URL (not a valid URL)';
    }
  }
  const host = config.host ?? process.env.PGHOST ?? 'localhost';
  const port = config.port ?? process.env.PGPORT ?? 5432;
  const database = config.database ?? process.env.PGDATABASE ?? '';
  const user = config.user ?? process.env.PGUSER ?? 'default user';
  return `${user}@${host}:${port}/${database}`;
}

function safeMessage(error: unknown): string {
  const candidate = error as { code?: string; message?: string };
  const message = candidate?.message ?? String(error);
  return candidate?.code && !message.includes(candidate.code) ? `${candidate.code} ${message}` : message;
}
