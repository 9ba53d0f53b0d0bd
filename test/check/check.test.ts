import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { CheckProblem, CheckReport } from '../../lib/check/check.ts';
import { EXIT } from '../../lib/cli/program.ts';
import { SCRATCH_DATABASE_PREFIX } from '../../lib/schema/scratch-database.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const repo = resolve(import.meta.dirname, '../..');
const fixtures = join(repo, 'test/fixtures/check');
const UNREACHABLE = 'postgres://nobody:secret@127.0.0.1:1/nowhere';

let database: TestDatabase;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-check-'));
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

function cli(argv: string[], options: { cwd?: string; databaseUrl?: string } = {}): Promise<CliResult> {
  return runCliCaptured(argv, {
    env: { DATABASE_URL: options.databaseUrl ?? database.url },
    cwd: options.cwd ?? project,
  });
}

/** Copies a fixture folder to `<project>/migrations`, so files read as `migrations/<name>`. */
async function useFixture(name: string): Promise<void> {
  await cp(join(fixtures, name), join(project, 'migrations'), { recursive: true });
}

async function checkJson(...argv: string[]): Promise<{ code: number; report: CheckReport }> {
  const result = await cli(['check', ...argv, '--json']);
  return { code: result.code, report: JSON.parse(result.stdout) as CheckReport };
}

function problemLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => /^migrations\/\S+: revision /.test(line));
}

describe('rds-migrate check', () => {
  it('passes the example migrations clean, round trip included, and exits 0', async () => {
    const result = await cli(['check'], { cwd: repo });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(/graph\s+ok/);
    expect(result.stdout).toMatch(/lint\s+ok/);
    expect(result.stdout).toMatch(/round trip\s+ok\s+9 up, 9 down, 9 up again/);
    expect(result.stdout).toContain('clean: no problems');
  });

  it('reports each of two heads on its own line, naming its file, and exits 1', async () => {
    await useFixture('two-heads');
    const result = await cli(['check', '--static']);
    expect(result.code).toBe(EXIT.failed);
    expect(problemLines(result.stdout)).toEqual([
      expect.stringMatching(
        /^migrations\/202601010002_left\.sql: revision aaaa00000002: graph multiple-heads: .*rds-migrate merge/,
      ),
      expect.stringMatching(
        /^migrations\/202601010003_right\.sql: revision aaaa00000003: graph multiple-heads: /,
      ),
    ]);
    expect(result.stderr).toContain('check found 2 problems');
  });

  it('accepts two heads when --heads names both', async () => {
    await useFixture('two-heads');
    const { code, report } = await checkJson('--static', '--heads', 'aaaa00000002, aaaa00000003');
    expect(report.problems).toEqual([]);
    expect(code).toBe(EXIT.ok);
  });

  it('reports a migration without a down step, and accepts one marked irreversible', async () => {
    await useFixture('missing-down');
    const { code, report } = await checkJson('--skip-round-trip');
    expect(code).toBe(EXIT.failed);
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: 'graph',
        rule: 'missing-down-step',
        file: 'migrations/202601010002_no_down.sql',
        revision: 'aaaa00000002',
      }),
    ]);
    expect(report.problems[0]?.message).toContain("'-- irreversible: <reason>'");
  });

  it('passes a folder whose only migration without a down step is marked irreversible, turning the round trip back there', async () => {
    await useFixture('irreversible');
    const result = await cli(['check']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(/round trip\s+ok\s+3 up, 0 down, 0 up again/);
    expect(result.stdout).toContain('turned back at aaaa00000003 (irreversible: lower-cases names');
  });

  it('reports a second base as an orphan', async () => {
    await useFixture('orphan');
    const { report } = await checkJson('--static');
    expect(report.problems).toEqual([
      expect.objectContaining({
        rule: 'orphan',
        revision: 'aaaa00000003',
        file: 'migrations/202601010003_audit.sql',
      }),
    ]);
  });

  it('reports a lint finding at file:line of the SQL file, with the rule and its fix', async () => {
    await useFixture('lint-sql');
    const result = await cli(['check', '--static']);
    expect(result.code).toBe(EXIT.failed);
    expect(problemLines(result.stdout)).toEqual([
      expect.stringMatching(
        /^migrations\/202601010002_tenant\.sql:8: revision aaaa00000002, up: lint add-column-not-null-without-default: ADD COLUMN "tenant_id"/,
      ),
    ]);
    expect(result.stdout).toContain('    fix: 1. Add the column nullable, or with a constant DEFAULT');
  });

  it('lints a TS migration on its recorded SQL, at the line of the sql call, marked as recorded', async () => {
    await useFixture('lint-ts');
    const { report } = await checkJson('--static');
    const recorded = (rule: string) =>
      expect.objectContaining<Partial<CheckProblem>>({
        kind: 'lint',
        rule,
        file: 'migrations/202601010002_shorten_names.ts',
        revision: 'aaaa00000002',
        section: 'up',
        line: 10,
        recordedFrom: expect.stringContaining(
          'recorded from 202601010002_shorten_names.ts (up) with args {}',
        ),
      });
    // text to varchar(100): it may fail on a longer name, and it rewrites.
    expect(report.problems).toEqual([recorded('narrowing-type-change'), recorded('alter-column-type')]);
  });

  it('finds drift against a database with history, naming the file and both checksums', async () => {
    await useFixture('clean');
    expect((await cli(['up'])).code).toBe(EXIT.ok);
    const file = join(project, 'migrations', '202601010001_accounts.sql');
    await writeFile(file, `${await readFile(file, 'utf8')}-- edited after it was applied\n`);
    const { code, report } = await checkJson('--skip-round-trip');
    expect(code).toBe(EXIT.failed);
    expect(report.checks.drift.status).toBe('problems');
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: 'drift',
        file: 'migrations/202601010001_accounts.sql',
        revision: 'aaaa00000001',
      }),
    ]);
    expect(report.problems[0]?.message).toMatch(/applied checksum [0-9a-f]{64}, file checksum [0-9a-f]{64}/);
  });

  it('reports no drift and checks the round trip when the database is up to date', async () => {
    await useFixture('clean');
    await cli(['up']);
    const { code, report } = await checkJson();
    expect(report.checks.drift).toMatchObject({ status: 'ok' });
    expect(report.checks.drift.summary).toContain('2 applied migrations unchanged');
    expect(report.checks.roundTrip.status).toBe('ok');
    expect(code).toBe(EXIT.ok);
  });

  it('catches a down step that forgets to drop an index, naming the revision and the index, on a scratch database it drops after', async () => {
    await useFixture('round-trip-index');
    const { code, report } = await checkJson();
    expect(code).toBe(EXIT.failed);
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: 'round-trip',
        rule: 'down-step-incomplete',
        file: 'migrations/202601010002_index_names.sql',
        revision: 'aaaa00000002',
        diff: {
          extra: [
            'index public.accounts_name_idx CREATE INDEX accounts_name_idx ON public.accounts USING btree (name)',
          ],
          missing: [],
        },
      }),
    ]);
    const scratch = /(rds_migrate_check_[0-9a-f]+)/.exec(report.checks.roundTrip.summary)?.[1];
    expect(scratch).toBeDefined();
    expect(await databasesNamed(SCRATCH_DATABASE_PREFIX)).not.toContain(scratch);
    // The user's database saw nothing: no history, no table.
    const connection = await database.connect();
    const tables = await connection.db.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public'`);
    expect(tables.rows).toEqual([]);
  });

  it('prints the down step that left the index in text, with the differing schema line', async () => {
    await useFixture('round-trip-index');
    const result = await cli(['check']);
    expect(result.stdout).toMatch(
      /^migrations\/202601010002_index_names\.sql: revision aaaa00000002, down: round-trip down-step-incomplete: /m,
    );
    expect(result.stdout).toContain('    + index public.accounts_name_idx CREATE INDEX accounts_name_idx');
  });

  it('with --static --json touches no database and gives the head and the bundle hash', async () => {
    await useFixture('clean');
    const result = await cli(['check', '--static', '--json'], { databaseUrl: UNREACHABLE });
    expect(result.code).toBe(EXIT.ok);
    const report = JSON.parse(result.stdout) as CheckReport;
    expect(report).toMatchObject({
      ok: true,
      head: 'aaaa00000002',
      revisions: 2,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      checks: { drift: { status: 'skipped' }, roundTrip: { status: 'skipped' } },
    });
  });

  it('exits 1 when the round trip cannot have a scratch database', async () => {
    await useFixture('clean');
    const result = await cli(['check', '--json'], { databaseUrl: UNREACHABLE });
    expect(result.code).toBe(EXIT.failed);
    const report = JSON.parse(result.stdout) as CheckReport;
    expect(report.checks.drift.status).toBe('skipped');
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'round-trip', rule: 'no-scratch-database' }),
    ]);
  });
});

async function databasesNamed(prefix: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: inject('postgresAdminUrl') });
  await client.connect();
  try {
    const result = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [prefix],
    );
    return result.rows.map((row) => row.datname);
  } finally {
    await client.end();
  }
}
