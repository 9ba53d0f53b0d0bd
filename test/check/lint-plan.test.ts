import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CheckProblem, type CheckReport, checkMigrations, formatCheck } from '../../lib/check/check.ts';
import { EXIT } from '../../lib/cli/program.ts';
import { lintSql } from '../../lib/lint/lint.ts';
import { runCliCaptured } from '../support/cli.ts';
import { freshDatabase } from '../support/database.ts';

const repo = resolve(import.meta.dirname, '../..');
const plans = join(repo, 'test/fixtures/lint-plan');

function checkStatic(fixture: string, pgVersion?: number): Promise<CheckReport> {
  return checkMigrations({ migrationsDir: join(plans, fixture), cwd: plans, static: true, pgVersion });
}

function lintProblems(report: CheckReport): CheckProblem[] {
  return report.problems.filter((problem) => problem.kind === 'lint');
}

describe('the plan: consecutive transactional migrations share one transaction', () => {
  it('flags VALIDATE CONSTRAINT in the migration after its ADD ... NOT VALID, naming both (issue 10, item 17)', async () => {
    const report = await checkStatic('validate-next-migration');
    expect(lintProblems(report)).toEqual([
      expect.objectContaining<Partial<CheckProblem>>({
        rule: 'validate-in-same-transaction',
        file: 'validate-next-migration/202601010003_validate_orders_user_fk.sql',
        revision: 'bbbb00000003',
        line: 6,
        related: {
          file: 'validate-next-migration/202601010002_orders_user_fk.sql',
          revision: 'bbbb00000002',
          line: 6,
        },
      }),
    ]);
    const [problem] = lintProblems(report);
    expect(problem?.message).toContain('202601010002_orders_user_fk.sql:6 (revision bbbb00000002)');
    expect(problem?.message).toContain('writes to "orders" and "users" stay blocked');
    expect(problem?.fix).toContain('Mark the migration that validates `transaction: false`');
    expect(problem?.lock).toMatchObject({ mode: 'SHARE ROW EXCLUSIVE', blocks: 'writes', scan: true });
  });

  it('accepts the VALIDATE once its migration is transaction: false', async () => {
    const report = await checkStatic('validate-next-migration-own-transaction');
    expect(lintProblems(report)).toEqual([]);
  });

  it('flags a lock taken by one migration and held while the next one scans another table', async () => {
    const report = await checkStatic('lock-held-across-migrations');
    expect(lintProblems(report)).toEqual([
      expect.objectContaining<Partial<CheckProblem>>({
        rule: 'lock-held-during-long-step',
        revision: 'bbbb00000004',
        related: expect.objectContaining({ revision: 'bbbb00000003' }),
        lock: expect.objectContaining({
          mode: 'ACCESS EXCLUSIVE',
          on: 'table "users"',
          blocks: 'reads and writes',
        }),
      }),
    ]);
    expect(lintProblems(report)[0]?.message).toMatch(
      /reads every row of table "orders" while the transaction still holds ACCESS EXCLUSIVE on table "users"/,
    );
  });

  it('flags an enum value used by the migration after the one that added it', async () => {
    const report = await checkStatic('enum-across-migrations');
    expect(lintProblems(report)).toEqual([
      expect.objectContaining<Partial<CheckProblem>>({
        rule: 'enum-value-used-in-transaction',
        revision: 'bbbb00000003',
        related: expect.objectContaining({ revision: 'bbbb00000002' }),
      }),
    ]);
  });

  it('before PostgreSQL 12 reports the ADD VALUE itself, which cannot run in the transaction', async () => {
    const report = await checkStatic('enum-across-migrations', 11);
    expect(lintProblems(report).map((problem) => [problem.rule, problem.revision])).toEqual([
      ['cannot-run-in-transaction', 'bbbb00000002'],
    ]);
  });

  it('prints the other migration and the lock under the finding', async () => {
    const text = formatCheck(await checkStatic('validate-next-migration'));
    expect(text).toContain(
      '    with: validate-next-migration/202601010002_orders_user_fk.sql:6 (revision bbbb00000002), in the same transaction',
    );
    expect(text).toMatch(
      / {4}lock: SHARE ROW EXCLUSIVE on table "(orders|users)" \(blocks writes until the end of the transaction\)/,
    );
    expect(text).toMatch(/ {4}docs: PostgreSQL 18 docs, ALTER TABLE/);
  });
});

describe('column types known from earlier migrations', () => {
  it('accept binary-coercible type changes, DROP NOT NULL, SET DEFAULT and a constant default', async () => {
    const report = await checkStatic('known-column-types');
    expect(report.problems).toEqual([]);
  });

  it('without the earlier migration, a change to text can still rewrite, and is reported', async () => {
    const findings = await lintSql({
      sql: 'ALTER TABLE users ALTER COLUMN name TYPE text;',
      source: 'm.sql',
      revision: 'r',
      section: 'up',
      transactional: true,
    });
    expect(findings.map((finding) => finding.message)).toEqual([
      'ALTER COLUMN "name" TYPE can rewrite table "users" under an ACCESS EXCLUSIVE lock',
    ]);
  });
});

describe('rds-migrate check --pg-version', () => {
  let project: string;
  beforeEach(async () => {
    project = await mkdtemp(join(tmpdir(), 'rds-migrate-lint-plan-'));
    await cp(join(plans, 'known-column-types'), join(project, 'migrations'), { recursive: true });
  });
  afterEach(async () => {
    await rm(project, { recursive: true, force: true });
  });

  const cli = (argv: string[], env: NodeJS.ProcessEnv = {}) => runCliCaptured(argv, { env, cwd: project });

  it('applies the lock rules of the version given: a constant default rewrites before 11', async () => {
    const before = await cli(['check', '--static', '--pg-version', '10', '--json']);
    expect(before.code).toBe(EXIT.failed);
    const report = JSON.parse(before.stdout) as CheckReport;
    expect(report.pgVersion).toEqual({ version: 10, from: 'option' });
    expect(report.problems.map((problem) => problem.rule)).toEqual(['add-column-default-rewrite']);

    const after = await cli(['check', '--static', '--pg-version', '11']);
    expect(after.code).toBe(EXIT.ok);
    expect(after.stdout).toContain('lock rules of PostgreSQL 11 (--pg-version)');
  });

  it('defaults to 16 with --static', async () => {
    const result = await cli(['check', '--static', '--json']);
    expect((JSON.parse(result.stdout) as CheckReport).pgVersion).toEqual({ version: 16, from: 'default' });
  });

  it('refuses a version it does not know, saying what to give', async () => {
    const result = await cli(['check', '--static', '--pg-version', 'sixteen']);
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain("--pg-version 'sixteen' is not a PostgreSQL version");
  });

  it("defaults to the configured server's version when check has a database", async () => {
    const database = await freshDatabase();
    try {
      const connection = await database.connect();
      const { rows } = await connection.db.query<{ server_version_num: string }>('SHOW server_version_num');
      const result = await cli(['check', '--skip-round-trip', '--json'], { DATABASE_URL: database.url });
      expect((JSON.parse(result.stdout) as CheckReport).pgVersion).toEqual({
        version: Math.floor(Number(rows[0]?.server_version_num) / 10_000),
        from: 'server',
      });
    } finally {
      await database.drop();
    }
  });

  it('writes a TS migration with a clean plan too', async () => {
    await writeFile(
      join(project, 'migrations', '202601010004_touch.ts'),
      "export default { revision: 'bbbb00000004', downRevision: 'bbbb00000003', message: 'touch',\n" +
        '  async up(ctx) { await ctx.sql`ALTER TABLE users ALTER COLUMN email TYPE text`; },\n' +
        '  async down(ctx) { await ctx.sql`SELECT 1`; } };\n',
    );
    const result = await cli(['check', '--static']);
    expect(result.stdout).toContain('clean: no problems');
  });
});
