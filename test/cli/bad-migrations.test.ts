/**
 * The bad-input corpus for migration folders (test/fixtures/bad/migrations/<case>/): each case
 * gets one clear line on stderr, exit code 1, and leaves the database exactly as it was: same
 * catalog, same history.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { schemaSnapshot } from '../../lib/engine/catalog.ts';
import type { Database } from '../../lib/engine/database.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const corpus = resolve(import.meta.dirname, '../fixtures/bad/migrations');
const expected = JSON.parse(readFileSync(join(corpus, 'expected.json'), 'utf8')) as Record<string, string>;
const cases = readdirSync(corpus, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

let database: TestDatabase;
let scratch: string;

beforeEach(async () => {
  database = await freshDatabase();
  scratch = await mkdtemp(join(tmpdir(), 'rds-migrate-bad-'));
});
afterEach(async () => {
  await database.drop();
  await rm(scratch, { recursive: true, force: true });
});

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: scratch });
}

/** Everything a failed run must not change: the catalog and every history row. */
async function databaseState(db: Database): Promise<unknown> {
  const history = await db.query(`SELECT to_regclass('rds_migrate.log') AS log`);
  const log = history.rows[0]?.log
    ? (await db.query('SELECT * FROM rds_migrate.log ORDER BY id')).rows
    : 'no history';
  const heads = history.rows[0]?.log
    ? (await db.query('SELECT * FROM rds_migrate.heads')).rows
    : 'no history';
  return { catalog: await schemaSnapshot(db, 'none'), log, heads };
}

describe('a bad migrations folder', () => {
  it('has an expectation for every case in the corpus', () => {
    expect(cases.length).toBeGreaterThanOrEqual(13);
    expect(Object.keys(expected).sort()).toEqual(cases);
  });

  it.each(cases)('%s: one clear error, database untouched', async (name) => {
    await cp(
      join(corpus, 'no-revision-sql/202601010000_base.sql'),
      join(scratch, 'base/202601010000_base.sql'),
    );
    expect((await cli('up', '-d', join(scratch, 'base'))).code).toBe(EXIT.ok);
    const connection = await database.connect();
    const before = await databaseState(connection.db);

    const result = await cli('up', '-d', join(corpus, name));

    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(expected[name]);
    expect(await databaseState(connection.db)).toEqual(before);
  });
});

describe('a database that has the schema but no history', () => {
  it('is refused with a hint to stamp, and gets no history schema', async () => {
    const connection = await database.connect();
    await connection.db.query('CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL)');
    const before = await databaseState(connection.db);

    const result = await cli('up', '-d', resolve(import.meta.dirname, '../../migrations'));

    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toContain('[42P07]');
    expect(result.stderr).toContain('rds-migrate stamp <revision>');
    expect(await databaseState(connection.db)).toEqual(before);
    expect(before).toMatchObject({ log: 'no history' });
  });
});
