/**
 * kill -9 of a process walking a background migration's ranges, mid-batch (after the batch's
 * UPDATE, before its COMMIT): the batch's transaction rolls back, the next run resumes every
 * range from its checkpoint, and each row is processed exactly once. The deployed state machine's
 * Lambda tasks run the same range walks; a Lambda killed mid-batch is this case.
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const repo = resolve(import.meta.dirname, '../..');
const SLOW = join(repo, 'test', 'fixtures', 'background', 'slow');
const ROWS = 6000;
let database: TestDatabase;
let connection: Connection;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('observer');
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-background-kill-'));
  await cp(SLOW, join(project, 'migrations'), { recursive: true });
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Kills `up` once `batchesFirst` batches committed and one is sleeping uncommitted; true when it caught one. */
async function killMidBatch(batchesFirst: number): Promise<boolean> {
  const victim = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repo, 'bin/cli.ts'),
      'up',
      '-d',
      join(project, 'migrations'),
      '--ranges',
      '4',
      '--concurrency',
      '2',
    ],
    {
      // tsx resolves from the repository; one process, so the kill leaves nothing running.
      cwd: repo,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database.url },
      stdio: 'ignore',
    },
  );
  const exited = new Promise<void>((done) => victim.once('exit', () => done()));
  // Mid-batch: some batches committed, and a batch sleeping after its UPDATE, uncommitted.
  let caught = false;
  for (let tries = 0; tries < 1000 && !caught; tries++) {
    const [state] = (
      await connection.db.query<{ done: string; sleeping: string }>(
        `SELECT (SELECT coalesce(sum(batches), 0) FROM rds_migrate.checkpoints) AS done,
                (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                   AND state = 'active' AND query LIKE '%slow_batch%' AND pid <> pg_backend_pid()) AS sleeping
         WHERE to_regclass('rds_migrate.checkpoints') IS NOT NULL`,
      )
    ).rows;
    caught = Boolean(state && Number(state.done) >= batchesFirst && Number(state.sleeping) > 0);
    if (!caught) await sleep(10);
  }
  victim.kill('SIGKILL');
  await exited;
  // The server ends the killed sessions (rolling their batches back) once it notices.
  for (let tries = 0; tries < 500; tries++) {
    const left = await connection.db.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rds-migrate'`,
    );
    if (left.rows.length === 0) return caught;
    await sleep(20);
  }
  return caught;
}

async function touched(): Promise<Record<string, number>> {
  const result = await connection.db.query<{ touched: number; rows: string }>(
    'SELECT touched, count(*) AS rows FROM accounts GROUP BY touched ORDER BY touched',
  );
  return Object.fromEntries(result.rows.map((row) => [String(row.touched), Number(row.rows)]));
}

describe('kill -9 of a background run mid-batch', () => {
  it.each([1, 4])(
    'loses nothing and does no batch twice (killed after %i batches)',
    async (batchesFirst) => {
      const cli = (...argv: string[]) =>
        runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
      expect((await cli('up', 'ac01e0a1b2c3')).code).toBe(EXIT.ok);
      await connection.db.query(
        `INSERT INTO accounts (email) SELECT 'User' || i || '@Example.COM' FROM generate_series(1, $1) AS i`,
        [ROWS],
      );
      expect(await killMidBatch(batchesFirst)).toBe(true);
      const partial = await touched();
      expect(partial['1'] ?? 0).toBeGreaterThan(0);
      expect(partial['0'] ?? 0).toBeGreaterThan(0);
      expect(Object.keys(partial).every((times) => times === '0' || times === '1')).toBe(true);

      const resumed = await cli('up', '--ranges', '4', '--concurrency', '2');
      expect(resumed.code).toBe(EXIT.ok);
      expect(resumed.stdout).toMatch(/background a1bb0e0a1b2c: .*completed/);
      expect(await touched()).toEqual({ 1: ROWS });
      const runs = await connection.db.query('SELECT state, completed_at FROM rds_migrate.background_runs');
      expect(runs.rows).toMatchObject([{ state: 'completed' }]);
    },
    60_000,
  );
});

describe('Ctrl-C of up walking a background run', () => {
  it('prints the command that goes on from the checkpoints, and that command finishes the run', async () => {
    const cli = (...argv: string[]) =>
      runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
    expect((await cli('up', 'ac01e0a1b2c3')).code).toBe(EXIT.ok);
    await connection.db.query(
      `INSERT INTO accounts (email) SELECT 'User' || i || '@Example.COM' FROM generate_series(1, $1) AS i`,
      [ROWS],
    );
    const dir = join(project, 'migrations');
    const victim = spawn(
      process.execPath,
      ['--import', 'tsx', join(repo, 'bin/cli.ts'), 'up', '-d', dir, '--ranges', '4', '--concurrency', '2'],
      {
        cwd: repo,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database.url },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    victim.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((done) =>
      victim.once('exit', (_code, signal) => done(signal)),
    );
    // Once it showed progress, as a person watching it would press Ctrl-C.
    for (let tries = 0; tries < 1500 && !stderr.includes('info: background a1bb0e0a1b2c:'); tries++)
      await sleep(10);
    victim.kill('SIGINT');
    expect(await exited).toBe('SIGINT');
    expect(stderr).toMatch(/interrupted: background a1bb0e0a1b2c stopped at \d of 4 ranges done/);
    const command = /Go on from there with:\n {2}(.+)\n/.exec(stderr)?.[1];
    expect(command).toBe(`rds-migrate up a1bb0e0a1b2c -d ${dir} --ranges 4 --concurrency 2`);

    const resumed = await cli(...(command ?? '').split(' ').slice(1));
    expect(resumed.code).toBe(EXIT.ok);
    expect(await touched()).toEqual({ 1: ROWS });
  }, 60_000);
});
