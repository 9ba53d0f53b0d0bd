import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compileMigration } from '../../lib/construct/bundling.ts';
import { MigrationLoadError } from '../../lib/engine/errors.ts';
import {
  checksumOf,
  loadMigrationFile,
  loadMigrations,
  MigrationOutsideFolder,
  migrationFromModule,
  parseSqlMigration,
  UnprintableMigrationName,
} from '../../lib/engine/loader.ts';
import type { MigrationStep } from '../../lib/engine/migration.ts';

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

  it('reads branch_labels and depends_on, each a comma list; a migration without them has neither field', () => {
    const migration = parseSqlMigration(
      'x.sql',
      `${header}-- branch_labels: billing, payments\n-- depends_on: 1975ea83b712, networking\n-- migrate:up\nSELECT 1;\n`,
    );
    expect(migration.branchLabels).toEqual(['billing', 'payments']);
    expect(migration.dependsOn).toEqual(['1975ea83b712', 'networking']);
    const plain = parseSqlMigration('y.sql', `${header}-- depends_on: none\n-- migrate:up\nSELECT 1;\n`);
    expect(plain).not.toHaveProperty('branchLabels');
    expect(plain).not.toHaveProperty('dependsOn');
  });

  it.each([
    ['ae1027a6acf', 'an 11-character Alembic id'],
    ['a', 'one letter, as in Alembic’s own tests'],
    ['1', 'one digit'],
    ['001_initial', 'a hand-named id'],
    ['AddUsers', 'mixed case'],
  ])('accepts revision %s (%s)', (revision) => {
    const migration = parseSqlMigration('x.sql', `-- revision: ${revision}\n-- migrate:up\nSELECT 1;\n`);
    expect(migration.revision).toBe(revision);
  });

  it.each([
    ['a-b', 'has a hyphen, which relative targets use'],
    ['a+b', 'has a plus'],
    ['x@y', 'has an @, which branch targets use'],
    ['HEAD', 'is a reserved word in another case'],
    ['a'.repeat(65), 'is longer than 64'],
  ])('refuses revision %s: it %s', (revision) => {
    expect(() => parseSqlMigration('x.sql', `-- revision: ${revision}\n-- migrate:up\nSELECT 1;\n`)).toThrow(
      /not a valid id \(1 to 64 of a-z, A-Z, 0-9, _; not base\/head\/heads\/current\)/,
    );
  });

  it('refuses a branch label or depends_on that is not a name, saying which', () => {
    expect(() =>
      parseSqlMigration('x.sql', `${header}-- branch_labels: bill-ing\n-- migrate:up\nSELECT 1;\n`),
    ).toThrow(/branch_labels 'bill-ing', which is not a branch label/);
    expect(() =>
      parseSqlMigration('x.sql', `${header}-- depends_on: head\n-- migrate:up\nSELECT 1;\n`),
    ).toThrow(/depends_on 'head', which is not a revision id or branch label/);
  });

  it('reads lock_retries, a whole number, and refuses anything else', () => {
    const text = (value: string) =>
      `-- revision: aaaa0001\n-- lock_retries: ${value}\n\n-- migrate:up\nSELECT 1;\n\n-- migrate:down\n`;
    expect(parseSqlMigration('a.sql', text('10')).lockRetries).toBe(10);
    expect(parseSqlMigration('a.sql', text('0')).lockRetries).toBe(0);
    expect(
      parseSqlMigration('a.sql', '-- revision: aaaa0001\n\n-- migrate:up\nSELECT 1;\n').lockRetries,
    ).toBeUndefined();
    expect(() => parseSqlMigration('a.sql', text('lots'))).toThrow(
      "a.sql: has 'lock_retries: lots'; write a whole number (0: no retries)",
    );
  });

  it('takes CRLF line endings as the same checksum', () => {
    expect(checksumOf('a\r\nb\r\n')).toBe(checksumOf('a\nb\n'));
  });

  it('finds sections, their SQL and lines as a line-by-line reading does, looking only at lines with migrate: in them', () => {
    const lines = [
      '-- migrate:up',
      '  --   migrate:down  ',
      '-- migrate: up',
      '-- migrate:upper',
      'SELECT 1; -- migrate:down',
      "SELECT 'migrate:up';",
      '',
      '   ',
      '\u2028',
      'CREATE TABLE t (a int);',
      '-- migrate:down\r',
      '-- owner: anywhere',
    ];
    // Every file of up to four of these lines after the header, CRLF or not: 2 x 12^4 of them.
    const files: string[] = [];
    const pick = (count: number, prefix: string[]): void => {
      if (count === 0) {
        files.push(`${header}${prefix.join('\n')}`, `${header}${prefix.join('\r\n')}\r\n`);
        return;
      }
      for (const line of lines) pick(count - 1, [...prefix, line]);
    };
    pick(4, []);
    let compared = 0;
    for (const text of files) {
      const expected = readLineByLine(text);
      if (!expected) continue;
      const migration = parseSqlMigration('x.sql', text);
      expect({ up: migration.up, down: migration.down }).toEqual(expected);
      expect(migration.checksum).toBe(checksumOf(text));
      compared++;
    }
    expect(compared).toBeGreaterThan(5000);
  });
});

/** The sections of a file read one line at a time (how the parser worked before it skipped lines): undefined if it has no single up section. */
function readLineByLine(text: string): { up: MigrationStep; down?: MigrationStep } | undefined {
  const sections: Record<string, { start: number; lines: string[] }> = {};
  let current: string | undefined;
  for (const [index, line] of text.replace(/\r\n/g, '\n').split('\n').entries()) {
    const marker = /^--\s*migrate:(up|down)\s*$/.exec(line.trim());
    if (marker?.[1]) {
      if (sections[marker[1]]) return undefined;
      current = marker[1];
      sections[current] = { start: index + 2, lines: [] };
    } else if (current) sections[current]?.lines.push(line);
  }
  const step = (section: { start: number; lines: string[] } | undefined): MigrationStep | undefined => {
    if (!section) return undefined;
    const blank = section.lines.findIndex((line) => line.trim() !== '');
    return { kind: 'sql', sql: section.lines.join('\n').trim(), line: section.start + Math.max(0, blank) };
  };
  const up = step(sections.up);
  return up ? { up, down: step(sections.down) } : undefined;
}

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

  it('reads branchLabels and dependsOn of a TS module, as a string or a list', () => {
    const up = async () => {};
    const migration = migrationFromModule(
      'b.ts',
      { revision: 'b1', downRevision: null, branchLabels: 'billing', dependsOn: ['a1', 'networking'], up },
      'checksum',
    );
    expect(migration.branchLabels).toEqual(['billing']);
    expect(migration.dependsOn).toEqual(['a1', 'networking']);
    expect(() => migrationFromModule('c.ts', { revision: 'c1', dependsOn: 3, up }, 'checksum')).toThrow(
      /'dependsOn' that is neither a string, a list of strings, nor null/,
    );
  });

  it('says what to do when the folder is missing', async () => {
    await expect(loadMigrations(join(folder, 'nope'))).rejects.toThrow(/create it or point --migrations-dir/);
  });
});

describe('files the loader refuses to read', () => {
  let folder: string;
  let migrations: string;
  beforeEach(async () => {
    folder = await realpath(await mkdtemp(join(tmpdir(), 'rds-migrate-loader-')));
    migrations = join(folder, 'migrations');
    await mkdir(migrations);
  });
  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  const sql = (revision: string, extra = '') =>
    `-- revision: ${revision}\n-- down_revision: none\n${extra}-- migrate:up\nSELECT 1;\n-- migrate:down\n`;

  it('refuses a file whose name holds a newline, naming it escaped and saying to rename it', async () => {
    const name = '202601010000_base\nDROP TABLE victim;\n--.sql';
    await writeFile(join(migrations, name), sql('abcd00000001'));
    const refused = loadMigrations(migrations);
    await expect(refused).rejects.toBeInstanceOf(UnprintableMigrationName);
    await expect(refused).rejects.toThrow(
      '202601010000_base\\nDROP TABLE victim;\\n--.sql: has control characters in its name',
    );
    await expect(refused).rejects.toThrow(/rename it/);
    await expect(loadMigrationFile(migrations, name)).rejects.toMatchObject({
      source: '202601010000_base\\nDROP TABLE victim;\\n--.sql',
      message: expect.not.stringContaining('\n'),
    });
  });

  it.each([
    ['an escape sequence', '202601010000_\u001b[31mred.sql'],
    ['a carriage return', '202601010000_a\rb.sql'],
    ['a line separator', '202601010000_a\u2028b.sql'],
  ])('refuses a file whose name holds %s', async (_, name) => {
    await writeFile(join(migrations, name), sql('abcd00000001'));
    const error = await loadMigrations(migrations).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(UnprintableMigrationName);
    expect((error as Error).message).not.toMatch(/[\p{Cc}\u2028\u2029]/u);
  });

  it('refuses a message with control characters, in a SQL header or a TS module', async () => {
    await writeFile(
      join(migrations, '202601010000_a.sql'),
      sql('abcd00000001', '-- message: \u001b[2Jgone\n'),
    );
    await expect(loadMigrations(migrations)).rejects.toThrow(
      "202601010000_a.sql: has control characters in its message ('\\x1b[2Jgone'); write its '-- message:' line",
    );
    await rm(join(migrations, '202601010000_a.sql'));
    await writeFile(
      join(migrations, '202601010001_b.ts'),
      "export default { revision: 'abcd00000002', message: 'two\\nlines', async up() {} };\n",
    );
    const error = await loadMigrations(migrations).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(UnprintableMigrationName);
    expect((error as Error).message).toContain("message ('two\\nlines'); write the module's 'message'");
  });

  it('refuses a link to a file outside the folder, saying where it leads', async () => {
    const outside = join(folder, 'elsewhere.sql');
    await writeFile(outside, sql('abcd00000001'));
    await symlink(outside, join(migrations, '202601010000_linked.sql'));
    const refused = loadMigrations(migrations);
    await expect(refused).rejects.toBeInstanceOf(MigrationOutsideFolder);
    await expect(refused).rejects.toThrow(
      `202601010000_linked.sql: is a symbolic link to ${outside}, outside the migrations folder ${migrations}`,
    );
    await expect(loadMigrationFile(migrations, '202601010000_linked.sql')).rejects.toMatchObject({
      target: outside,
    });
  });

  it('refuses a relative link that climbs out, and a link through a linked folder outside', async () => {
    await mkdir(join(folder, 'shared'));
    await writeFile(join(folder, 'shared', 'x.sql'), sql('abcd00000001'));
    await symlink('../shared/x.sql', join(migrations, '202601010000_up.sql'));
    await expect(loadMigrations(migrations)).rejects.toBeInstanceOf(MigrationOutsideFolder);
    await rm(join(migrations, '202601010000_up.sql'));
    await symlink(join(folder, 'shared'), join(migrations, 'shared'));
    await symlink('shared/x.sql', join(migrations, '202601010000_through.sql'));
    await expect(loadMigrations(migrations)).rejects.toThrow(
      `is a symbolic link to ${join(folder, 'shared', 'x.sql')}`,
    );
  });

  it('reads a link to a file inside the folder, and a folder that is itself a link', async () => {
    await mkdir(join(migrations, 'kept'));
    await writeFile(join(migrations, 'kept', 'a.sql'), sql('abcd00000001'));
    await symlink('kept/a.sql', join(migrations, '202601010000_a.sql'));
    await symlink(migrations, join(folder, 'linked-migrations'));
    for (const directory of [migrations, join(folder, 'linked-migrations')]) {
      expect((await loadMigrations(directory)).map((migration) => migration.revision)).toEqual([
        'abcd00000001',
      ]);
    }
  });

  it('says a link that leads nowhere does', async () => {
    await symlink(join(folder, 'gone.sql'), join(migrations, '202601010000_gone.sql'));
    await expect(loadMigrations(migrations)).rejects.toThrow(
      `202601010000_gone.sql: is a symbolic link to ${join(folder, 'gone.sql')}, which does not exist`,
    );
  });

  it('refuses the compiled module of a TS migration when it is a link out of the folder', async () => {
    const ts = "export default { revision: 'abcd00000002', async up() {} };\n";
    await writeFile(join(migrations, '202601010001_b.ts'), ts);
    await writeFile(join(folder, 'b.mjs'), ts);
    await symlink(join(folder, 'b.mjs'), join(migrations, '202601010001_b.mjs'));
    await expect(loadMigrations(migrations)).rejects.toThrow(
      `202601010001_b.mjs: is a symbolic link to ${join(folder, 'b.mjs')}, outside the migrations folder`,
    );
  });
});

/**
 * The installed CLI is plain JavaScript under plain node: a `.ts` migration goes through tsx's
 * API, which loads it as the project's package.json says (CommonJS unless `"type": "module"`).
 * Under vitest every module is an ES module, so the loader runs here in a child node process,
 * bundled to one file inside this repository's node_modules (where it finds tsx); the projects
 * are folders of their own elsewhere, as a user's are.
 */
describe('TS migrations in CommonJS and ESM projects, under plain node', () => {
  const root = join(import.meta.dirname, '..', '..');
  let work: string;
  let projects: string;
  let loaderScript: string;

  beforeAll(async () => {
    const cache = join(root, 'node_modules', '.cache');
    await mkdir(cache, { recursive: true });
    work = await mkdtemp(join(cache, 'rds-migrate-loader-'));
    projects = await mkdtemp(join(tmpdir(), 'rds-migrate-projects-'));
    const loader = join(work, 'loader.mjs');
    buildSync({
      entryPoints: [join(root, 'lib', 'engine', 'loader.ts')],
      outfile: loader,
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'error',
    });
    loaderScript = join(work, 'load.mjs');
    await writeFile(
      loaderScript,
      `import { loadMigrations } from ${JSON.stringify(pathToFileURL(loader).href)};\n` +
        'const loaded = await loadMigrations(process.argv[2]).catch((error) => ({ error: error.message }));\n' +
        'console.log(JSON.stringify(Array.isArray(loaded) ? loaded.map((m) => ({ revision: m.revision, ' +
        'downRevisions: m.downRevisions, message: m.message, checksum: m.checksum, up: typeof m.up.run, ' +
        "module: m.modulePath.slice(m.modulePath.lastIndexOf('.')) })) : loaded));\n",
    );
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
    await rm(projects, { recursive: true, force: true });
  });

  // An enum: Node's own type stripping (22+) refuses it, so every Node goes through tsx.
  const migration = `import type { MigrationContext } from 'rds-migrate';
enum Seed { Count = 3 }
export default {
  revision: 'abcd00000001',
  downRevision: null,
  message: 'seed',
  async up(ctx: MigrationContext) { await ctx.sql\`SELECT \${Seed.Count}\`; },
  async down(ctx: MigrationContext) {},
};
`;

  async function project(manifest: object): Promise<string> {
    const folder = await mkdtemp(join(projects, 'app-'));
    await writeFile(join(folder, 'package.json'), JSON.stringify(manifest));
    await mkdir(join(folder, 'migrations'));
    await writeFile(join(folder, 'migrations', '202601010000_seed.ts'), migration);
    return join(folder, 'migrations');
  }

  function loadUnderNode(folder: string): unknown {
    return JSON.parse(execFileSync(process.execPath, [loaderScript, folder], { encoding: 'utf8' }));
  }

  const expected = {
    revision: 'abcd00000001',
    downRevisions: [],
    message: 'seed',
    checksum: checksumOf(migration),
    up: 'function',
  };

  it.each([
    ['a CommonJS project (cdk init: no "type")', { name: 'app', version: '0.1.0' }],
    ['an ESM project ("type": "module")', { name: 'app', type: 'module' }],
  ])('loads the default export of a TS migration of %s', async (_, manifest) => {
    expect(loadUnderNode(await project(manifest))).toEqual([{ ...expected, module: '.ts' }]);
  });

  it("reads the function asset's compiled .mjs of a CommonJS project's migration as the same migration", async () => {
    const migrations = await project({ name: 'app', version: '0.1.0' });
    const asset = join(dirname(migrations), 'asset');
    await mkdir(asset);
    await copyFile(join(migrations, '202601010000_seed.ts'), join(asset, '202601010000_seed.ts'));
    compileMigration(join(migrations, '202601010000_seed.ts'), join(asset, '202601010000_seed.mjs'));
    expect(loadUnderNode(asset)).toEqual([{ ...expected, module: '.mjs' }]);
  });
});
