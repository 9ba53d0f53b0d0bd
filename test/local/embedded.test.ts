/**
 * The embedded server left running for other programs (`db start`) and stopped again (`db stop`),
 * whichever process started it. Every server a test starts is stopped after it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/engine/connection.ts';
import {
  embeddedUrl,
  runningEmbedded,
  startDetached,
  startEmbedded,
  stopEmbedded,
} from '../../lib/local/embedded.ts';

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
  const session = await connect({ connectionString: embeddedUrl(port) });
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
