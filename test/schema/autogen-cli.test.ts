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
/** The CLI with a person at the terminal who answers each question with `answer`. */
const cliInTerminal = (answer: (question: string) => boolean, ...argv: string[]) =>
  runCliCaptured(argv, {
    env: { DATABASE_URL: database.url },
    cwd: project,
    confirm: async (question) => answer(question),
  });
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

describe('create --autogenerate: a rename, or a drop and an add', () => {
  const renameName = () =>
    editSchema('010_users.sql', (text) => text.replace('  name text,', '  full_name text,'));

  it('writes nothing without a terminal or a flag, and names the flags that decide', async () => {
    await renameName();
    const before = await migrationFiles();
    const result = await cli('create', '--autogenerate', 'full name');
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('nothing was written');
    expect(result.stderr).toContain('column users.name disappears while users.full_name (text) appears');
    expect(result.stderr).toContain('--rename users.name=users.full_name');
    expect(result.stderr).toContain('--drop-add users.name=users.full_name');
    expect(await migrationFiles()).toEqual(before);
  });

  it('writes a drop and an add, the drop awaiting its reason, when --drop-add says so', async () => {
    await renameName();
    const result = await cli(
      'create',
      '--autogenerate',
      'full name',
      '--drop-add',
      'users.name=users.full_name',
    );
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(
      /needs review \(2\):\n {2}migrations\/\d{12}_full_name\.sql:\d+: drop-column: /,
    );
    expect(result.stdout).toContain(
      'users.name is dropped and users.full_name added, as decided (not a rename)',
    );
    const [written] = (await migrationFiles()).filter((name) => name.endsWith('_full_name.sql'));
    const text = await readFile(join(project, 'migrations', written as string), 'utf8');
    expect(text).toMatch(
      /-- rds-migrate:allow drop-column\n(?:--.*\n)*alter table "public"\."users" drop column "name";/,
    );
    expect(text).toContain('add column "full_name" text');
  });

  it('asks in a terminal, and writes RENAME when the answer is a rename', async () => {
    await renameName();
    const questions: string[] = [];
    const result = await cliInTerminal(
      (question) => questions.push(question) > 0,
      'create',
      '--autogenerate',
      'full name',
    );
    expect(result.code).toBe(EXIT.ok);
    expect(questions).toEqual([expect.stringContaining('Is it users.name renamed to users.full_name')]);
    const [written] = (await migrationFiles()).filter((name) => name.endsWith('_full_name.sql'));
    const text = await readFile(join(project, 'migrations', written as string), 'utf8');
    expect(text).toContain('ALTER TABLE "public"."users" RENAME COLUMN "name" TO "full_name";');
    expect(text).not.toMatch(/drop column|rds-migrate:allow/i);
  });

  it('keeps the rows of renamed tables and columns through up, and gives them back through down', async () => {
    expect((await cli('up', '-x', 'dev_data=true')).code).toBe(EXIT.ok);
    await renameName();
    await editSchema('020_products.sql', (text) =>
      text
        .replace(/products/g, 'items')
        .replace(/shop_name/g, 'store_name')
        .replace('idx_items', 'idx_products'),
    );
    const created = await cli(
      'create',
      '--autogenerate',
      'items and full names',
      '--rename',
      'products=items',
      '--rename',
      'products.shop_name=items.store_name',
      '--rename',
      'users.name=full_name',
    );
    expect(created.code).toBe(EXIT.ok);
    expect(created.stdout).toContain(
      'renamed, not dropped and added (the rows keep their data): table products \u2192 items, ' +
        'column products.shop_name \u2192 items.store_name, column users.name \u2192 users.full_name',
    );
    const connection = await database.connect();
    const rows = (sql: string) => connection.db.query(sql).then((result) => result.rows);

    expect((await cli('up')).code).toBe(EXIT.ok);
    expect(await rows('SELECT full_name FROM users ORDER BY id')).toEqual([
      { full_name: 'ada' },
      { full_name: 'grace' },
      { full_name: 'edsger' },
    ]);
    expect(await rows('SELECT store_name FROM items ORDER BY id')).toEqual([
      { store_name: 'ada-books' },
      { store_name: 'grace-goods' },
    ]);
    expect((await cli('diff')).code).toBe(EXIT.ok);

    expect((await cli('down')).code).toBe(EXIT.ok);
    expect(await rows('SELECT name FROM users ORDER BY id')).toEqual([
      { name: 'ada' },
      { name: 'grace' },
      { name: 'edsger' },
    ]);
    expect(await rows('SELECT shop_name FROM products ORDER BY id')).toEqual([
      { shop_name: 'ada-books' },
      { shop_name: 'grace-goods' },
    ]);
  });

  it('documents both flags in --help, with examples', async () => {
    const help = await cli('create', '--help');
    expect(help.stdout).toContain('--rename <old=new>');
    expect(help.stdout).toContain('--drop-add <old=new>');
    expect(help.stdout).toContain('--rename users.name=users.full_name');
    expect(help.stdout).toContain('--drop-add users.name=users.full_name');
  });
});

describe('create --autogenerate --fill', () => {
  it('is taught by --help, with examples', async () => {
    const help = await cli('create', '--help');
    expect(help.stdout).toContain('--fill <table.column=expr>');
    expect(help.stdout).toContain('--fill users.score=0');
    expect(help.stdout).toContain(`--fill "users.plan=coalesce(legacy_plan, 'free')"`);
  });

  it('refuses a value that is not one expression, or given without --autogenerate, naming the form', async () => {
    const hidden = await cli(
      'create',
      '--autogenerate',
      'score',
      '--fill',
      'users.score=0; DROP TABLE users',
    );
    expect(hidden.code).toBe(EXIT.usage);
    expect(hidden.stderr).toContain('"0; DROP TABLE users" is not one SQL expression');
    const malformed = await cli('create', '--autogenerate', 'score', '--fill', 'score');
    expect(malformed.code).toBe(EXIT.usage);
    expect(malformed.stderr).toContain(
      'expected <table>.<column>=<sql expression>, e.g. --fill users.score=0',
    );
    const alone = await cli('create', 'score', '--fill', 'users.score=0');
    expect(alone.code).toBe(EXIT.usage);
    expect(alone.stderr).toContain('--fill and --json go with --autogenerate');
  });

  it('refuses a --fill for a column no change makes NOT NULL', async () => {
    const unused = await cli('create', '--autogenerate', 'nothing', '--fill', 'users.nope=1');
    expect(unused.code).toBe(EXIT.usage);
    expect(unused.stderr).toContain('--fill users.nope: this change makes no such column NOT NULL');
    expect(await migrationFiles()).not.toContainEqual(expect.stringContaining('nothing'));
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
