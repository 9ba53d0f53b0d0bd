/**
 * `rds-migrate up` runs background migrations in-process, after its plan: the same key ranges
 * and the same walks as the deployed state machine, with worker connections; progress on stderr
 * (a bar on a terminal, lines elsewhere), the run's summary with the report; `status` shows it.
 */

import { EventEmitter } from 'node:events';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { progressView, resumeCommand, sayHowToResumeOnInterrupt } from '../../lib/cli/background-progress.ts';
import { EXIT, runCli } from '../../lib/cli/program.ts';
import type { InterruptSource } from '../../lib/cli/terminal.ts';
import type { BackgroundProgress } from '../../lib/engine/background-runs.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'background');
let database: TestDatabase;
let connection: Connection;
let project: string;

/** A database and a project folder for each test of a describe that runs the CLI. */
function withDatabaseAndProject(): void {
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
}

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

/** A progress bar alone on its line, or a log line. */
const BAR_OR_LOG_LINE =
  /^(bf02e0a1b2c3 \[[#-]{24}\] +\d+% [\d,]+\/~[\d,]+ rows {2}\d+\/\d+ ranges {2}[\d,]+ rows\/s( {2}ETA \d+ s)?|(info|warning): .*)$/;

const CLEAR_TO_END = '\u001b[K';

/** The lines a terminal shows for `output`: \r goes back to the line's start, ESC [K clears the rest of it. */
function onScreen(output: string): string[] {
  const lines = [''];
  let column = 0;
  for (const part of output.split(new RegExp(`(\r|\n|${CLEAR_TO_END.replace('[', '\\[')})`))) {
    const line = lines[lines.length - 1] ?? '';
    if (part === '\r') column = 0;
    else if (part === '\n') {
      lines.push('');
      column = 0;
    } else if (part === CLEAR_TO_END) lines[lines.length - 1] = line.slice(0, column);
    else {
      lines[lines.length - 1] = line.slice(0, column) + part + line.slice(column + part.length);
      column += part.length;
    }
  }
  return lines;
}

describe('rds-migrate up with a background migration', () => {
  withDatabaseAndProject();

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
    // What the terminal shows: log lines written while the bar is drawn never share its line.
    const lines = onScreen(stderr).filter((line) => line !== '');
    expect(lines).toContainEqual(expect.stringMatching(/^info: background run \(revision bf02e0a1b2c3/));
    for (const line of lines) expect(line).toMatch(BAR_OR_LOG_LINE);
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

describe('Ctrl-C while up walks a background run', () => {
  const progress = {
    revision: 'bf02e0a1b2c3',
    state: 'running',
    table: 'accounts',
    key: 'id',
    batchSize: 2500,
    estimatedTotal: 20_000,
    actor: 'cli',
    errors: 0,
    startedAt: new Date(),
    updatedAt: new Date(),
    rangeCount: 8,
    rangesDone: 3,
    rows: 8_000,
    batches: 4,
    rowsPerSecond: 4_000,
    etaSeconds: 3,
  } satisfies BackgroundProgress;
  const resume = resumeCommand({
    migrationsDir: 'db/migrations',
    defaultMigrationsDir: 'migrations',
    schema: 'rds_migrate',
    databaseUrl: 'postgres://app:s3cret@db.internal:5432/app',
    x: ['tenant=acme corp'],
    ranges: 16,
    concurrency: 8,
  });

  /** The process as the listener sees it: SIGINT listeners, and the signal raised again. */
  function processStandIn() {
    const emitter = new EventEmitter();
    const raised: unknown[][] = [];
    const source = {
      on: (event: string, listener: () => void) => emitter.on(event, listener),
      off: (event: string, listener: () => void) => emitter.off(event, listener),
      listenerCount: (event: string) => emitter.listenerCount(event),
      kill: (...args: unknown[]) => raised.push(args) > 0,
      pid: 4242,
    } as unknown as InterruptSource;
    return { emitter, raised, source };
  }

  it('ends the bar with a newline, prints the command that goes on, then lets the signal end the process', () => {
    let stderr = '';
    const view = progressView(
      (text) => {
        stderr += text;
      },
      true,
      resume,
    );
    const { emitter, raised, source } = processStandIn();
    sayHowToResumeOnInterrupt(view, source);
    view.show(progress);
    emitter.emit('SIGINT');
    expect(stderr).toMatch(/^\rbf02e0a1b2c3 \[#+-+\] /);
    expect(stderr).toContain(
      `${CLEAR_TO_END}\ninterrupted: background bf02e0a1b2c3 stopped at 3 of 8 ranges done, 8,000 of ~20,000 rows`,
    );
    expect(stderr).toContain(
      "Go on from there with:\n  rds-migrate up bf02e0a1b2c3 -d db/migrations --database-url 'postgres://app:****@db.internal:5432/app' -x 'tenant=acme corp' --ranges 16 --concurrency 8\n",
    );
    expect(stderr).not.toContain('s3cret');
    expect(raised).toEqual([[4242, 'SIGINT']]);
    expect(emitter.listenerCount('SIGINT')).toBe(0);
  });

  it('leaves ending the process to another SIGINT listener when there is one, and says it once', () => {
    let stderr = '';
    const view = progressView(
      (text) => {
        stderr += text;
      },
      false,
      resume,
    );
    const { emitter, raised, source } = processStandIn();
    emitter.on('SIGINT', () => undefined);
    const stop = sayHowToResumeOnInterrupt(view, source);
    view.show(progress);
    emitter.emit('SIGINT');
    emitter.emit('SIGINT');
    stop();
    expect(stderr.match(/interrupted: /g)).toHaveLength(1);
    expect(raised).toEqual([]);
  });
});
