import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../lib/check/doctor.ts';
import { EXIT } from '../../lib/cli/program.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const repo = resolve(import.meta.dirname, '../..');
let database: TestDatabase;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-doctor-'));
  await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

function cli(argv: string[], databaseUrl = database.url): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: databaseUrl }, cwd: project });
}

async function doctor(databaseUrl?: string): Promise<{ code: number; report: DoctorReport }> {
  const result = await cli(['doctor', '--json'], databaseUrl);
  return { code: result.code, report: JSON.parse(result.stdout) as DoctorReport };
}

function statusOf(report: DoctorReport, name: string): string | undefined {
  return report.checks.find((check) => check.name === name)?.status;
}

describe('rds-migrate doctor', () => {
  it('passes every line on a fresh database and exits 0', async () => {
    const result = await cli(['doctor']);
    expect(result.code).toBe(EXIT.ok);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^doctor \S+@127\.0\.0\.1:\d+\/t_/);
    const checklist = lines.slice(1, -1);
    expect(
      checklist.map((line) =>
        line
          .trim()
          .split(/\s{2,}/)
          .slice(0, 2),
      ),
    ).toEqual([
      ['pass', 'connection'],
      ['pass', 'server version'],
      ['pass', 'migrations'],
      ['pass', 'create in schema'],
      ['pass', 'history schema'],
      ['pass', 'history privileges'],
      ['pass', 'advisory lock'],
      ['pass', 'pending'],
      ['pass', 'drift'],
      ['pass', 'interrupted'],
      ['pass', 'schema'],
    ]);
    expect(result.stdout).toContain('rds_migrate absent: the first up creates it');
    expect(result.stdout).toContain('at base, 3 pending: cccc00000001, cccc00000002, cccc00000003');
    expect(lines.at(-1)).toBe('all checks passed');
  });

  it('fails the drift line, naming the revision and both checksums, when an applied file changed', async () => {
    expect((await cli(['up'])).code).toBe(EXIT.ok);
    const file = join(project, 'migrations', '202601010002_notes.sql');
    await writeFile(file, `${await readFile(file, 'utf8')}-- edited after it was applied\n`);
    const result = await cli(['doctor']);
    expect(result.code).toBe(EXIT.failed);
    expect(result.stdout).toMatch(
      /^ {2}fail {2}drift +cccc00000002 \(202601010002_notes\.sql\) changed after it was applied: applied checksum [0-9a-f]{64}, file checksum [0-9a-f]{64}$/m,
    );
    expect(result.stdout).toContain('fix: Restore the file as it was applied');
    expect(result.stderr).toContain('doctor: 1 check failed');
  });

  it('fails the interrupted line when a migration outside a transaction did not finish', async () => {
    await cli(['up']);
    const connection = await database.connect();
    await connection.db.query(
      `INSERT INTO rds_migrate.in_progress (revision, direction, actor) VALUES ('cccc00000003', 'up', 'cli:someone')`,
    );
    const { code, report } = await doctor();
    expect(code).toBe(EXIT.failed);
    expect(report.checks.find((check) => check.name === 'interrupted')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('rds-migrate up cccc00000003'),
    });
    expect(statusOf(report, 'history schema')).toBe('pass');
  });

  it('fails the advisory lock line while another run holds the lock', async () => {
    const holder = await database.connect();
    await holder.db.query('SELECT pg_advisory_lock($1, hashtext($2))', [0x52444d, 'rds-migrate:rds_migrate']);
    const { code, report } = await doctor();
    expect(code).toBe(EXIT.failed);
    expect(statusOf(report, 'advisory lock')).toBe('fail');
    expect(report.checks.filter((check) => check.status === 'fail')).toHaveLength(1);
  });

  it('waits for the lock as long as --lock-wait says', async () => {
    const holder = await database.connect();
    await holder.db.query('SELECT pg_advisory_lock($1, hashtext($2))', [0x52444d, 'rds-migrate:rds_migrate']);
    setTimeout(() => void holder.db.query('SELECT pg_advisory_unlock_all()'), 2_500);
    const result = await cli(['doctor', '--json', '--lock-wait', '10']);
    expect(result.code).toBe(EXIT.ok);
    expect(
      JSON.parse(result.stdout).checks.find((check: { name: string }) => check.name === 'advisory lock'),
    ).toMatchObject({
      status: 'pass',
    });
  });

  it('fails the connection line and skips the rest when the server cannot be reached', async () => {
    const { code, report } = await doctor('postgres://nobody:secret@127.0.0.1:1/nowhere');
    expect(code).toBe(EXIT.failed);
    expect(report.checks[0]).toMatchObject({ name: 'connection', status: 'fail' });
    expect(report.checks[0]?.detail).not.toContain('secret');
    expect(report.checks.slice(1).every((check) => check.status === 'skip')).toBe(true);
  });
});
