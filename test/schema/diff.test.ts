/**
 * `rds-migrate diff`, the migrations guide's "out of sync database": a database edited by hand
 * against the schema its recorded revision implies, as SQL that brings it back.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const repo = join(import.meta.dirname, '..', '..');
let project: string;
let database: TestDatabase;
let connection: Connection;

beforeEach(async () => {
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-diff-'));
  await cp(join(repo, 'migrations'), join(project, 'migrations'), { recursive: true });
  database = await freshDatabase();
  connection = await database.connect();
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

const cli = (...argv: string[]) =>
  runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });

/** The project's folder holding one migration instead of the repo's (whose TS migrations take seconds to run). */
async function onlyMigration(up: string, down: string): Promise<void> {
  await rm(join(project, 'migrations'), { recursive: true, force: true });
  await mkdir(join(project, 'migrations'));
  await writeFile(
    join(project, 'migrations', '202612010000_one.sql'),
    `-- revision: 1d0e0000aaaa\n-- down_revision: none\n-- message: one\n-- migrate:up\n${up}\n-- migrate:down\n${down}\n`,
  );
}

describe('rds-migrate diff', () => {
  it('exits 0 when the database has the schema its revision implies', async () => {
    expect((await cli('up', 'b7a4e19c03d5')).code).toBe(EXIT.ok);
    const result = await cli('diff');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(/at b7a4e19c03d5: the schema is the one its revision implies/);
  });

  it('prints the SQL that brings a hand-edited database back, and exits 1', async () => {
    expect((await cli('up')).code).toBe(EXIT.ok);
    await connection.db.query(`
      ALTER TABLE users ADD COLUMN nickname text;
      ALTER TABLE users ALTER COLUMN name SET DEFAULT 'anonymous';
      DROP INDEX idx_products_marketplace_shop;
      CREATE TABLE scratch_notes (id int)`);
    const result = await cli('diff');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stdout).toContain('at 9a3c4d5e6f7b differs from the schema its revision implies');
    for (const statement of [
      'drop table "public"."scratch_notes";',
      'alter table "public"."users" drop column "nickname";',
      'alter table "public"."users" alter column "name" drop default;',
      'CREATE INDEX idx_products_marketplace_shop ON public.products USING btree (marketplace, shop_name);',
    ]) {
      expect(result.stdout).toContain(statement);
    }
    expect(result.stderr).toContain('differs from the schema of 9a3c4d5e6f7b by 4 statements');

    // The printed SQL, run as it is (psql -f would), brings it back.
    await connection.db.query(result.stdout);
    expect((await cli('diff')).code).toBe(EXIT.ok);
  });

  it('answers as JSON with --json', async () => {
    expect((await cli('up')).code).toBe(EXIT.ok);
    await connection.db.query('ALTER TABLE products ALTER COLUMN price SET NOT NULL');
    const result = await cli('diff', '--json');
    expect(result.code).toBe(EXIT.failed);
    expect(JSON.parse(result.stdout)).toMatchObject({
      current: ['9a3c4d5e6f7b'],
      differs: true,
      statements: ['alter table "public"."products" alter column "price" drop not null;'],
    });
  });

  it('sees a sequence’s parameters changed by hand, and its SQL sets them back', async () => {
    await onlyMigration('CREATE TABLE invoices (id serial PRIMARY KEY);', 'DROP TABLE invoices;');
    expect((await cli('up')).code).toBe(EXIT.ok);
    await connection.db.query('ALTER SEQUENCE invoices_id_seq INCREMENT 10 CACHE 20');
    const result = await cli('diff');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stdout).toContain('alter sequence "public"."invoices_id_seq" increment by 1 cache 1;');
    await connection.db.query(result.stdout);
    expect((await cli('diff')).code).toBe(EXIT.ok);
  });

  describe('an enum a view uses', () => {
    const MOODS = (values: string) => `CREATE TYPE mood AS ENUM (${values});
CREATE TABLE moods (id int PRIMARY KEY, mood mood NOT NULL);
CREATE VIEW happy_moods AS SELECT id, mood FROM moods WHERE mood = 'happy';`;
    const withMoods = (values: string) =>
      onlyMigration(MOODS(values), 'DROP VIEW happy_moods; DROP TABLE moods; DROP TYPE mood;');

    it('gets the SQL that removes a value added by hand, the view set aside and back', async () => {
      await withMoods("'happy', 'sad'");
      expect((await cli('up')).code).toBe(EXIT.ok);
      await connection.db.query(`ALTER TYPE mood ADD VALUE 'meh'`);
      const result = await cli('diff');
      expect(result.code).toBe(EXIT.failed);
      expect(result.stdout).toMatch(
        /drop view if exists "public"."happy_moods";[\s\S]+create or replace view/,
      );
      await connection.db.query(result.stdout);
      expect((await cli('diff')).code).toBe(EXIT.ok);
    });

    it('gets the SQL that adds a value the database lacks with ADD VALUE, not by recreating the type', async () => {
      await withMoods("'happy', 'meh', 'sad'");
      expect((await cli('up')).code).toBe(EXIT.ok);
      await connection.db.query(
        `DROP VIEW happy_moods; DROP TABLE moods; DROP TYPE mood; ${MOODS("'happy', 'sad'")}`,
      );
      const result = await cli('diff');
      expect(result.code).toBe(EXIT.failed);
      expect(result.stdout).toContain(`alter type public.mood add value if not exists 'meh' after 'happy';`);
      expect(result.stdout).not.toContain('__old_version_to_be_dropped');
      // Run as psql -f would: ADD VALUE outside a transaction block.
      for (const statement of result.stdout
        .split(/;\n/)
        .filter((sql) => sql.trim() && !sql.trim().startsWith('--')))
        await connection.db.query(statement);
      expect((await cli('diff')).code).toBe(EXIT.ok);
    });
  });

  it('compares a database with no history with the empty schema of base', async () => {
    await connection.db.query('CREATE TABLE legacy (id int PRIMARY KEY)');
    const result = await cli('diff', '--json');
    expect(result.code).toBe(EXIT.failed);
    const diff = JSON.parse(result.stdout);
    expect(diff.current).toEqual([]);
    expect(diff.statements).toContain('drop table "public"."legacy";');
  });
});
