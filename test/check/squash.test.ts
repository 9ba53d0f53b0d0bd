/**
 * rds-migrate squash on real PostgreSQL: base..<rev> become one file with <rev>'s id and
 * `replaces`; a database migrated with the old files is at <rev> already (no re-run, no drift), a
 * fresh one runs the one file and gets the same schema; the refusals say what to do.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { schemaSnapshot } from '../../lib/engine/catalog.ts';
import type { SquashReport } from '../../lib/schema/squash.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const file = (revision: string, parent: string, up: string, down: string) =>
  `-- revision: ${revision}\n-- down_revision: ${parent}\n-- message: step ${revision}\n\n-- migrate:up\n${up}\n\n-- migrate:down\n${down}\n`;

/** Four migrations up to aaaa00000004 (the squash), one after it. */
const HISTORY: Record<string, string> = {
  '0001_accounts.sql': file(
    'aaaa00000001',
    'none',
    'CREATE TABLE accounts (id bigint PRIMARY KEY, name text);',
    'DROP TABLE accounts;',
  ),
  '0002_email.sql': file(
    'aaaa00000002',
    'aaaa00000001',
    'ALTER TABLE accounts ADD COLUMN email text;\nCREATE UNIQUE INDEX accounts_email ON accounts (email);',
    'DROP INDEX accounts_email;\nALTER TABLE accounts DROP COLUMN email;',
  ),
  '0003_orders.sql': file(
    'aaaa00000003',
    'aaaa00000002',
    "CREATE TYPE order_state AS ENUM ('open', 'paid');\n" +
      "CREATE TABLE orders (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts (id), state order_state NOT NULL DEFAULT 'open');",
    'DROP TABLE orders;\nDROP TYPE order_state;',
  ),
  '0004_open_orders.sql': file(
    'aaaa00000004',
    'aaaa00000003',
    "CREATE VIEW open_orders AS SELECT id, account_id FROM orders WHERE state = 'open';",
    'DROP VIEW open_orders;',
  ),
  '0005_note.sql': file(
    'aaaa00000005',
    'aaaa00000004',
    'ALTER TABLE orders ADD COLUMN note text;',
    'ALTER TABLE orders DROP COLUMN note;',
  ),
};

let database: TestDatabase;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-squash-'));
  await mkdir(join(project, 'migrations'));
  for (const [name, text] of Object.entries(HISTORY))
    await writeFile(join(project, 'migrations', name), text);
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
}

async function ok(...argv: string[]): Promise<CliResult> {
  const result = await cli(...argv);
  expect(result.code, `${argv.join(' ')}: ${result.stderr}`).toBe(EXIT.ok);
  return result;
}

async function squash(...argv: string[]): Promise<SquashReport> {
  return JSON.parse((await ok('squash', ...argv, '--json')).stdout) as SquashReport;
}

async function schemaOf(url: string): Promise<string[]> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await schemaSnapshot(client as never);
  } finally {
    await client.end();
  }
}

describe('rds-migrate squash', () => {
  it('writes one proved file with the last id and replaces; the old files move to squashed/', async () => {
    const report = await squash('aaaa00000004');
    expect(report).toMatchObject({
      revision: 'aaaa00000004',
      replaces: ['aaaa00000001', 'aaaa00000002', 'aaaa00000003'],
      file: 'migrations/0004_squash_of_4_migrations_up_to_aaaa00000004.sql',
      droppedData: [],
      dryRun: false,
    });
    expect(report.proof.roundTrip).toBe('1 up, 1 down, 1 up again: the same schema');
    expect(await readdir(join(project, 'migrations'))).toEqual([
      '0004_squash_of_4_migrations_up_to_aaaa00000004.sql',
      '0005_note.sql',
      'squashed',
    ]);
    expect(await readdir(join(project, 'migrations', 'squashed'))).toEqual([
      '0001_accounts.sql',
      '0002_email.sql',
      '0003_orders.sql',
      '0004_open_orders.sql',
    ]);
    const text = await readFile(join(project, report.file), 'utf8');
    expect(text).toMatch(
      /^-- revision: aaaa00000004\n-- down_revision: none\n-- replaces: aaaa00000001, aaaa00000002, aaaa00000003\n/,
    );
    expect((await ok('heads')).stdout).toContain('aaaa00000005');
    const check = await ok('check');
    expect(check.stdout).toContain('clean: no problems');
  });

  it('leaves a database migrated with the old files where it is: no re-run, no drift, and down still works', async () => {
    await ok('up');
    const before = await schemaOf(database.url);
    await squash('aaaa00000004');
    const status = JSON.parse((await ok('status', '--json')).stdout) as {
      upToDate: boolean;
      drift: unknown[];
      current: string[];
    };
    expect(status).toMatchObject({ upToDate: true, drift: [], current: ['aaaa00000005'] });
    expect((await ok('up')).stdout).toContain('nothing to do');
    expect((await ok('check')).stdout).toMatch(
      /drift\s+ok\s+.* at aaaa00000005: \d+ applied migrations unchanged/,
    );
    // Down through the squash: its down drops what the old files built.
    await ok('down', 'base');
    expect((await schemaOf(database.url)).filter((line) => /accounts|orders/.test(line))).toEqual([]);
    await ok('up');
    expect(await schemaOf(database.url)).toEqual(before);
  });

  it('gives a fresh database the same schema from the one file', async () => {
    await ok('up');
    const migratedTheOldWay = await schemaOf(database.url);
    await squash('aaaa00000004');
    const fresh = await freshDatabase();
    try {
      const result = await runCliCaptured(['up'], { env: { DATABASE_URL: fresh.url }, cwd: project });
      expect(result.code).toBe(EXIT.ok);
      expect(result.stdout).toMatch(/applied +aaaa00000004 +0004_squash_of_4/);
      expect(result.stdout).toMatch(/base -> aaaa00000005: 2 migrations/);
      expect(await schemaOf(fresh.url)).toEqual(migratedTheOldWay);
    } finally {
      await fresh.drop();
    }
  });

  it('refuses to go on from part-way through the squashed revisions, saying how to get past them', async () => {
    await ok('up', 'aaaa00000002');
    await squash('aaaa00000004');
    const up = await cli('up');
    expect(up.code).toBe(EXIT.failed);
    expect(up.stderr).toContain('the database is at aaaa00000002, part-way through the revisions');
    expect(up.stderr).toContain('rds-migrate up aaaa00000004 (or down base)');
    const check = JSON.parse((await cli('check', '--json')).stdout) as { problems: { rule: string }[] };
    expect(check.problems.map((problem) => problem.rule)).toEqual(['inside-squash']);
  });

  it('refuses data changes unless told they may go, and names the revision before them', async () => {
    await writeFile(
      join(project, 'migrations', '0003_orders.sql'),
      HISTORY['0003_orders.sql']?.replace(
        '-- migrate:down',
        "UPDATE accounts SET name = 'unknown' WHERE name IS NULL;\n\n-- migrate:down",
      ) ?? '',
    );
    const refused = await cli('squash', 'aaaa00000004');
    expect(refused.code).toBe(EXIT.failed);
    expect(refused.stderr).toContain(
      '1 migration of the range change data, which a squash into a schema cannot carry: 0003_orders.sql (aaaa00000003): UPDATE',
    );
    expect(refused.stderr).toContain('squash up to aaaa00000002, the revision before the first of them');
    expect(await readdir(join(project, 'migrations'))).toHaveLength(5);
    const report = await squash('aaaa00000004', '--drop-data');
    expect(report.droppedData).toEqual([
      { revision: 'aaaa00000003', source: '0003_orders.sql', what: 'UPDATE' },
    ]);
    expect(await readFile(join(project, report.file), 'utf8')).toContain(
      '--   aaaa00000003 0003_orders.sql: UPDATE',
    );
  });

  it('refuses a range another branch builds on, and a single migration', async () => {
    await writeFile(
      join(project, 'migrations', '0006_side.sql'),
      file('aaaa00000006', 'aaaa00000002', 'CREATE TABLE side (id int);', 'DROP TABLE side;'),
    );
    const branched = await cli('squash', 'aaaa00000004');
    expect(branched.code).toBe(EXIT.failed);
    expect(branched.stderr).toContain(
      '0006_side.sql (revision aaaa00000006) builds on aaaa00000002, which the squash of aaaa00000004 would replace',
    );
    const single = await cli('squash', 'aaaa00000001');
    expect(single.code).toBe(EXIT.failed);
    expect(single.stderr).toContain('aaaa00000001 has nothing below it to squash with');
  });

  it('--dry-run writes nothing, --delete deletes, and a replaced file left behind is named', async () => {
    const dry = await squash('aaaa00000004', '--dry-run');
    expect(dry.dryRun).toBe(true);
    expect(await readdir(join(project, 'migrations'))).toHaveLength(5);
    const report = await squash('aaaa00000004', '--delete', '-m', 'schema as of v1');
    expect(report.file).toBe('migrations/0004_schema_as_of_v1.sql');
    expect(report.replaced.every(({ to }) => to === 'deleted')).toBe(true);
    expect(await readdir(join(project, 'migrations'))).toEqual(['0004_schema_as_of_v1.sql', '0005_note.sql']);
    await writeFile(join(project, 'migrations', '0002_email.sql'), HISTORY['0002_email.sql'] ?? '');
    const heads = await cli('heads');
    expect(heads.code).toBe(EXIT.failed);
    expect(heads.stderr).toContain(
      '0002_email.sql (revision aaaa00000002) is squashed into 0004_schema_as_of_v1.sql (revision aaaa00000004',
    );
  });
});
