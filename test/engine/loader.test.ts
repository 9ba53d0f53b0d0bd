import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigrationLoadError } from '../../lib/engine/errors.ts';
import { checksumOf, loadMigrations, parseSqlMigration } from '../../lib/engine/loader.ts';

const header = '-- revision: abcd00000001\n-- down_revision: none\n-- message: things\n';

describe('parseSqlMigration', () => {
  it('reads the header, both sections and the file line where the SQL of each starts', () => {
    const migration = parseSqlMigration(
      'x.sql',
      `${header}-- transaction: false\n-- lock_timeout: 1s\n\n-- migrate:up\nCREATE TABLE a (id int);\n\n-- migrate:down\nDROP TABLE a;\n`,
    );
    expect(migration).toMatchObject({
      revision: 'abcd00000001',
      downRevisions: [],
      message: 'things',
      transaction: false,
      timeouts: { lockTimeout: '1s' },
      up: { kind: 'sql', sql: 'CREATE TABLE a (id int);', line: 8 },
      down: { kind: 'sql', sql: 'DROP TABLE a;', line: 11 },
    });
  });

  it('reads several parents of a merge', () => {
    const migration = parseSqlMigration(
      'm.sql',
      '-- revision: abcd00000003\n-- down_revision: abcd00000001, abcd00000002\n-- migrate:up\n-- migrate:down\n',
    );
    expect(migration.downRevisions).toEqual(['abcd00000001', 'abcd00000002']);
    expect(migration.down).toEqual({ kind: 'sql', sql: '', line: 5 });
  });

  it('has no down step without a down section, and one marked irreversible keeps its reason', () => {
    expect(parseSqlMigration('x.sql', `${header}-- migrate:up\nSELECT 1;\n`).down).toBeUndefined();
    const irreversible = parseSqlMigration(
      'x.sql',
      `${header}-- irreversible: drops data\n-- migrate:up\nSELECT 1;\n`,
    );
    expect(irreversible.irreversible).toBe('drops data');
  });

  it.each([
    ['no revision', '-- migrate:up\nSELECT 1;\n', /no '-- revision: <id>' line/],
    ['no up section', `${header}SELECT 1;\n`, /no '-- migrate:up' line/],
    [
      'two up sections',
      `${header}-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n`,
      /two '-- migrate:up'/,
    ],
    ['a bad revision id', '-- revision: Not-An-Id\n-- migrate:up\nSELECT 1;\n', /not a valid id/],
    ['a reserved revision id', '-- revision: head\n-- migrate:up\nSELECT 1;\n', /not a valid id/],
    [
      'a bad transaction flag',
      `${header}-- transaction: maybe\n-- migrate:up\nSELECT 1;\n`,
      /write true or false/,
    ],
    [
      'irreversible with a down step',
      `${header}-- irreversible: x\n-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n`,
      /irreversible/,
    ],
  ])('refuses a file with %s, naming the file', (_, text, problem) => {
    try {
      parseSqlMigration('202601010000_bad.sql', text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MigrationLoadError);
      expect((error as Error).message).toMatch(/^202601010000_bad\.sql: /);
      expect((error as Error).message).toMatch(problem);
    }
  });

  it('takes CRLF line endings as the same checksum', () => {
    expect(checksumOf('a\r\nb\r\n')).toBe(checksumOf('a\nb\n'));
  });
});

describe('loadMigrations', () => {
  let folder: string;
  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'rds-migrate-loader-'));
  });
  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('loads SQL and TS migrations and ignores other files', async () => {
    await writeFile(
      join(folder, '202601010000_a.sql'),
      `${header}-- migrate:up\nSELECT 1;\n-- migrate:down\n`,
    );
    await writeFile(
      join(folder, '202601010001_b.ts'),
      "export default { revision: 'abcd00000002', downRevision: 'abcd00000001', async up() {}, async down() {} };\n",
    );
    await writeFile(join(folder, 'README.md'), '# notes');
    const migrations = await loadMigrations(folder);
    expect(migrations.map((m) => [m.revision, m.up.kind, m.message])).toEqual([
      ['abcd00000001', 'sql', 'things'],
      ['abcd00000002', 'code', 'b'],
    ]);
  });

  it.each([
    ['no default export', 'export const x = 1;\n', /no default export/],
    ['no revision', 'export default { async up() {} };\n', /no string 'revision'/],
    ['no up function', "export default { revision: 'abcd00000009' };\n", /no 'up\(ctx\)' function/],
    ['a syntax error', 'export default {{{\n', /cannot be imported/],
    [
      'a bad downRevision',
      "export default { revision: 'abcd00000009', downRevision: 7, async up() {} };\n",
      /downRevision/,
    ],
  ])('refuses a TS module with %s', async (_, text, problem) => {
    await writeFile(join(folder, '202601010000_bad.ts'), text);
    await expect(loadMigrations(folder)).rejects.toThrow(problem);
  });

  it('says what to do when the folder is missing', async () => {
    await expect(loadMigrations(join(folder, 'nope'))).rejects.toThrow(/create it or point --migrations-dir/);
  });
});
