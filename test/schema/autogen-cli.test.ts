/**
 * The guide's loop on the example app, from the CLI: change schema/, `create --autogenerate`,
 * `check`, `up`; and where the wanted schema comes from (schema/, the config file, the flag).
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const repo = join(import.meta.dirname, '..', '..');
let project: string;
let database: TestDatabase;

beforeEach(async () => {
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-example-'));
  await cp(join(repo, 'migrations'), join(project, 'migrations'), { recursive: true });
  await cp(join(repo, 'schema'), join(project, 'schema'), { recursive: true });
  database = await freshDatabase();
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

const cli = (...argv: string[]) =>
  runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
const migrationFiles = async () => (await readdir(join(project, 'migrations'))).sort();

async function editSchema(file: string, edit: (text: string) => string): Promise<void> {
  const path = join(project, 'schema', file);
  await writeFile(path, edit(await readFile(path, 'utf8')));
}

describe('create --autogenerate on the example app', () => {
  it('has nothing to generate while schema/ matches head, and writes no file', async () => {
    const before = await migrationFiles();
    const result = await cli('create', '--autogenerate', 'nothing changed');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain(
      "nothing to generate: head's schema (9a3c4d5e6f7b) already matches schema/",
    );
    expect(await migrationFiles()).toEqual(before);
  });

  it('writes migrations for a new column and index that check passes and up applies', async () => {
    await editSchema('010_users.sql', (text) =>
      text
        .replace('  email_normalized text,\n', '  email_normalized text,\n  bio text,\n')
        .concat('\nCREATE INDEX idx_users_created_at ON users (created_at);\n'),
    );
    const created = await cli('create', '--autogenerate', 'add bio and created_at index to users');
    expect(created.code).toBe(EXIT.ok);
    expect(created.stdout).toMatch(
      /created migrations\/\d{12}_add_bio_and_created_at_index_to_users\.sql .*schema/,
    );
    expect(created.stdout).toMatch(
      /created migrations\/\d{12}_add_bio_and_created_at_index_to_users_indexes\.sql .*transaction: false/,
    );
    expect(created.stdout).toContain('the diff is then empty');
    expect(created.stdout).toContain('round trip on a shadow database: 2 up, 2 down, 2 up again');
    expect(created.stdout).toContain('review the SQL, then rds-migrate up');

    const check = await cli('check');
    expect(check.stdout).toContain('clean: no problems');
    expect(check.stdout).toMatch(/wanted\s+ok\s+schema\/ and the schema of \w+ agree/);
    expect(check.code).toBe(EXIT.ok);

    const up = await cli('up');
    expect(up.code).toBe(EXIT.ok);
    const connection = await database.connect();
    const index = await connection.db.query(
      `SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_users_created_at'::regclass`,
    );
    expect(index.rows).toEqual([{ indisvalid: true }]);
    expect((await cli('diff')).code).toBe(EXIT.ok);
  });

  it('says what needs review: an allow line awaiting a reason for a drop, and check fails until then', async () => {
    await editSchema('010_users.sql', (text) => text.replace('  profile_image text,\n', ''));
    const created = await cli('create', '--autogenerate', 'drop profile image');
    expect(created.code).toBe(EXIT.ok);
    expect(created.stdout).toMatch(
      /needs review \(1\):\n {2}migrations\/\d{12}_drop_profile_image\.sql:\d+: drop-column: /,
    );
    const check = await cli('check');
    expect(check.code).toBe(EXIT.failed);
    expect(check.stdout).toContain("allow comment for 'drop-column' gives no reason");
  });

  it('reads the wanted schema from rds-migrate.config.json, and the flag wins over it', async () => {
    await cp(join(project, 'schema'), join(project, 'db', 'wanted'), { recursive: true });
    await rm(join(project, 'schema'), { recursive: true });
    await writeFile(join(project, 'rds-migrate.config.json'), JSON.stringify({ wantedSchema: 'db/wanted' }));
    const configured = await cli('create', '--autogenerate', 'nothing');
    expect(configured.stdout).toContain('already matches db/wanted/');
    await writeFile(join(project, 'db', 'other.sql'), 'CREATE TABLE other (id int PRIMARY KEY);');
    const flagged = await cli(
      'create',
      '--autogenerate',
      'everything else',
      '--wanted-schema',
      'db',
      '--json',
    );
    expect(flagged.code).toBe(EXIT.ok);
    const report = JSON.parse(flagged.stdout);
    expect(report).toMatchObject({ status: 'written', wanted: 'db/' });
    expect(report.review.map((item: { rule?: string }) => item.rule).filter(Boolean)).toContain('drop-table');
  });

  it('refuses without a wanted schema, saying where one comes from', async () => {
    await rm(join(project, 'schema'), { recursive: true });
    const result = await cli('create', '--autogenerate', 'anything');
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('create schema/');
    expect(result.stderr).toContain('--wanted-schema');
    expect((await cli('create', 'plain', '--wanted-schema', 'schema')).code).toBe(EXIT.usage);
  });

  it('says what is wrong with Drizzle models it cannot load', async () => {
    const result = await cli(
      'create',
      '--autogenerate',
      'models',
      '--wanted-schema',
      'drizzle:src/db/missing.ts',
    );
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toContain('cannot load the Drizzle models');
    expect(result.stderr).toContain('src/db/missing.ts');
  });

  it('names the file and line PostgreSQL refused in the wanted schema', async () => {
    await writeFile(
      join(project, 'schema', '030_broken.sql'),
      '\nCREATE TABLE broken (id int PRIMARY KEY,);\n',
    );
    const result = await cli('create', '--autogenerate', 'broken');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toMatch(
      /schema\/030_broken\.sql:2: PostgreSQL refused the wanted schema: \[42601\]/,
    );
  });
});

describe('check: the wanted schema and the migrations agree', () => {
  it('is a problem that says to run create --autogenerate when schema/ changed alone', async () => {
    await editSchema('020_products.sql', (text) =>
      text.replace('  price text,', '  price text,\n  currency text,'),
    );
    const result = await cli('check', '--json');
    expect(result.code).toBe(EXIT.failed);
    const report = JSON.parse(result.stdout);
    expect(report.checks.wantedSchema.status).toBe('problems');
    expect(report.problems).toContainEqual(
      expect.objectContaining({
        kind: 'wanted-schema',
        rule: 'wanted-schema-differs',
        statements: ['alter table "public"."products" add column "currency" text;'],
      }),
    );
    expect(report.problems[0].fix).toContain('rds-migrate create --autogenerate');
  });

  it('is skipped by check --static, which needs no database', async () => {
    const result = await runCliCaptured(['check', '--static'], { env: {}, cwd: project });
    expect(result.stdout).toMatch(/wanted\s+skipped\s+--static: needs a database/);
  });
});
