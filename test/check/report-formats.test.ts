/**
 * check's findings for reviewers: GitHub Actions workflow commands (`--format github`) and a
 * SARIF 2.1.0 log (`--format sarif`) validated against the published schema (draft-04, as
 * shipped by @microsoft/jest-sarif).
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import type { Log } from 'sarif';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../lib/check/check.ts';
import { formatGithub } from '../../lib/check/report-formats.ts';
import { EXIT } from '../../lib/cli/program.ts';
import { LINT_RULES } from '../../lib/lint/lint-rules.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';

const repo = resolve(import.meta.dirname, '../..');
const fixtures = join(repo, 'test/fixtures/check');
const require = createRequire(import.meta.url);

/** The repository a workflow checks out, with the app in a subfolder: `<root>/app/migrations`. */
let root: string;
let app: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'rds-migrate-formats-'));
  app = join(root, 'app');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function useFixture(...names: string[]): Promise<void> {
  for (const name of names) await cp(join(fixtures, name), join(app, 'migrations'), { recursive: true });
}

/** check --static, as in a workflow: $GITHUB_WORKSPACE is the checkout, the app a folder in it. */
function check(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(['check', '--static', ...argv], {
    env: { GITHUB_WORKSPACE: root },
    cwd: app,
  });
}

async function sarifValidator() {
  const schemaPath = join(
    require.resolve('@microsoft/jest-sarif/package.json'),
    '../lib/schemas/sarif-2.1.0-rtm.5.json',
  );
  const schema = JSON.parse(await readFile(schemaPath, 'utf8')) as object;
  // The schema's language pattern ('^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$') is no valid unicode regex.
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  return ajv.compile(schema);
}

describe('check --format github', () => {
  it('puts each finding on its file and line from the checkout root, with the recipe, then a summary', async () => {
    await useFixture('lint-sql');
    const result = await check('--format', 'github');
    expect(result.code).toBe(EXIT.failed);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const fix = LINT_RULES.find((rule) => rule.id === 'add-column-not-null-without-default')?.fix;
    expect(lines[0]).toMatch(
      /^::error file=app\/migrations\/202601010002_tenant\.sql,line=8,title=add-column-not-null-without-default::ADD COLUMN "tenant_id"/,
    );
    expect(lines[0]).toContain(`(revision aaaa00000002, up section) fix: ${fix?.replace(/\n/g, '%0A')}`);
    expect(lines[1]).toBe(
      'rds-migrate check: 1 problem (1 lint) in 2 migrations of migrations (head aaaa00000002)',
    );
  });

  it('names a problem without a line by its file alone, and says clean when it is', async () => {
    await useFixture('missing-down');
    const failing = await check('--format', 'github');
    expect(failing.stdout).toMatch(
      /^::error file=app\/migrations\/202601010002_no_down\.sql,title=missing-down-step::has no down step/m,
    );
    await rm(join(app, 'migrations'), { recursive: true });
    await useFixture('clean');
    const clean = await check('--format', 'github');
    expect(clean.code).toBe(EXIT.ok);
    expect(clean.stdout.trimEnd()).toMatch(/^rds-migrate check: clean, no problems in 2 migrations/);
  });

  it('escapes what would end or split a workflow command', () => {
    const report = {
      ok: false,
      migrationsDir: 'migrations',
      revisions: 1,
      head: 'abc',
      heads: ['abc'],
      hash: null,
      problems: [
        {
          kind: 'lint',
          rule: 'drop-table',
          file: 'migrations/1,a:b.sql',
          line: 3,
          message: '100% gone\r\nreally',
          fix: '1. one\n2. two',
        },
        { kind: 'graph', rule: 'no-migrations', message: 'nothing: here' },
      ],
      warnings: ['a warning\nover two lines'],
    } as unknown as CheckReport;
    const lines = formatGithub(report, { cwd: '/repo', root: '/repo' }).split('\n');
    expect(lines[0]).toBe(
      '::error file=migrations/1%2Ca%3Ab.sql,line=3,title=drop-table::100%25 gone%0D%0Areally fix: 1. one%0A2. two',
    );
    expect(lines[1]).toBe('::error title=no-migrations::nothing: here');
    expect(lines[2]).toBe('::warning title=rds-migrate check::a warning%0Aover two lines');
    expect(lines).toHaveLength(4);
  });
});

describe('check --format sarif', () => {
  it('is a valid SARIF 2.1.0 log: every lint rule with its recipe, a result per finding on its line', async () => {
    await useFixture('lint-sql');
    const result = await check('--format', 'sarif');
    expect(result.code).toBe(EXIT.failed);
    const log = JSON.parse(result.stdout) as Log;
    const validate = await sarifValidator();
    expect(validate(log) ? [] : validate.errors).toEqual([]);
    // The validator does reject what is not SARIF 2.1.0.
    expect(validate({ ...log, version: '2.0.0' })).toBe(false);
    expect(validate({ ...log, runs: [{ results: [] }] })).toBe(false);

    const run = log.runs[0];
    const rules = run?.tool.driver.rules ?? [];
    expect(rules.map((rule) => rule.id)).toEqual(LINT_RULES.map((rule) => rule.id));
    for (const [at, rule] of LINT_RULES.entries()) {
      expect(rules[at]?.shortDescription?.text).toBe(rule.title);
      expect(rules[at]?.help?.text).toContain(rule.fix);
    }
    expect(run?.results).toHaveLength(1);
    const [finding] = run?.results ?? [];
    expect(finding?.ruleId).toBe('add-column-not-null-without-default');
    expect(rules[finding?.ruleIndex ?? -1]?.id).toBe('add-column-not-null-without-default');
    expect(finding?.level).toBe('error');
    expect(finding?.locations?.[0]?.physicalLocation).toEqual({
      artifactLocation: { uri: 'app/migrations/202601010002_tenant.sql', uriBaseId: '%SRCROOT%' },
      region: { startLine: 8 },
    });
    expect(run?.originalUriBaseIds?.['%SRCROOT%']?.uri).toBe(`file://${root}/`);
  });

  it('adds a rule entry for graph findings and stays valid with none at all', async () => {
    await useFixture('two-heads');
    const validate = await sarifValidator();
    const twoHeads = JSON.parse((await check('--format', 'sarif')).stdout) as Log;
    expect(validate(twoHeads) ? [] : validate.errors).toEqual([]);
    const run = twoHeads.runs[0];
    const results = run?.results ?? [];
    expect(results.length).toBeGreaterThanOrEqual(2);
    expect(new Set(results.map((finding) => finding.ruleId))).toEqual(new Set(['multiple-heads']));
    const rule = run?.tool.driver.rules?.[results[0]?.ruleIndex ?? -1];
    expect(rule?.id).toBe('multiple-heads');
    expect(rule?.shortDescription?.text).toBe('The revision graph: multiple heads');

    await rm(join(app, 'migrations'), { recursive: true });
    await useFixture('clean');
    const clean = await check('--format', 'sarif');
    expect(clean.code).toBe(EXIT.ok);
    const log = JSON.parse(clean.stdout) as Log;
    expect(validate(log) ? [] : validate.errors).toEqual([]);
    expect(log.runs[0]?.results).toEqual([]);
  });

  it('refuses a format it does not know, and --json with another format', async () => {
    await useFixture('clean');
    const unknown = await check('--format', 'junit');
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain('the formats are text, json, github, sarif');
    const both = await check('--json', '--format', 'sarif');
    expect(both.code).toBe(EXIT.usage);
    expect(both.stderr).toContain('give one of them');
  });
});
