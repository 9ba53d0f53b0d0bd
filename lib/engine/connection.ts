/**
 * Opening the one session a run needs, from a connection string or the standard PG* variables,
 * with errors that say where we tried to connect but never with what password.
 */
import pg from 'pg';
import type { Database } from './database.ts';
import { RdsMigrateError } from './errors.ts';
import { watchForSilence } from './silence-watch.ts';

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

/** How long a connection may take to answer: enough for an Aurora Serverless cluster resuming from zero (~15 s). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** How long a query may go unanswered before the server is asked whether it still answers at all. */
export const DEFAULT_SILENCE_MS = 30_000;

/**
 * Opens a session. `connectionTimeoutMillis` bounds the connect (else libpq's `connect_timeout`
 * in the URL, in seconds; else 30 s); `keepAliveInitialDelayMillis` is how long a query may hear
 * nothing before the server is asked on a new connection whether it still answers (else libpq's
 * `keepalives_idle` in the URL; else 30 s): see silence-watch.ts.
 */
export async function connect(config: pg.ClientConfig, applicationName = 'rds-migrate'): Promise<Connection> {
  const connectMs =
    config.connectionTimeoutMillis ?? urlSeconds(config, 'connect_timeout') ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const silenceMs =
    config.keepAliveInitialDelayMillis ?? urlSeconds(config, 'keepalives_idle') ?? DEFAULT_SILENCE_MS;
  // TCP keepalives from the same idle time: a route that went away is noticed, if late, even between queries.
  const clientConfig: pg.ClientConfig = {
    application_name: applicationName,
    keepAlive: true,
    ...config,
    connectionTimeoutMillis: connectMs,
    // Whole seconds for the kernel: a shorter silence still gets keepalives from 1 s.
    keepAliveInitialDelayMillis: Math.max(1000, silenceMs),
  };
  const client = new pg.Client(clientConfig);
  // An idle client whose server goes away emits 'error'; the next query reports it instead.
  client.on('error', () => undefined);
  const target = describeTarget(config);
  try {
    await client.connect();
  } catch (error) {
    const timedOut = /timeout expired|connection timeout/i.test((error as Error)?.message ?? '');
    throw new ConnectionError(
      `cannot connect to PostgreSQL at ${target}: ${timedOut ? noAnswer(connectMs, config) : safeMessage(error)}`,
    );
  }
  const db = watchForSilence(
    client,
    databaseOf(client),
    clientConfig,
    { silenceMs, probeTimeoutMs: connectMs || DEFAULT_CONNECT_TIMEOUT_MS },
    target,
  );
  return { db, client, close: () => client.end().catch(() => undefined) };
}

function noAnswer(connectMs: number, config: pg.ClientConfig): string {
  const longer = config.connectionString ? '; allow longer with connect_timeout=<seconds> in the URL' : '';
  return (
    `connect timeout, no answer within ${connectMs / 1000} s (a database that is starting, such as an Aurora Serverless cluster ` +
    `resuming from zero capacity, can take 15 s or more: try again${longer})`
  );
}

/** A libpq timeout parameter (seconds) of the connection string, in ms; undefined when absent or 0. */
function urlSeconds(config: pg.ClientConfig, name: string): number | undefined {
  if (!config.connectionString) return undefined;
  try {
    const seconds = Number(new URL(config.connectionString).searchParams.get(name) ?? '');
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
  } catch {
    return undefined;
  }
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
