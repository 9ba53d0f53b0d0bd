/**
 * check scoped to what will run: `--pending` lints and round-trips only what the configured
 * database has not applied, `--since <git-ref>` only what this branch adds or changes; the graph
 * and drift checks still cover the whole folder.
 *
 * The history: 01 accounts, 02 adds a NOT NULL column without a default (a lint finding, and a
 * down step that forgets an index: a round-trip finding), both applied long ago; then 03 (clean)
 * and 04 (an index built without CONCURRENTLY: a lint finding) are new.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../lib/check/check.ts';
import { EXIT } from '../../lib/cli/program.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const migration = (revision: string, parent: string, up: string, down: string) =>
  `-- revision: ${revision}\n-- down_revision: ${parent}\n-- message: ${revision}\n\n-- migrate:up\n${up}\n\n-- migrate:down\n${down}\n`;

const OLD = {
  '01_accounts.sql': migration(
    'aaaa00000001',
    'none',
    'CREATE TABLE accounts (id bigint PRIMARY KEY, name text);',
    'DROP TABLE accounts;',
  ),
  '02_tenant.sql': migration(
    'aaaa00000002',
    'aaaa00000001',
    'ALTER TABLE accounts ADD COLUMN tenant_id bigint NOT NULL;\nCREATE TABLE tenants (id bigint PRIMARY KEY);',
    'ALTER TABLE accounts DROP COLUMN tenant_id;',
  ),
};
const NEW = {
  '03_region.sql': migration(
    'aaaa00000003',
    'aaaa00000002',
    'ALTER TABLE accounts ADD COLUMN region text;',
    'ALTER TABLE accounts DROP COLUMN region;',
  ),
  '04_region_index.sql': migration(
    'aaaa00000004',
    'aaaa00000003',
    'CREATE INDEX accounts_region ON accounts (region);',
    'DROP INDEX accounts_region;',
  ),
};

let database: TestDatabase;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-scope-'));
  await mkdir(join(project, 'migrations'));
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

async function write(files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) await writeFile(join(project, 'migrations', name), text);
}

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
}

async function check(...argv: string[]): Promise<{ code: number; report: CheckReport }> {
  const result = await cli('check', ...argv, '--json');
  return { code: result.code, report: JSON.parse(result.stdout) as CheckReport };
}

const found = (report: CheckReport) =>
  report.problems.map((problem) => `${problem.revision} ${problem.rule}`);

describe('check --pending', () => {
  beforeEach(async () => {
    await write(OLD);
    // Applied long ago, when accounts was empty: the old findings are history now.
    expect((await cli('up')).code).toBe(EXIT.ok);
    await write(NEW);
  });

  it('the whole folder: the old findings with the new', async () => {
    const { code, report } = await check();
    expect(code).toBe(EXIT.failed);
    expect(found(report)).toEqual([
      'aaaa00000002 add-column-not-null-without-default',
      'aaaa00000004 create-index-non-concurrently',
      'aaaa00000002 down-step-incomplete',
    ]);
  });

  it('lints and round-trips only what the database has not applied', async () => {
    const { code, report } = await check('--pending');
    expect(code).toBe(EXIT.failed);
    expect(found(report)).toEqual(['aaaa00000004 create-index-non-concurrently']);
    expect(report.scope).toEqual({
      kind: 'pending',
      at: ['aaaa00000002'],
      revisions: ['aaaa00000003', 'aaaa00000004'],
    });
    expect(report.checks.lint.summary).toMatch(/^2 of 4 migrations pending on the database, up and down/);
    expect(report.checks.roundTrip.summary).toMatch(
      /^2 applied first, then 2 up, 2 down, 2 up again on rds_migrate_check_\w+ .*, schemas matched$/,
    );
    expect(report.checks.graph.summary).toBe('4 migrations, head aaaa00000004');

    const text = await cli('check', '--pending');
    expect(text.stdout).toContain(
      'scope: lint and round trip cover the 2 migrations pending on the database (at aaaa00000002): ' +
        'aaaa00000003, aaaa00000004; graph, drift and the wanted schema cover all',
    );
  });

  it('still finds a round-trip problem in a pending migration, and drift in an applied one', async () => {
    await write({
      '03_region.sql': NEW['03_region.sql'].replace('ALTER TABLE accounts DROP COLUMN region;', 'SELECT 1;'),
      '01_accounts.sql': OLD['01_accounts.sql'].replace('name text', 'name text, extra text'),
    });
    const { report } = await check('--pending');
    expect(found(report)).toEqual([
      'aaaa00000004 create-index-non-concurrently',
      'aaaa00000001 changed-after-apply',
      'aaaa00000003 down-step-incomplete',
    ]);
  });

  it('with nothing pending: nothing linted, no round trip, and clean', async () => {
    expect((await cli('up')).code).toBe(EXIT.ok);
    const { code, report } = await check('--pending');
    expect(report.problems).toEqual([]);
    expect(code).toBe(EXIT.ok);
    expect(report.checks.lint.summary).toMatch(/^0 of 4 migrations pending on the database/);
    expect(report.checks.roundTrip).toEqual({
      status: 'skipped',
      summary: 'nothing pending on the database',
    });
  });

  it('says what it needs: a database, and not --static or --since with it', async () => {
    const unreachable = await runCliCaptured(['check', '--pending'], {
      env: { DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/nowhere' },
      cwd: project,
    });
    expect(unreachable.code).toBe(EXIT.failed);
    expect(unreachable.stderr).toContain(
      'check --pending needs the configured database to know what is applied there',
    );
    expect(unreachable.stderr).not.toContain('secret');
    const both = await cli('check', '--pending', '--since', 'main');
    expect(both.code).toBe(EXIT.usage);
    expect(both.stderr).toContain('give one of them');
    const offline = await cli('check', '--pending', '--static');
    expect(offline.code).toBe(EXIT.usage);
    expect(offline.stderr).toContain('use --since <git-ref> there');
  });
});

describe('check --since <git-ref>', () => {
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=dev', '-c', 'user.email=dev@example.com', ...args], {
      cwd: project,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  beforeEach(async () => {
    git('init', '--quiet', '--initial-branch=main');
    await write(OLD);
    git('add', '.');
    git('commit', '--quiet', '-m', 'old migrations');
    git('checkout', '--quiet', '-b', 'feature');
  });

  it('covers what the branch adds or changes, committed or not, tracked or not', async () => {
    await write({ '03_region.sql': NEW['03_region.sql'] });
    git('add', '.');
    git('commit', '--quiet', '-m', 'region');
    // Meanwhile main moves on: the merge base, not main's tip, is what the branch is compared with.
    git('checkout', '--quiet', 'main');
    await writeFile(join(project, 'README'), 'main moved on\n');
    git('add', '.');
    git('commit', '--quiet', '-m', 'unrelated');
    git('checkout', '--quiet', 'feature');
    await write({ '04_region_index.sql': NEW['04_region_index.sql'] }); // not even added yet

    const { code, report } = await check('--since', 'main', '--static');
    expect(code).toBe(EXIT.failed);
    expect(report.scope?.kind).toBe('since');
    expect(report.scope?.revisions).toEqual(['aaaa00000003', 'aaaa00000004']);
    expect(report.scope?.mergeBase).toBe(git('rev-parse', 'main~1').trim());
    expect(found(report)).toEqual(['aaaa00000004 create-index-non-concurrently']);
  });

  it('round-trips from the first changed migration on, and an edited old file is in scope again', async () => {
    await write({
      '02_tenant.sql': OLD['02_tenant.sql'].replace('-- message: aaaa00000002', '-- message: tenants'),
    });
    await write({ '03_region.sql': NEW['03_region.sql'] });
    const { report } = await check('--since', 'main');
    expect(report.scope?.revisions).toEqual(['aaaa00000002', 'aaaa00000003']);
    expect(found(report)).toEqual([
      'aaaa00000002 add-column-not-null-without-default',
      'aaaa00000002 down-step-incomplete',
    ]);
    expect(report.checks.roundTrip.summary).toMatch(/^1 applied first, then 2 up, 2 down/);
  });

  it('says how to get the ref when the checkout does not have it, or is no checkout', async () => {
    const unknown = await cli('check', '--since', 'origin/main', '--static');
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain("git finds no common commit of 'origin/main' and HEAD");
    expect(unknown.stderr).toContain('fetch-depth: 0');
    await rm(join(project, '.git'), { recursive: true, force: true });
    const noRepo = await cli('check', '--since', 'main', '--static');
    expect(noRepo.code).toBe(EXIT.usage);
    expect(noRepo.stderr).toContain('is not in a git checkout');
  });
});
