/**
 * Values the CLI reads from a database (revisions, actors, notes of the history tables) reach the
 * terminal escaped: a row holding an escape sequence is shown as text (`\x1b[31m`), never sent to
 * the terminal as a command. `--json` stays JSON, which escapes control characters itself.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const repo = resolve(import.meta.dirname, '../..');
const EVIL = '\u001b[31mEVIL\u0007';
const SHOWN = '\\x1b[31mEVIL\\x07';
/** Any control character but the newlines that end the CLI's own lines. */
const CONTROL = /[^\P{Cc}\n]|[\u2028\u2029]/u;

let database: TestDatabase;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-values-'));
  await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
}

async function sql(text: string, values: unknown[] = []): Promise<void> {
  const connection = await database.connect();
  await connection.db.query(text, values);
}

function expectNoControlCharacters(result: CliResult): void {
  expect(result.stdout).not.toMatch(CONTROL);
  expect(result.stderr).not.toMatch(CONTROL);
}

describe('values read from the database, printed', () => {
  it('status shows a head the folder does not know, and who left a step half-done, escaped', async () => {
    expect((await cli('up')).code).toBe(EXIT.ok);
    await sql('INSERT INTO rds_migrate.heads (revision) VALUES ($1)', [EVIL]);
    await sql(
      `INSERT INTO rds_migrate.in_progress (revision, direction, actor) VALUES ('cccc00000003', 'up', $1)`,
      [EVIL],
    );
    const status = await cli('status');
    expectNoControlCharacters(status);
    expect(status.stdout).toContain(`unknown    ${SHOWN}: a revision no file in migrations/ has`);
    expect(status.stdout).toContain(`by ${SHOWN}; check it`);

    const current = await cli('current');
    expectNoControlCharacters(current);
    expect(current.stdout).toContain(SHOWN);
    // JSON keeps the value itself, escaped as JSON escapes it.
    const json = await cli('current', '--json');
    expect(json.stdout).toContain('\\u001b[31mEVIL\\u0007');
    expect(JSON.parse(json.stdout).current).toContain(EVIL);
  });

  it('history --verbose and show print the log rows, their actor and note escaped', async () => {
    expect((await cli('up')).code).toBe(EXIT.ok);
    await sql('UPDATE rds_migrate.log SET actor = $1, note = $1', [EVIL]);
    const history = await cli('history', '--verbose');
    expect(history.code).toBe(EXIT.ok);
    expectNoControlCharacters(history);
    expect(history.stdout).toContain(`by ${SHOWN} in`);
    expect(history.stdout).toContain(`ms  ${SHOWN}  (${SHOWN})`);

    const show = await cli('show', 'cccc00000001');
    expectNoControlCharacters(show);
    expect(show.stdout).toContain(`up by ${SHOWN} in`);
  });

  it('a run report escapes the revisions it started from', async () => {
    expect((await cli('up', 'cccc00000001')).code).toBe(EXIT.ok);
    await sql('UPDATE rds_migrate.heads SET revision = $1', [EVIL]);
    const up = await cli('stamp', 'head');
    expectNoControlCharacters(up);
    expect(`${up.stdout}${up.stderr}`).toContain(SHOWN);
  });
});
