/**
 * `rds-migrate up` runs background migrations in-process, after its plan: the same key ranges
 * and the same walks as the deployed state machine, with worker connections; progress on stderr
 * (a bar on a terminal, lines elsewhere), the run's summary with the report; `status` shows it.
 */
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../lib/cli/program.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'background');
let database: TestDatabase;
let connection: Connection;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-background-'));
  await mkdir(join(project, 'migrations'));
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
}

async function folder(name: 'base' | 'backfill' | 'contract'): Promise<void> {
  await cp(join(FIXTURES, name), join(project, 'migrations'), { recursive: true });
}

async function seeded(rows: number): Promise<void> {
  await folder('base');
  expect((await cli('up')).code).toBe(EXIT.ok);
  await connection.db.query(
    `INSERT INTO accounts (email) SELECT 'User' || i || '@Example.COM' FROM generate_series(1, $1) AS i`,
    [rows],
  );
  await connection.db.query('ANALYZE accounts');
}

async function touched(): Promise<Record<string, number>> {
  const result = await connection.db.query<{ touched: number; rows: string }>(
    'SELECT touched, count(*) AS rows FROM accounts GROUP BY touched ORDER BY touched',
  );
  return Object.fromEntries(result.rows.map((row) => [String(row.touched), Number(row.rows)]));
}

describe('rds-migrate up with a background migration', () => {
  it('walks it after the plan with worker connections, progress as plain lines off a terminal', async () => {
    await seeded(20_000);
    await folder('backfill');
    const result = await cli('up', '--ranges', '8', '--concurrency', '4');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(/applied +bf02e0a1b2c3/);
    expect(result.stdout).toMatch(
      /background bf02e0a1b2c3: 20,000 rows over 8 ranges in [\d.]+ s \([\d,]+ rows\/s\), completed/,
    );
    expect(result.stderr).toMatch(
      /info: background bf02e0a1b2c3: \d of 8 ranges done, [\d,]+ of ~20,000 rows/,
    );
    expect(result.stderr).not.toContain('\r');
    expect(await touched()).toEqual({ 1: 20_000 });

    const status = await cli('status');
    expect(status.stdout).toMatch(/background bf02e0a1b2c3 completed .*: 20,000 rows over 8 ranges/);
  });

  it('draws a progress bar on a terminal', async () => {
    await seeded(5_000);
    await folder('backfill');
    let stderr = '';
    const code = await runCli(['up', '--ranges', '2', '--concurrency', '2'], {
      stderrIsTerminal: true,
      stdout: () => undefined,
      stderr: (text) => {
        stderr += text;
      },
      env: { DATABASE_URL: database.url },
      cwd: project,
    });
    expect(code).toBe(EXIT.ok);
    expect(stderr).toMatch(/\rbf02e0a1b2c3 \[#+-*\] +\d+% [\d,]+\/~5,000 rows {2}\d\/2 ranges/);
    expect(stderr).toMatch(/\n$/);
  });

  it('opens the gate once the backfill has run, so the contract step applies on the next up', async () => {
    await seeded(3_000);
    await folder('backfill');
    expect((await cli('up')).code).toBe(EXIT.ok);
    await folder('contract');
    const result = await cli('up');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(/applied +c003e0a1b2c3/);
  });

  it('runs the backfill in-process at its step when the same plan needs it (a fresh database)', async () => {
    await folder('contract');
    const result = await cli('up');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(/applied +bf02e0a1b2c3[\s\S]*applied +c003e0a1b2c3/);
    expect((await cli('status')).stdout).toMatch(/background bf02e0a1b2c3 completed/);
  });

  it('refuses non-numbers for --ranges and --concurrency', async () => {
    await folder('backfill');
    const result = await cli('up', '--ranges', 'many');
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toMatch(/--ranges many: give a whole number/);
  });
});
