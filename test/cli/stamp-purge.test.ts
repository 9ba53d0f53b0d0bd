/**
 * A database at a revision the folder lacks (its file deleted, or another git branch's): up, down
 * and a plain stamp refuse it and name the way out, `stamp --purge <revision>`, which forgets the
 * unknown revisions, records the one named, and says so in the history.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const UNKNOWN_MEANS = "a revision no file in migrations/ has; a deleted migration, or another branch's";

let database: TestDatabase;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-purge-'));
  // SQL only: a TS migration's down step is bundled with esbuild as it is applied, which is slow.
  await mkdir(join(project, 'migrations'));
  await writeMigration('202601010001_settings.sql', 'cccc00000001', 'none', 'settings');
  await writeMigration('202601010002_notes.sql', 'cccc00000002', 'cccc00000001', 'notes');
  await writeMigration('202601010003_greeting.sql', 'cccc00000003', 'cccc00000002', 'greeting');
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
}

async function current(): Promise<string[]> {
  return JSON.parse((await cli('current', '--json')).stdout).current;
}

async function writeMigration(name: string, revision: string, parent: string, table: string): Promise<void> {
  await writeFile(
    join(project, 'migrations', name),
    `-- revision: ${revision}\n-- down_revision: ${parent}\n-- message: ${table}\n\n` +
      `-- migrate:up\nCREATE TABLE ${table} (id int);\n\n-- migrate:down\nDROP TABLE ${table};\n`,
  );
}

/** Applies the fixture's three migrations, then deletes the head's file. */
async function deleteAppliedHead(): Promise<void> {
  expect((await cli('up')).code).toBe(EXIT.ok);
  await rm(join(project, 'migrations', '202601010003_greeting.sql'));
}

describe('a database at a revision the folder lacks', () => {
  it('up and down fail naming stamp --purge with the revision it stood on, and what unknown means', async () => {
    await deleteAppliedHead();
    for (const command of ['up', 'down']) {
      const result = await cli(command);
      expect(result.code).toBe(EXIT.failed);
      expect(result.stderr).toContain('the database is at revision cccc00000003');
      expect(result.stderr).toContain(UNKNOWN_MEANS);
      expect(result.stderr).toContain('rds-migrate stamp --purge cccc00000002');
    }
    expect(await current()).toEqual(['cccc00000003']);
  });

  it('status still works, shows the unknown revision and the command that recovers', async () => {
    await deleteAppliedHead();
    const status = await cli('status');
    expect(status.code).toBe(EXIT.ok);
    expect(status.stdout).toContain('unknown    cccc00000003');
    expect(status.stdout).toContain(UNKNOWN_MEANS);
    expect(status.stdout).toContain('rds-migrate stamp --purge cccc00000002');
    const json = JSON.parse((await cli('status', '--json')).stdout);
    expect(json).toMatchObject({ unknown: ['cccc00000003'], recoverTo: ['cccc00000002'] });
  });

  it('stamp without --purge says to add it, with the revision asked for', async () => {
    await deleteAppliedHead();
    const stamp = await cli('stamp', 'cccc00000002');
    expect(stamp.code).toBe(EXIT.failed);
    expect(stamp.stderr).toContain(UNKNOWN_MEANS);
    expect(stamp.stderr).toContain('add --purge: rds-migrate stamp --purge cccc00000002');
    expect(await current()).toEqual(['cccc00000003']);
  });

  it('stamp --purge recovers: the history shows what was purged, and up works again', async () => {
    await deleteAppliedHead();
    const purge = await cli('stamp', '--purge', 'cccc00000002', '--yes');
    expect(purge.code).toBe(EXIT.ok);
    expect(purge.stdout).toContain('cccc00000003 -> cccc00000002');
    expect(purge.stdout).toContain('purged cccc00000003');
    expect(await current()).toEqual(['cccc00000002']);

    const history = JSON.parse((await cli('history', '--json')).stdout);
    const row = history.log.find((entry: { revision: string }) => entry.revision === 'cccc00000003');
    expect(row).toMatchObject({
      direction: 'stamp-down',
      message: 'greeting',
      source: '202601010003_greeting.sql',
    });
    expect(row.note).toBe('stamp --purge cccc00000003 -> cccc00000002 (purged cccc00000003)');
    expect((await cli('history', '--verbose')).stdout).toContain('purged cccc00000003');

    await writeMigration('202601010004_tags.sql', 'cccc00000004', 'cccc00000002', 'tags');
    const up = await cli('up');
    expect(up.code).toBe(EXIT.ok);
    expect(up.stdout).toContain('cccc00000002 -> cccc00000004: 1 migration');
    expect((await cli('status')).stdout).toContain('none: up to date');
  });

  it("after a switch of branch, names the revision both branches share, not the folder's head", async () => {
    await writeMigration('202601010004_audit.sql', 'cccc0000000a', 'cccc00000002', 'audit');
    await rm(join(project, 'migrations', '202601010003_greeting.sql'));
    expect((await cli('up')).code).toBe(EXIT.ok);
    // The other branch: cccc0000000a gone, cccc0000000b in its place on top of cccc00000002.
    await rm(join(project, 'migrations', '202601010004_audit.sql'));
    await writeMigration('202601010005_tags.sql', 'cccc0000000b', 'cccc00000002', 'tags');
    const up = await cli('up');
    expect(up.code).toBe(EXIT.failed);
    expect(up.stderr).toContain('rds-migrate stamp --purge cccc00000002');
    expect((await cli('stamp', '--purge', 'cccc00000002', '--yes')).code).toBe(EXIT.ok);
    expect((await cli('up')).code).toBe(EXIT.ok);
    expect(await current()).toEqual(['cccc0000000b']);
  });

  it('purges a head that left no record in the log, naming what the log says is applied', async () => {
    expect((await cli('up', 'cccc00000001')).code).toBe(EXIT.ok);
    const connection = await database.connect();
    await connection.db.query(`UPDATE rds_migrate.heads SET revision = 'feedfeedfeed'`);
    const up = await cli('up');
    expect(up.stderr).toContain('rds-migrate stamp --purge cccc00000001');
    expect((await cli('stamp', '--purge', 'cccc00000001', '--yes')).code).toBe(EXIT.ok);
    const history = JSON.parse((await cli('history', '--json')).stdout);
    expect(history.log[0]).toMatchObject({ revision: 'feedfeedfeed', direction: 'stamp-down' });
    expect(await current()).toEqual(['cccc00000001']);
  });
});

describe('rds-migrate stamp --purge', () => {
  it('asks before purging when interactive; no answer changes nothing', async () => {
    await deleteAppliedHead();
    const questions: string[] = [];
    const ask = (answer: boolean) => async (question: string) => {
      questions.push(question);
      return answer;
    };
    const declined = await runCliCaptured(['stamp', '--purge', 'cccc00000002'], {
      env: { DATABASE_URL: database.url },
      cwd: project,
      confirm: ask(false),
    });
    expect(declined.code).toBe(EXIT.failed);
    expect(declined.stderr).toContain('nothing was changed');
    expect(questions[0]).toContain('forget cccc00000003 (no file in migrations/ has it)');
    expect(questions[0]).toContain('record cccc00000002');
    expect(await current()).toEqual(['cccc00000003']);

    const accepted = await runCliCaptured(['stamp', '--purge', 'cccc00000002'], {
      env: { DATABASE_URL: database.url },
      cwd: project,
      confirm: ask(true),
    });
    expect(accepted.code).toBe(EXIT.ok);
    expect(await current()).toEqual(['cccc00000002']);
  });

  it('without a terminal, needs --yes', async () => {
    await deleteAppliedHead();
    const result = await cli('stamp', '--purge', 'cccc00000002');
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('--yes');
    expect(await current()).toEqual(['cccc00000003']);
  });

  it('also drops known heads, as Alembic does, and records only the revision named', async () => {
    expect((await cli('up')).code).toBe(EXIT.ok);
    const result = await cli('stamp', '--purge', 'cccc00000001', '--yes');
    expect(result.code).toBe(EXIT.ok);
    expect(await current()).toEqual(['cccc00000001']);
  });

  it('--help explains --purge with an example', async () => {
    const help = await cli('stamp', '--help');
    expect(help.stdout).toContain('--purge');
    expect(help.stdout).toContain('--yes');
    expect(help.stdout).toMatch(/\$ rds-migrate stamp --purge \w+ +# /);
  });
});
