import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { passwordFile, readPassword } from '../../lib/local/password.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

let database: TestDatabase;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-cli-'));
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, {
    env: { DATABASE_URL: database.url },
    cwd: project,
  });
}

async function json<T = Record<string, unknown>>(...argv: string[]): Promise<T> {
  const result = await cli(...argv, '--json');
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as T;
}

async function writeMigration(name: string, text: string): Promise<void> {
  await writeFile(join(project, 'migrations', name), text);
}

describe('rds-migrate --version', () => {
  it('prints the release, as package.json names it', async () => {
    const manifest = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8'));
    const result = await cli('--version');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout.trim()).toBe(manifest.version);
  });

  it('answers from the entry itself before the program loads, and only when asked for nothing else', async () => {
    const manifest = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8'));
    const entry = [join(repo, 'node_modules/tsx/dist/cli.mjs'), join(repo, 'bin/cli.ts')];
    for (const flag of ['--version', '-V']) {
      const answered = await run(process.execPath, [...entry, flag], { cwd: project });
      expect(answered.stdout).toBe(`${manifest.version}\n`);
      expect(answered.stderr).toBe('');
    }
    // With anything else on the line, the program answers, the same way.
    const program = await run(process.execPath, [...entry, '--no-color', '--version'], { cwd: project });
    expect(program.stdout).toBe(`${manifest.version}\n`);
  });
});

describe('rds-migrate create', () => {
  it('writes a SQL migration on top of the head, then a TS one on top of that', async () => {
    const first = await cli('create', 'add', 'users', 'table');
    expect(first.code).toBe(EXIT.ok);
    const second = await cli('create', '--ts', 'backfill users');
    expect(second.code).toBe(EXIT.ok);
    const files = (await readdir(join(project, 'migrations'))).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^\d{12}_add_users_table\.sql$/);
    expect(files[1]).toMatch(/^\d{12}_backfill_users\.ts$/);
    const sql = await readFile(join(project, 'migrations', files[0] as string), 'utf8');
    const revision = /-- revision: ([0-9a-f]{12})/.exec(sql)?.[1];
    expect(sql).toContain('-- down_revision: none');
    const ts = await readFile(join(project, 'migrations', files[1] as string), 'utf8');
    expect(ts).toContain(`downRevision: '${revision}'`);
    const heads = await json<{ heads: { revision: string }[] }>('heads');
    expect(heads.heads).toHaveLength(1);
  });
});

describe('rds-migrate up --lock-retries', () => {
  it('tries a migration again after a lock timeout as often as it says, then names the holder', async () => {
    await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
    expect((await cli('up')).code).toBe(EXIT.ok);
    await writeMigration(
      '202601010004_busy.sql',
      '-- revision: cccc00000004\n-- down_revision: cccc00000003\n-- lock_timeout: 200ms\n\n' +
        '-- migrate:up\nALTER TABLE settings ADD COLUMN busy int;\n\n-- migrate:down\nALTER TABLE settings DROP COLUMN busy;\n',
    );
    const holder = await database.connect('reporting job');
    await holder.db.query('BEGIN');
    await holder.db.query('SELECT * FROM settings');
    const result = await cli('up', '--lock-retries', '1');
    await holder.db.query('ROLLBACK');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toMatch(/timed out waiting for a lock 2 times/);
    expect(result.stderr).toContain("(app 'reporting job', idle in transaction: SELECT * FROM settings)");
    expect(result.stderr).toMatch(/warning: lock timeout: waiting to try again/);
  });

  it('takes a whole number', async () => {
    await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
    const result = await cli('up', '--lock-retries', 'many');
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('--lock-retries many: give a whole number');
  });
});

describe('rds-migrate up, status, down', () => {
  beforeEach(async () => {
    await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
  });

  it('applies, reports status as JSON, and reverts one step', async () => {
    const before = await json<{ pending: unknown[]; current: string[] }>('status');
    expect(before.current).toEqual([]);
    expect(before.pending).toHaveLength(3);

    const up = await cli('up');
    expect(up.code).toBe(EXIT.ok);
    expect(up.stdout).toContain('base -> cccc00000003: 3 migrations in 1 transaction');

    const after = await json<{ pending: unknown[]; current: string[]; upToDate: boolean }>('status');
    expect(after).toMatchObject({ current: ['cccc00000003'], pending: [], upToDate: true });
    expect(await json('current')).toEqual({ current: ['cccc00000003'] });

    const down = await cli('down');
    expect(down.code).toBe(EXIT.ok);
    expect(await json('current')).toEqual({ current: ['cccc00000002'] });
    expect((await cli('down', 'base')).code).toBe(EXIT.ok);
    expect(await json('current')).toEqual({ current: [] });
  });

  it('passes -x context arguments to migrations', async () => {
    expect((await cli('up', '-x', 'greeting=hello there')).code).toBe(EXIT.ok);
    const connection = await database.connect();
    const rows = await connection.db.query<{ value: string }>('SELECT value FROM notes');
    expect(rows.rows).toEqual([{ value: 'hello there' }]);
  });

  it('lists history and shows one revision as JSON', async () => {
    await cli('up', 'cccc00000002');
    const history = await json<{ revisions: { revision: string; applied: boolean }[]; log: unknown[] }>(
      'history',
    );
    expect(history.revisions.map((entry) => [entry.revision, entry.applied])).toEqual([
      ['cccc00000003', false],
      ['cccc00000002', true],
      ['cccc00000001', true],
    ]);
    expect(history.log).toHaveLength(2);
    const shown = await json<{ revision: string; parents: string[]; up: string; applied: boolean }>(
      'show',
      'cccc00000002',
    );
    expect(shown).toMatchObject({ revision: 'cccc00000002', parents: ['cccc00000001'], applied: true });
    expect(shown.up).toContain('CREATE TABLE notes');
    const verbose = await cli('history', '--verbose');
    expect(verbose.stdout).toContain('log (newest first):');
  });

  it('stamps without running SQL', async () => {
    expect((await cli('stamp', 'head')).code).toBe(EXIT.ok);
    expect(await json('current')).toEqual({ current: ['cccc00000003'] });
    const connection = await database.connect();
    const tables = await connection.db.query(`SELECT 1 FROM pg_tables WHERE tablename = 'notes'`);
    expect(tables.rows).toEqual([]);
  });

  it('exits 1 with one line naming the revision when a migration fails, and leaves the database as it was', async () => {
    await writeMigration(
      '209901010000_broken.sql',
      '-- revision: cccc00000004\n-- down_revision: cccc00000003\n\n-- migrate:up\nSELECT * FROM no_such_table;\n\n-- migrate:down\n',
    );
    const result = await cli('up');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('cccc00000004');
    expect(result.stderr).toContain('42P01');
    expect(await json('current')).toEqual({ current: [] });
  });

  it('exits 1 on drift with both checksums', async () => {
    await cli('up');
    const file = join(project, 'migrations', '202601010002_notes.sql');
    await writeFile(file, `${await readFile(file, 'utf8')}\n-- edited after it was applied\n`);
    const result = await cli('up');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toMatch(
      /cccc00000002 .* changed after it was applied: applied checksum [0-9a-f]{64}, file checksum [0-9a-f]{64}/,
    );
  });

  it('exits 2 on bad usage and 3 when another run holds the lock', async () => {
    expect((await cli('frobnicate')).code).toBe(EXIT.usage);
    const badArg = await cli('up', '-x', 'novalue');
    expect(badArg.code).toBe(EXIT.usage);
    expect(badArg.stderr).toContain('key=value');

    const holder = await database.connect();
    await holder.db.query('SELECT pg_advisory_lock($1, hashtext($2))', [0x52444d, 'rds-migrate:rds_migrate']);
    const locked = await cli('up', '--lock-wait', '0.2');
    expect(locked.code).toBe(EXIT.locked);
    expect(locked.stderr).toContain('another rds-migrate run holds the migration lock');
  });

  it('merges two heads into one', async () => {
    await writeMigration(
      '202601010004_branch.sql',
      '-- revision: cccc00000004\n-- down_revision: cccc00000002\n\n-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n',
    );
    const refused = await cli('up');
    expect(refused.code).toBe(EXIT.failed);
    expect(refused.stderr).toContain('merge');
    const merged = await cli('merge', '-m', 'merge heads');
    expect(merged.code).toBe(EXIT.ok);
    const heads = await json<{ heads: { revision: string }[] }>('heads');
    expect(heads.heads).toHaveLength(1);
    expect((await cli('up')).code).toBe(EXIT.ok);
    expect((await cli('down', 'base')).code).toBe(EXIT.ok);
  });
});

describe('what up says, and refuses, before it runs', () => {
  beforeEach(async () => {
    await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
  });

  const header = (revision: string, parent: string) =>
    `-- revision: ${revision}\n-- down_revision: ${parent}\n-- message: ${revision}\n\n-- migrate:up\n`;

  it('refuses an allow line awaiting its reason, applying nothing of the plan, and says what to do', async () => {
    expect((await cli('up')).code).toBe(EXIT.ok);
    const connection = await database.connect();
    await connection.db.query(`INSERT INTO settings VALUES ('theme', 'dark'), ('lang', 'en')`);
    await writeMigration(
      '202601010004_index.sql',
      `${header('cccc00000004', 'cccc00000003')}CREATE INDEX settings_value ON settings (value);\n\n-- migrate:down\nDROP INDEX settings_value;\n`,
    );
    await writeMigration(
      '202601010005_rename.sql',
      `${header('cccc00000005', 'cccc00000004')}-- rds-migrate:allow drop-column\nALTER TABLE settings DROP COLUMN value;\nALTER TABLE settings ADD COLUMN setting text;\n\n-- migrate:down\nSELECT 1;\n`,
    );
    const refused = await cli('up');
    expect(refused.code).toBe(EXIT.failed);
    expect(refused.stderr).toContain('nothing was applied: an allow line awaits its reason');
    expect(refused.stderr).toContain(
      '  202601010005_rename.sql:6: -- rds-migrate:allow drop-column (no reason)',
    );
    expect(refused.stderr).toContain('-- rds-migrate:allow <rule-id> <why it is safe here>');
    expect(await json('current')).toEqual({ current: ['cccc00000003'] });
    const rows = await connection.db.query('SELECT name, value FROM settings ORDER BY name');
    expect(rows.rows).toEqual([
      { name: 'lang', value: 'en' },
      { name: 'theme', value: 'dark' },
    ]);
  });

  it("prints check's findings, an empty up section and a missing down step as warnings, even with --quiet", async () => {
    await writeMigration(
      '202601010004_index.sql',
      `${header('cccc00000004', 'cccc00000003')}CREATE INDEX notes_value ON notes (value);\n\n-- migrate:down\nDROP INDEX notes_value;\n`,
    );
    await writeMigration(
      '202601010005_empty.sql',
      `${header('cccc00000005', 'cccc00000004')}-- nothing yet\n\n-- migrate:down\n`,
    );
    await writeMigration(
      '202601010006_no_down.sql',
      `${header('cccc00000006', 'cccc00000005')}CREATE TABLE later (id int);\n`,
    );
    const up = await cli('up', '--quiet');
    expect(up.code).toBe(EXIT.ok);
    expect(up.stderr).toContain('warning: check finds a problem in what is about to run; it runs anyway');
    expect(up.stderr).toMatch(
      /migrations\/202601010004_index\.sql:6: revision cccc00000004, up: lint create-index-non-concurrently: /,
    );
    expect(up.stderr).toContain('fix: ');
    expect(up.stderr).toContain('202601010005_empty.sql has no statement in its up section');
    expect(up.stderr).toContain('202601010006_no_down.sql has no down step');
    expect(await json('current')).toEqual({ current: ['cccc00000006'] });
    // What is already applied is not warned of again.
    expect((await cli('up')).stderr).toBe('');
  });
});

describe('what migrations log during up', () => {
  beforeEach(async () => {
    await cp(join(repo, 'migrations'), join(project, 'migrations'), { recursive: true });
  });

  it("prints ctx.log lines on stderr, once, beside the run report: the seed's 'dev_data is not true'", async () => {
    const result = await cli('up');
    expect(result.code).toBe(EXIT.ok);
    // Each line names the migration that wrote it.
    expect(result.stderr).toContain('info: dev_data is not true: no sample rows (revision f4b1e6a2c9d8)\n');
    expect(result.stderr).toContain('info: normalized prices (revision d2f86b3e5a17, rows 0, batches 0)\n');
    // The run report already lists every step: the runner's per-step 'migrated' is not repeated.
    expect(result.stderr).not.toContain('migrated');
    expect(result.stdout).toContain('applied  f4b1e6a2c9d8');
  });

  it('keeps stdout parseable with --json: the log lines go to stderr', async () => {
    const result = await cli('up', '--json');
    expect(result.code).toBe(EXIT.ok);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'applied' });
    expect(result.stderr).toContain('info: dev_data is not true');
  });

  it('prints the runner warning when it resumes an interrupted migration, even with --quiet', async () => {
    expect((await cli('up', 'd2f86b3e5a17')).code).toBe(EXIT.ok);
    const connection = await database.connect();
    await connection.db.query(
      `INSERT INTO rds_migrate.in_progress (revision, direction, actor) VALUES ('5a09c7d1e8b2', 'up', 'killed run')`,
    );
    const result = await cli('up', '--quiet');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stderr).toBe(
      'warning: resuming an interrupted migration (revision 5a09c7d1e8b2, direction up)\n',
    );
    expect(result.stdout).toContain('resumed 5a09c7d1e8b2');
  });

  it('--quiet drops the info lines, and --help says so', async () => {
    const result = await cli('up', '--quiet');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stderr).toBe('');
    expect((await cli('up', '--help')).stdout).toMatch(/-q, --quiet +.*info lines/);
    expect((await cli('down', '--help')).stdout).toMatch(/-q, --quiet +.*info lines/);
  });
});

describe('rds-migrate with two heads', () => {
  beforeEach(async () => {
    await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
    await writeMigration(
      '202601010004_branch.sql',
      '-- revision: cccc00000004\n-- down_revision: cccc00000002\n\n-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n',
    );
  });

  it('create says to name one parent with --head <rev> or to merge, never --head heads', async () => {
    const refused = await cli('create', 'next');
    expect(refused.code).toBe(EXIT.failed);
    expect(refused.stderr).toContain('--head <rev>');
    expect(refused.stderr).toContain('rds-migrate merge');
    expect(refused.stderr).not.toContain("'heads'");

    const heads = await cli('create', '--head', 'heads', 'next');
    expect(heads.code).toBe(EXIT.usage);
    expect(heads.stderr).toContain('one parent');
    expect(heads.stderr).toContain('--head <rev>');

    const named = await cli('create', '--head', 'cccc00000004', 'next');
    expect(named.code).toBe(EXIT.ok);
    expect(named.stdout).toContain('on cccc00000004');
  });

  it('status says up refuses and what to do, instead of "up applies them"', async () => {
    const status = await cli('status');
    expect(status.code).toBe(EXIT.ok);
    expect(status.stdout).not.toContain('rds-migrate up applies them');
    expect(status.stdout).toMatch(
      /pending {4}4 migrations on 2 heads \(rds-migrate up refuses: .*rds-migrate merge/,
    );
    expect((await cli('up', 'heads')).code).toBe(EXIT.ok);
  });
});

describe('rds-migrate status, show: what a user types', () => {
  beforeEach(async () => {
    await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
  });

  it('status exits 1 on drift, still printing the status (text and JSON)', async () => {
    await cli('up');
    const file = join(project, 'migrations', '202601010002_notes.sql');
    await writeFile(file, `${await readFile(file, 'utf8')}\n-- edited after it was applied\n`);

    const text = await cli('status');
    expect(text.code).toBe(EXIT.failed);
    expect(text.stdout).toContain(
      'drift      cccc00000002 (202601010002_notes.sql) changed after it was applied',
    );
    expect(text.stderr).toContain('rds-migrate create');
    const asJson = await cli('status', '--json');
    expect(asJson.code).toBe(EXIT.failed);
    expect(JSON.parse(asJson.stdout).drift).toHaveLength(1);
  });

  it('status reports a schema changed outside migrations and exits 0 (up still works)', async () => {
    await cli('up');
    const session = await database.connect('hand-edit');
    await session.db.query('ALTER TABLE notes ADD COLUMN pinned boolean');

    const text = await cli('status');
    expect(text.code).toBe(EXIT.ok);
    expect(text.stdout).toMatch(
      /the schema was changed outside migrations since run .*changed table public\.notes/,
    );
    const asJson = await cli('status', '--json');
    expect(asJson.code).toBe(EXIT.ok);
    expect(JSON.parse(asJson.stdout).schemaDrift.state).toBe('changed');
  });

  it('show with fewer than four characters says a prefix needs four', async () => {
    const result = await cli('show', 'cc');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toContain("'cc' is too short");
    expect(result.stderr).toContain('4 or more characters');
    expect(result.stderr).not.toContain('no migration has revision');
  });
});

describe('the rds-migrate command with no database configured', () => {
  it('uses an embedded PostgreSQL in .rds-migrate/ that keeps its data between runs', async () => {
    await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => key !== 'DATABASE_URL' && !key.startsWith('PG')),
    );
    const command = [join(repo, 'node_modules/tsx/dist/cli.mjs'), join(repo, 'bin/cli.ts')];
    const up = await run(process.execPath, [...command, 'up'], { cwd: project, env });
    expect(up.stdout).toContain('3 migrations');
    const status = await run(process.execPath, [...command, 'status', '--json'], { cwd: project, env });
    expect(JSON.parse(status.stdout).current).toEqual(['cccc00000003']);
    const failed = await run(process.execPath, [...command, 'show', 'ffff9999'], { cwd: project, env }).catch(
      (e) => e,
    );
    expect(failed.code).toBe(EXIT.failed);
    expect(failed.stderr).toContain("no migration has revision 'ffff9999'");

    // Ctrl-C stops the server this command started, mid-statement: said as an interruption.
    await writeMigration(
      '202601010004_slow.sql',
      '-- revision: cccc00000004\n-- down_revision: cccc00000003\n-- message: slow\n\n-- migrate:up\n' +
        'CREATE TABLE slow_marker (id int);\nSELECT pg_sleep(30);\n\n-- migrate:down\nDROP TABLE slow_marker;\n',
    );
    const interrupted = run(process.execPath, [...command, 'up'], { cwd: project, env }).catch((e) => e);
    const dataDir = join(project, '.rds-migrate', 'pgdata');
    const sleeping = async (): Promise<number | undefined> => {
      const [pid, , , port] = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split(
        '\n',
      );
      if (!port) return undefined;
      const password = await readPassword(passwordFile(dataDir));
      const client = new pg.Client({
        host: '127.0.0.1',
        port: Number(port),
        user: 'postgres',
        password,
        database: 'app',
      });
      try {
        await client.connect();
        const found = await client.query(
          `SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()`,
        );
        return found.rowCount ? Number(pid) : undefined;
      } catch {
        return undefined;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    let postmaster: number | undefined;
    for (let tries = 0; tries < 200 && postmaster === undefined; tries++) {
      postmaster = await sleeping();
      if (postmaster === undefined) await new Promise((wake) => setTimeout(wake, 100));
    }
    expect(postmaster).toBeDefined();
    process.kill(postmaster as number, 'SIGINT');
    const stopped = await interrupted;
    expect(stopped.code).toBe(EXIT.failed);
    expect(stopped.stderr).toContain('interrupted: the embedded PostgreSQL stopped while the command ran');
    expect(stopped.stderr).not.toContain('57P01');
    const after = await run(process.execPath, [...command, 'status', '--json'], { cwd: project, env });
    expect(JSON.parse(after.stdout).current).toEqual(['cccc00000003']);
  }, 90_000);
});

describe('a database URL that is wrong, as a new user writes one', () => {
  const at = (env: NodeJS.ProcessEnv, ...argv: string[]) => runCliCaptured(argv, { env, cwd: project });

  it('refuses what is not a PostgreSQL URL, showing the scheme and never the password', async () => {
    await mkdir(join(project, 'migrations'));
    const word = await at({ DATABASE_URL: 'base' }, 'status');
    expect(word.code).toBe(EXIT.usage);
    expect(word.stderr).toContain('DATABASE_URL is not a PostgreSQL URL (it is not a URL)');
    expect(word.stderr).toContain('or unset it to use the embedded PostgreSQL in .rds-migrate/');
    const typo = await at({}, 'status', '--database-url', 'postgress://app:s3cret-pw@localhost/app');
    expect(typo.code).toBe(EXIT.usage);
    expect(typo.stderr).toContain("--database-url is not a PostgreSQL URL (it starts with 'postgress://')");
    expect(typo.stderr).not.toContain('s3cret-pw');
  });

  it('says what to check when nothing answers, or the host does not exist', async () => {
    await mkdir(join(project, 'migrations'));
    const refused = await at({ DATABASE_URL: 'postgres://app:s3cret-pw@127.0.0.1:1/app' }, 'status');
    expect(refused.code).toBe(EXIT.failed);
    expect(refused.stderr).toContain(
      'nothing accepts connections there: is the server running? Check the host and port of DATABASE_URL, ' +
        'or unset DATABASE_URL to use the embedded PostgreSQL in .rds-migrate/',
    );
    const nowhere = await at({}, 'status', '--database-url', 'postgres://app@no-such-host.invalid/app');
    expect(nowhere.code).toBe(EXIT.failed);
    expect(nowhere.stderr).toContain('no such host: check the host and port of --database-url, or leave out');
    expect(`${refused.stderr}${nowhere.stderr}`).not.toContain('s3cret-pw');
  });
});
