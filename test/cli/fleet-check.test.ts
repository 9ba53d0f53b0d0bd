/**
 * `rds-migrate fleet check`: one check for a fleet's bundle. Its targets are databases of the
 * embedded server at different revisions; the scope is what any of them has not applied, the
 * round trip starts from what all of them have, and a target ahead or unreachable is named.
 *
 * The folder: 01 accounts, 02 a column, 03 another, 04 an index built without CONCURRENTLY (the
 * one lint finding). tenant-a is at 01, tenant-b at 03, tenant-c at 04 (up to date).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CheckReport } from '../../lib/check/check.ts';
import { EXIT } from '../../lib/cli/program.ts';
import { SCHEMAS_DIR } from '../../scripts/json-schemas.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const migration = (revision: string, parent: string, up: string, down: string) =>
  `-- revision: ${revision}\n-- down_revision: ${parent}\n-- message: ${revision}\n\n-- migrate:up\n${up}\n\n-- migrate:down\n${down}\n`;

const FOLDER = {
  '01_accounts.sql': migration(
    'f1ec00000001',
    'none',
    'CREATE TABLE accounts (id bigint PRIMARY KEY, name text);',
    'DROP TABLE accounts;',
  ),
  '02_plan.sql': migration(
    'f1ec00000002',
    'f1ec00000001',
    'ALTER TABLE accounts ADD COLUMN plan text;',
    'ALTER TABLE accounts DROP COLUMN plan;',
  ),
  '03_region.sql': migration(
    'f1ec00000003',
    'f1ec00000002',
    'ALTER TABLE accounts ADD COLUMN region text;',
    'ALTER TABLE accounts DROP COLUMN region;',
  ),
  '04_region_index.sql': migration(
    'f1ec00000004',
    'f1ec00000003',
    'CREATE INDEX accounts_region ON accounts (region);',
    'DROP INDEX accounts_region;',
  ),
};
/** A migration only newer code has: a target that ran it is ahead of the folder. */
const NEWER = {
  '05_notes.sql': migration(
    'f1ec00000005',
    'f1ec00000004',
    'ALTER TABLE accounts ADD COLUMN notes text;',
    'ALTER TABLE accounts DROP COLUMN notes;',
  ),
};

let project: string;
let tenants: Record<'a' | 'b' | 'c', TestDatabase>;
/** The server the round trip's scratch database is made on: not a target. */
let scratchServer: string;

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const path = join(project, name);
  await mkdir(path, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(path, file), text);
  return path;
}

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(['-d', 'migrations', ...argv], {
    env: { DATABASE_URL: scratchServer },
    cwd: project,
  });
}

async function upTo(database: TestDatabase, revision: string, dir = 'migrations'): Promise<void> {
  const result = await runCliCaptured(['-d', dir, 'up', revision], {
    env: { DATABASE_URL: database.url },
    cwd: project,
  });
  expect(result.code, result.stderr).toBe(EXIT.ok);
}

/** What schemas/check.schema.json finds wrong with a report (none: it keeps to it). */
async function schemaViolations(report: unknown): Promise<string[]> {
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(await readFile(join(SCHEMAS_DIR, 'check.schema.json'), 'utf8')));
  if (validate(report)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);
}

const targetWords = () => Object.entries(tenants).map(([name, database]) => `tenant-${name}=${database.url}`);

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-fleet-check-'));
  await folder('migrations', FOLDER);
  scratchServer = inject('postgresAdminUrl');
  const [a, b, c] = await Promise.all([freshDatabase(), freshDatabase(), freshDatabase()]);
  tenants = { a, b, c } as typeof tenants;
  await Promise.all([upTo(a, 'f1ec00000001'), upTo(b, 'f1ec00000003'), upTo(c, 'f1ec00000004')]);
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(tenants ?? {}).map((database) => database.drop()));
  await rm(project, { recursive: true, force: true });
});

describe('rds-migrate fleet check', () => {
  it("checks once what any target has not applied, the round trip from the least advanced target's revision", async () => {
    const result = await cli('fleet', 'check', ...targetWords(), '--json');
    expect(result.code, result.stderr).toBe(EXIT.failed);
    const report = JSON.parse(result.stdout) as CheckReport;
    // The index of 04 is pending on two targets, and found once.
    expect(report.problems.map((problem) => `${problem.revision} ${problem.rule}`)).toEqual([
      'f1ec00000004 create-index-non-concurrently',
    ]);
    expect(report.scope).toEqual({
      kind: 'fleet',
      revisions: ['f1ec00000002', 'f1ec00000003', 'f1ec00000004'],
      fleet: {
        targets: 3,
        groups: [
          {
            at: ['f1ec00000001'],
            targets: ['tenant-a'],
            pending: ['f1ec00000002', 'f1ec00000003', 'f1ec00000004'],
            ahead: [],
          },
          { at: ['f1ec00000003'], targets: ['tenant-b'], pending: ['f1ec00000004'], ahead: [] },
          { at: ['f1ec00000004'], targets: ['tenant-c'], pending: [], ahead: [] },
        ],
        behind: ['tenant-a', 'tenant-b'],
        ahead: [],
        unreachable: [],
      },
    });
    expect(report.checks.lint.summary).toMatch(
      /^3 of 4 migrations pending on some target of the fleet, up and down/,
    );
    // What every target has (01) is applied first; the rest goes up, down and up again.
    expect(report.checks.roundTrip.summary).toMatch(
      /^1 applied first, then 3 up, 3 down, 3 up again on rds_migrate_check_\w+ .*, schemas matched$/,
    );
    expect(report.checks.drift).toEqual({ status: 'ok', summary: '3 of 3 targets read: no drift' });
    expect(await schemaViolations(report)).toEqual([]);
  });

  it('names a target ahead and one unreachable, with the reason and never the password, and fails; with none read, checks all', async () => {
    const ahead = await freshDatabase();
    try {
      await folder('newer', { ...FOLDER, ...NEWER });
      await upTo(ahead, 'f1ec00000005', 'newer');
      await upTo(tenants.a, 'f1ec00000004');
      const nowhere = 'postgres://app:s3cret-pw@127.0.0.1:1/gone?connect_timeout=2';
      const result = await cli(
        'fleet',
        'check',
        '--concurrency',
        '2',
        `tenant-a=${tenants.a.url}`,
        `tenant-d=${ahead.url}`,
        `ghost=${nowhere}`,
      );
      expect(result.code).toBe(EXIT.failed);
      expect(result.stdout).toContain(
        'scope: lint and round trip cover the 0 migrations pending on some target of the fleet',
      );
      expect(result.stdout).toMatch(/^fleet: 3 targets, 2 revisions$/m);
      expect(result.stdout).toMatch(/^ {2}at f1ec00000004 +up to date +tenant-a$/m);
      expect(result.stdout).toMatch(/^ {2}at f1ec00000005 +ahead +tenant-d$/m);
      expect(result.stdout).toMatch(/^ {2}unreachable +ghost$/m);
      expect(result.stdout).toContain('behind: none; ahead: tenant-d; unreachable: ghost');
      expect(result.stdout).toContain(
        'revision f1ec00000005: drift unknown-revision: target tenant-d is at revision f1ec00000005, which no migration in this folder defines',
      );
      expect(result.stdout).toMatch(
        /fleet target-unreachable: target ghost cannot be read: cannot connect to PostgreSQL at app@127\.0\.0\.1:1\/gone: connect ECONNREFUSED/,
      );
      expect(result.stdout).toContain('nothing pending on any target of the fleet');
      expect(result.stdout + result.stderr).not.toContain('s3cret-pw');
      const json = await cli('fleet', 'check', `tenant-d=${ahead.url}`, `ghost=${nowhere}`, '--json');
      const report = JSON.parse(json.stdout) as CheckReport;
      expect(report.scope?.fleet).toMatchObject({
        ahead: ['tenant-d'],
        unreachable: [{ name: 'ghost', database: 'app@127.0.0.1:1/gone' }],
      });
      expect(json.stdout).not.toContain('s3cret-pw');
      expect(await schemaViolations(report)).toEqual([]);
      // With no target read nothing is known: the whole folder is in scope, as annotations in GitHub Actions.
      const github = await cli('fleet', 'check', `ghost=${nowhere}`, '--format', 'github');
      expect(github.code).toBe(EXIT.failed);
      expect(github.stdout).toContain(
        '::error file=migrations/04_region_index.sql,line=6,title=create-index-non-concurrently::',
      );
      expect(github.stdout).toContain('::error title=target-unreachable::target ghost cannot be read: ');
      expect(github.stdout).not.toContain('s3cret-pw');
    } finally {
      await ahead.drop();
    }
  });

  it('says how to name the fleet when given none', async () => {
    const result = await cli('fleet', 'check');
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('name the fleet: connection strings (fleet check postgres://');
  });
});
