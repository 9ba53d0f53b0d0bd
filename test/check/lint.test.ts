import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseSql, LINT_RULES, type LintInput, lintSql, SqlParseError } from '../../lib/lint/lint.ts';
import { LOCK_MODES, type LockMode } from '../../lib/lint/model/lock-modes.ts';
import { SchemaKnowledge } from '../../lib/lint/model/schema-knowledge.ts';
import { RULES } from '../../lib/lint/rules/index.ts';

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'lint');

/**
 * A corpus fixture (a file of test/fixtures/lint, or an example a rule module holds) declares what the linter must find in its first comment lines:
 * `-- expect: rule-id, rule-id` (one id per finding) or `-- expect: none`, and optionally
 * `-- transactional: false`, `-- section: down`, `-- pg-version: 11` (default 16),
 * `-- given: <sql>` (an earlier migration that ran this, so its tables and column types are known)
 * and `-- lock: <MODE>` (a lock-level fixture: some statement of it takes that mode).
 */
interface Fixture {
  readonly name: string;
  readonly sql: string;
  readonly expected: readonly string[];
  readonly transactional: boolean;
  readonly section: 'up' | 'down';
  readonly pgVersion?: number;
  readonly given?: string;
  readonly lock?: string;
}

function parseFixture(name: string, sql: string): Fixture {
  const header = new Map<string, string>();
  for (const line of sql.split('\n')) {
    const match = /^-- (expect|transactional|section|pg-version|given|lock): (.*)$/.exec(line);
    if (!match) break;
    header.set(match[1] ?? '', (match[2] ?? '').trim());
  }
  const expect = header.get('expect');
  if (expect === undefined)
    throw new Error(`${name}: first line must be '-- expect: <rule ids>' or '-- expect: none'`);
  return {
    name,
    sql,
    expected: expect === 'none' ? [] : expect.split(',').map((id) => id.trim()),
    transactional: header.get('transactional') !== 'false',
    section: header.get('section') === 'down' ? 'down' : 'up',
    pgVersion: header.has('pg-version') ? Number(header.get('pg-version')) : undefined,
    given: header.get('given'),
    lock: header.get('lock'),
  };
}

/** A rule's own examples, named as its corpus files would be: `<rule-id>.example-<n>.<unsafe|safe>.sql`. */
const ruleExamples = RULES.flatMap((rule) =>
  'examples' in rule
    ? (['unsafe', 'safe'] as const).flatMap((kind) =>
        rule.examples[kind].map((sql, at) => parseFixture(`${rule.id}.example-${at + 1}.${kind}.sql`, sql)),
      )
    : [],
);

const fixtures = [
  ...readdirSync(CORPUS)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => parseFixture(name, readFileSync(join(CORPUS, name), 'utf8'))),
  ...ruleExamples,
];

function input(sql: string, overrides: Partial<LintInput> = {}): LintInput {
  return {
    sql,
    source: 'migrations/202611250900_test.sql',
    revision: 'a1b2c3d4e5f6',
    section: 'up',
    transactional: true,
    ...overrides,
  };
}

async function ruleIds(sql: string, overrides: Partial<LintInput> = {}): Promise<string[]> {
  return (await lintSql(input(sql, overrides))).map((finding) => finding.rule);
}

/** Lints a fixture after its `given` SQL, which stands for an earlier migration of the same plan. */
async function lintFixture(fixture: Fixture) {
  const schema = new SchemaKnowledge();
  const common = { pgVersion: fixture.pgVersion, schema };
  if (fixture.given) await analyseSql(input(fixture.given, { ...common, revision: 'earlier' }));
  return analyseSql(
    input(fixture.sql, {
      ...common,
      source: fixture.name,
      transactional: fixture.transactional,
      section: fixture.section,
    }),
  );
}

describe('the lint corpus', () => {
  it.each(fixtures)('finds exactly the declared rules in $name', async (fixture) => {
    const { findings } = await lintFixture(fixture);
    expect(findings.map((finding) => finding.rule).sort()).toEqual([...fixture.expected].sort());
  });

  it.each(LINT_RULES.map((rule) => rule.id))('has an unsafe and a safe example of %s', (id) => {
    const examples = fixtures.filter((fixture) => fixture.name.startsWith(`${id}.`));
    const unsafe = examples.filter((fixture) => fixture.name.endsWith('.unsafe.sql'));
    const safe = examples.filter((fixture) => fixture.name.endsWith('.safe.sql'));
    expect(unsafe.some((fixture) => fixture.expected.includes(id))).toBe(true);
    expect(safe.length).toBeGreaterThan(0);
    for (const fixture of safe) expect(fixture.expected).not.toContain(id);
  });
});

describe('the lock-level corpus', () => {
  const slug = (mode: LockMode) => mode.toLowerCase().replaceAll(' ', '-');

  it.each(LOCK_MODES.map((mode) => [mode]))(
    'has a flagged fixture and a near neighbour that is not, each taking %s',
    async (mode) => {
      const unsafe = fixtures.find((fixture) => fixture.name === `lock-level.${slug(mode)}.unsafe.sql`);
      const safe = fixtures.find((fixture) => fixture.name === `lock-level.${slug(mode)}.safe.sql`);
      expect(unsafe?.expected.length).toBeGreaterThan(0);
      expect(safe?.expected).toEqual([]);
      for (const fixture of [unsafe, safe]) {
        expect(fixture?.lock).toBe(mode);
        const { statements } = await lintFixture(fixture as Fixture);
        const modes = statements.flatMap((statement) => statement.analysed.locks.map((lock) => lock.mode));
        expect(modes).toContain(mode);
      }
    },
  );

  it('names the lock mode, what it blocks and whether the table is rewritten or scanned', async () => {
    const [finding] = await lintSql(input('ALTER TABLE orders SET TABLESPACE archive_disks;'));
    expect(finding?.lock).toMatchObject({
      mode: 'ACCESS EXCLUSIVE',
      on: 'table "orders"',
      blocks: 'reads and writes',
      rewrite: true,
      scan: true,
      heldUntil: 'end of transaction',
    });
    expect(finding?.lock?.doc).toContain('ALTER TABLE');
  });
});

describe('VACUUM in a transactional migration (issue 10, item 18)', () => {
  it('is reported as a statement PostgreSQL refuses inside a transaction block', async () => {
    expect(await ruleIds('VACUUM ANALYZE orders;')).toEqual(['cannot-run-in-transaction']);
    const [finding] = await lintSql(input('VACUUM orders;'));
    expect(finding?.message).toContain('VACUUM cannot run inside a transaction block');
    expect(finding?.fix).toContain('transaction: false');
  });

  it('is reported as refused as well as a rewrite when it is VACUUM FULL', async () => {
    expect((await ruleIds('VACUUM FULL orders;')).sort()).toEqual([
      'cannot-run-in-transaction',
      'vacuum-full',
    ]);
    expect(await ruleIds('VACUUM FULL orders;', { transactional: false })).toEqual(['vacuum-full']);
  });
});

describe('the rule catalog', () => {
  it('gives every rule a unique kebab-case id, a title, a one-line why and a fix', () => {
    const ids = LINT_RULES.map((rule) => rule.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const rule of LINT_RULES) {
      expect(rule.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(rule.title).not.toBe('');
      expect(rule.why).not.toContain('\n');
      expect(rule.fix.length).toBeGreaterThan(20);
    }
  });
});

describe('findings', () => {
  it('name the source, revision and section, the table and column, and carry the rule text', async () => {
    const [finding] = await lintSql(input('ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;'));
    const rule = LINT_RULES.find((candidate) => candidate.id === 'add-column-not-null-without-default');
    expect(finding).toMatchObject({
      rule: 'add-column-not-null-without-default',
      source: 'migrations/202611250900_test.sql',
      revision: 'a1b2c3d4e5f6',
      section: 'up',
      line: 1,
      statement: 'ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL',
      why: rule?.why,
      fix: rule?.fix,
    });
    expect(finding?.message).toContain('"tenant_id"');
    expect(finding?.message).toContain('"users"');
  });

  it('report the line of the statement, plus lineOffset, past comments and multi-byte text', async () => {
    const sql = [
      '-- première étape: the table',
      "CREATE TABLE notes (id bigint PRIMARY KEY, body text DEFAULT 'ça va');",
      '',
      '-- then an index on an existing table',
      'CREATE INDEX users_email_idx',
      '  ON users (email);',
    ].join('\n');
    const [finding] = await lintSql(input(sql, { lineOffset: 7 }));
    expect(finding?.rule).toBe('create-index-non-concurrently');
    expect(finding?.line).toBe(5 + 7);
  });

  it('show the statement on one line, cut to at most 120 characters', async () => {
    const columns = Array.from({ length: 30 }, (_, index) => `column_${index}`).join(',\n  ');
    const [finding] = await lintSql(input(`CREATE INDEX wide_idx\n  ON orders (\n  ${columns});`));
    expect(finding?.statement.length).toBeLessThanOrEqual(120);
    expect(finding?.statement).toMatch(/^CREATE INDEX wide_idx ON orders \( column_0, column_1,.*\.\.\.$/);
  });

  it('come one per offending command of a multi-command ALTER TABLE', async () => {
    const ids = await ruleIds('ALTER TABLE users DROP COLUMN a, DROP COLUMN b, ALTER COLUMN c TYPE text;');
    expect(ids).toEqual(['drop-column', 'drop-column', 'alter-column-type']);
  });

  it('name, of the locks held as strongly, the one on the table the long step works on', async () => {
    const findings = await lintSql(
      input(
        "DROP INDEX orders_user_id;\nALTER TABLE users ADD COLUMN plan text;\nUPDATE users SET plan = 'free' WHERE plan IS NULL;",
      ),
    );
    const held = findings.find((finding) => finding.rule === 'lock-held-during-long-step');
    expect(held?.message).toContain(
      'holds ACCESS EXCLUSIVE on table "users" (taken by ALTER TABLE at line 2)',
    );
  });

  it('are empty for empty or comment-only SQL', async () => {
    expect(await lintSql(input(''))).toEqual([]);
    expect(await lintSql(input('  \n-- nothing to do\n'))).toEqual([]);
  });
});

describe('allow comments', () => {
  it('exempt the statement below from the named rule only', async () => {
    const sql = [
      '-- rds-migrate:allow drop-column nickname unused since release 40',
      'ALTER TABLE users DROP COLUMN nickname, ALTER COLUMN email TYPE text;',
    ].join('\n');
    expect(await ruleIds(sql)).toEqual(['alter-column-type']);
  });

  it('exempt only the statement directly below, not the next one', async () => {
    const sql = [
      '-- rds-migrate:allow drop-table archived in release 41',
      'DROP TABLE legacy_sessions;',
      'DROP TABLE legacy_tokens;',
    ].join('\n');
    const findings = await lintSql(input(sql));
    expect(findings.map((finding) => [finding.rule, finding.line])).toEqual([['drop-table', 3]]);
  });

  it('do not carry over from a comment trailing the previous statement', async () => {
    const sql = [
      'SELECT 1; -- rds-migrate:allow drop-table trailing the SELECT, not above the DROP',
      'DROP TABLE legacy_sessions;',
    ].join('\n');
    expect(await ruleIds(sql)).toEqual(['invalid-allow-comment', 'drop-table']);
  });

  it('may stand before the statement on the same line as a block comment', async () => {
    const sql = '/* rds-migrate:allow drop-table archived in release 41 */ DROP TABLE legacy_sessions;';
    expect(await ruleIds(sql)).toEqual([]);
  });

  it('without a reason are findings that ask for one, and exempt nothing', async () => {
    const findings = await lintSql(input('-- rds-migrate:allow drop-table\nDROP TABLE legacy_sessions;'));
    expect(findings.map((finding) => finding.rule)).toEqual(['invalid-allow-comment', 'drop-table']);
    expect(findings[0]).toMatchObject({ line: 1, statement: '-- rds-migrate:allow drop-table' });
    expect(findings[0]?.message).toContain('gives no reason');
  });

  it('naming an unknown rule are findings that list the valid rule ids', async () => {
    const findings = await lintSql(
      input('-- rds-migrate:allow drop-tabel typo\nDROP TABLE legacy_sessions;'),
    );
    expect(findings.map((finding) => finding.rule)).toEqual(['invalid-allow-comment', 'drop-table']);
    expect(findings[0]?.message).toContain("unknown rule 'drop-tabel'");
    expect(findings[0]?.message).toContain('drop-table, drop-column');
    expect(findings[0]?.message).not.toContain('invalid-allow-comment');
  });

  it('separated from the statement by a blank line are findings', async () => {
    const findings = await lintSql(
      input('-- rds-migrate:allow drop-table archived\n\nDROP TABLE legacy_sessions;'),
    );
    expect(findings.map((finding) => finding.rule)).toEqual(['invalid-allow-comment', 'drop-table']);
    expect(findings[0]?.message).toContain('not directly above a statement');
  });

  it('are checked in down sections too', async () => {
    const ids = await ruleIds('-- rds-migrate:allow drop-table\nDROP TABLE users;', { section: 'down' });
    expect(ids).toEqual(['invalid-allow-comment']);
  });
});

describe('sections and transactions', () => {
  it('check down sections only for statements PostgreSQL would refuse', async () => {
    const sql =
      'DROP TABLE shipments;\nALTER TABLE users DROP COLUMN tenant_id;\nDROP INDEX CONCURRENTLY orders_idx;';
    expect(await ruleIds(sql, { section: 'down' })).toEqual(['concurrently-in-transaction']);
    expect(await ruleIds(sql, { section: 'down', transactional: false })).toEqual([]);
  });

  it('allow CONCURRENTLY in a migration with transaction: false', async () => {
    const sql = 'CREATE INDEX CONCURRENTLY orders_created_at_idx ON orders (created_at);';
    expect(await ruleIds(sql, { transactional: false })).toEqual([]);
    expect(await ruleIds(sql, { transactional: true })).toEqual(['concurrently-in-transaction']);
  });

  it('accept NOT VALID then VALIDATE then SET NOT NULL outside a transaction', async () => {
    const sql = [
      'ALTER TABLE users ADD CONSTRAINT users_tenant_id_not_null CHECK (tenant_id IS NOT NULL) NOT VALID;',
      'ALTER TABLE users VALIDATE CONSTRAINT users_tenant_id_not_null;',
      'ALTER TABLE users ALTER COLUMN tenant_id SET NOT NULL;',
    ].join('\n');
    expect(await ruleIds(sql, { transactional: false })).toEqual([]);
    expect(await ruleIds(sql, { transactional: true })).toEqual(['validate-in-same-transaction']);
  });

  it('do not count a validated CHECK on another column or table as proof for SET NOT NULL', async () => {
    const sql = [
      'ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;',
      'ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;',
      'ALTER TABLE users ALTER COLUMN tenant_id SET NOT NULL;',
      'ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;',
    ].join('\n');
    expect(await ruleIds(sql, { transactional: false })).toEqual(['set-not-null', 'set-not-null']);
  });
});

describe('SQL that does not parse', () => {
  // The error is on line 4, inside a statement that starts on line 3.
  const broken =
    'ALTER TABLE users ADD COLUMN tenant_id bigint;\n-- café\nALTER TABLE users\n  ADD COLUMN x int DEFALT 1;';

  it('throws SqlParseError naming the file, revision, section, line and parser message', async () => {
    const error = await lintSql(input(broken, { lineOffset: 4 })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SqlParseError);
    const parseError = error as SqlParseError;
    expect(parseError).toMatchObject({
      source: 'migrations/202611250900_test.sql',
      revision: 'a1b2c3d4e5f6',
      line: 4 + 4,
    });
    expect(parseError.parserMessage).toContain('syntax error at or near "DEFALT"');
    expect(parseError.message).toContain(
      'migrations/202611250900_test.sql (revision a1b2c3d4e5f6), up section, line 8',
    );
    expect(parseError.message).toContain('Fix the statement');
  });

  it('throws for down sections as well', async () => {
    await expect(lintSql(input(broken, { section: 'down' }))).rejects.toThrow(/down section, line 4/);
  });
});
