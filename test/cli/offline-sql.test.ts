import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { offlinePlan, renderPlanSql } from '../../lib/cli/offline-sql.ts';
import { EXIT } from '../../lib/cli/program.ts';
import { inlineParameters, parameterLiteral } from '../../lib/cli/sql-literal.ts';
import type { Database } from '../../lib/engine/database.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { loadMigrations } from '../../lib/engine/loader.ts';
import { migrate } from '../../lib/engine/runner.ts';
import { readStatus } from '../../lib/engine/status.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration } from '../support/migrations.ts';

const execFileAsync = promisify(execFile);

const repo = resolve(import.meta.dirname, '../..');
const options = { history: new History(), actor: 'test' };

/** A transactional migration, a `transaction: false` one, and another transactional one. */
const splitPlanGraph = RevisionGraph.from([
  sqlMigration('aaaa01', 'CREATE TABLE t (id int PRIMARY KEY, name text)', { down: 'DROP TABLE t' }),
  sqlMigration('aaaa02', 'CREATE INDEX CONCURRENTLY t_name_idx ON t (name)', {
    parents: ['aaaa01'],
    transaction: false,
    down: 'DROP INDEX CONCURRENTLY t_name_idx',
  }),
  sqlMigration('aaaa03', 'ALTER TABLE t ADD COLUMN note text', { parents: ['aaaa02'], lockTimeout: '2s' }),
]);

/**
 * The lines that show the structure: transactions, units, timeouts, the SQL, the history writes.
 * The history's own DDL (its format steps) is one line: where it goes matters here, not what it is.
 */
function skeleton(text: string): string[] {
  const lines = text.split('\n').flatMap((line) => {
    if (/^(CREATE|ALTER) .*"rds_migrate"/.test(line)) return ['create or upgrade the history'];
    if (/^(BEGIN;|COMMIT;|-- unit |-- up |-- down |SET |RESET |CREATE |ALTER |DROP )/.test(line))
      return [line];
    // One log row per line of the INSERT ... VALUES (the last column: depends_on, NULL or an array).
    const log =
      /^\('(\w+)', .*, '(up|down)', .*'test', (NULL|'[^']*'), '[^']*', (NULL|'[^']*'), (NULL|ARRAY\[.*\]::text\[\])\)[;,]$/.exec(
        line,
      );
    if (log) return [`log ${log[2]} ${log[1]} note=${log[3]}`];
    if (line.startsWith('INSERT INTO "rds_migrate".in_progress')) return ['mark in progress'];
    const done = /^UPDATE "rds_migrate".in_progress SET statements_done = (\d+)/.exec(line);
    if (done) return [`record ${done[1]} statement${done[1] === '1' ? '' : 's'} done`];
    return [];
  });
  return lines.filter((line, index) => line !== 'create or upgrade the history' || lines[index - 1] !== line);
}

describe('up --sql', () => {
  it('prints BEGIN and COMMIT per unit, split around the transaction: false migration, with timeouts and history writes', async () => {
    const text = await renderPlanSql(offlinePlan(splitPlanGraph, 'up', undefined), options);
    expect(skeleton(text)).toEqual([
      '-- unit 1 of 3: 1 migration in one transaction',
      'BEGIN;',
      'create or upgrade the history',
      '-- up aaaa01: migration aaaa01 (aaaa01.sql)',
      "SET LOCAL lock_timeout = '5s'; SET LOCAL statement_timeout = '5min';",
      'CREATE TABLE t (id int PRIMARY KEY, name text);',
      "log up aaaa01 note='unit 1 of 3'",
      'COMMIT;',
      '-- unit 2 of 3: aaaa02 alone, outside a transaction',
      'mark in progress',
      '-- up aaaa02: migration aaaa02 (aaaa02.sql)',
      "SET lock_timeout = '5s'; SET statement_timeout = '5min';",
      'CREATE INDEX CONCURRENTLY t_name_idx ON t (name);',
      'record 1 statement done',
      "log up aaaa02 note='unit 2 of 3, outside a transaction'",
      `RESET lock_timeout; RESET statement_timeout; DELETE FROM "rds_migrate".in_progress WHERE revision = 'aaaa02'; DELETE FROM "rds_migrate".checkpoints WHERE revision = 'aaaa02';`,
      '-- unit 3 of 3: 1 migration in one transaction',
      'BEGIN;',
      '-- up aaaa03: migration aaaa03 (aaaa03.sql)',
      "SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '5min';",
      'ALTER TABLE t ADD COLUMN note text;',
      "log up aaaa03 note='unit 3 of 3'",
      'COMMIT;',
    ]);
  });

  it('prints what the runner sends, but for the run id and the measured times', async () => {
    const offline = await renderPlanSql(offlinePlan(splitPlanGraph, 'up', undefined), options);
    const database = await freshDatabase();
    try {
      const connection = await database.connect();
      const sent: string[] = [];
      const capturing: Database = {
        query: (text, values) => {
          sent.push(text);
          return connection.db.query(text, values);
        },
      };
      const report = await migrate(capturing, splitPlanGraph, { action: 'upgrade', target: 'head' }, options);
      // Not sent by a plan: the schema fingerprint read and recorded around the run (--sql cannot read the schema).
      const fingerprint = /^INSERT INTO "rds_migrate"\.schema_fingerprints /;
      const plan = sent
        // A unit's plain BEGIN travels with its first statement: one round trip, the same text.
        .flatMap((text) =>
          text.startsWith('BEGIN;\nSET LOCAL') ? ['BEGIN', text.slice('BEGIN;\n'.length)] : [text],
        )
        // Not sent by a plan: the lock (with the probe for a history) and the history read.
        .filter(
          (text) =>
            !/^(SELECT |BEGIN;\nSELECT set_config\('rds_migrate\.locked'|RESET lock_timeout$|SET lock_timeout = '\d+ms'$)/.test(
              text,
            ),
        )
        .filter((text) => !fingerprint.test(text))
        .map((text) =>
          text
            .replaceAll(report.runId, 'offline')
            .replace(/interval '[\d.e-]+ ms', [\d.e-]+,/g, "interval '0 ms', 0,")
            // Inside a transaction the runner knows when each step started; offline it cannot.
            .replace(/'\d{4}-[^']*'::timestamptz, [\d.e-]+,/g, "clock_timestamp() - interval '0 ms', 0,")
            .trim()
            // A SQL step's text ends in a lone ';' in case its last line is a comment; offline
            // prints the statement ending in its own ';' instead, so that psql runs it cleanly.
            .replace(/\n;$/, ''),
        );
      expect(plan.length).toBeGreaterThanOrEqual(9);
      for (const text of plan) expect(offline).toContain(text);
    } finally {
      await database.drop();
    }
  });

  it('prints the same text every time', async () => {
    const graph = RevisionGraph.from(await loadMigrations(join(repo, 'migrations')));
    const first = await renderPlanSql(offlinePlan(graph, 'up', undefined), options);
    const second = await renderPlanSql(offlinePlan(graph, 'up', undefined), options);
    expect(second).toBe(first);
  });

  it('starts from the revision before the colon', async () => {
    const text = await renderPlanSql(offlinePlan(splitPlanGraph, 'up', 'aaaa02:head'), options);
    expect(text).toContain('-- rds-migrate up --sql: aaaa02 -> aaaa03, 1 migration in 1 unit');
    expect(skeleton(text)).not.toContain('create or upgrade the history');
  });
});

describe('down --sql', () => {
  it('goes down from the head, newest first, running the down steps', async () => {
    const text = await renderPlanSql(offlinePlan(splitPlanGraph, 'down', 'base'), options);
    expect(skeleton(text).filter((line) => /^(-- down|log)/.test(line))).toEqual([
      '-- down aaaa03: migration aaaa03 (aaaa03.sql)',
      "log down aaaa03 note='unit 1 of 3'",
      '-- down aaaa02: migration aaaa02 (aaaa02.sql)',
      "log down aaaa02 note='unit 2 of 3, outside a transaction'",
      '-- down aaaa01: migration aaaa01 (aaaa01.sql)',
      "log down aaaa01 note='unit 3 of 3'",
    ]);
    expect(text).toContain('DROP INDEX CONCURRENTLY t_name_idx;');
  });
});

describe('the --sql option of the CLI', () => {
  let project: string;
  let database: TestDatabase | undefined;
  beforeEach(async () => {
    project = await mkdtemp(join(tmpdir(), 'rds-migrate-offline-'));
    await cp(join(repo, 'test/fixtures/cli'), join(project, 'migrations'), { recursive: true });
  });
  afterEach(async () => {
    await database?.drop();
    database = undefined;
    await rm(project, { recursive: true, force: true });
  });

  function cli(...argv: string[]): Promise<CliResult> {
    return runCliCaptured(argv, {
      // Nothing listens there: any attempt to connect would fail the command.
      env: { DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/nowhere' },
      cwd: project,
    });
  }

  it('prints the plan with an unreachable DATABASE_URL, starting no embedded server', async () => {
    const result = await cli('up', '--sql');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain('-- rds-migrate up --sql: base -> cccc00000003, 3 migrations in 1 unit');
    expect(result.stdout.match(/^BEGIN;$/gm)).toHaveLength(1);
    expect(result.stdout.match(/^COMMIT;$/gm)).toHaveLength(1);
    expect(existsSync(join(project, '.rds-migrate'))).toBe(false);
  });

  it('marks the recorded SQL of a TS migration with its file and context arguments', async () => {
    const result = await cli('up', '--sql', '-x', 'greeting=hello');
    expect(result.stdout).toContain(
      '-- recorded from 202601010003_greeting.ts (up) with args {"greeting":"hello"}; the real run may differ\n' +
        "INSERT INTO notes (value) VALUES ('hello');\n" +
        '-- end of recorded SQL',
    );
  });

  it('prints a range down, from:to', async () => {
    const result = await cli('down', '--sql', 'cccc00000003:cccc00000001');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain(
      '-- rds-migrate down --sql: cccc00000003 -> cccc00000001, 2 migrations in 1 unit',
    );
    expect(result.stdout).toContain('DROP TABLE notes;');
    expect(result.stdout).not.toContain('DROP TABLE settings;');
  });

  it('refuses a migration file whose name would end its comment, printing no SQL', async () => {
    const name = '202601010004_base\nDROP TABLE victim;\n--.sql';
    await writeFile(
      join(project, 'migrations', name),
      '-- revision: dddd00000004\n-- down_revision: cccc00000003\n-- migrate:up\nSELECT 1;\n-- migrate:down\n',
    );
    const result = await cli('up', '--sql');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      'error: 202601010004_base\\nDROP TABLE victim;\\n--.sql: has control characters in its name',
    );
    expect(result.stderr).toContain('rename it');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

/** Runs `text` as a file through psql (PostgreSQL's client, on PATH), stopping at the first error. */
async function runInPsql(url: string, text: string, folder: string): Promise<void> {
  const file = join(folder, 'plan.sql');
  await writeFile(file, text);
  await execFileAsync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file, url]).catch((error) => {
    throw new Error(`psql refused the --sql output (is psql installed?): ${error.stderr || error.message}`);
  });
}

describe('the --sql output, run by psql', () => {
  let project: string;
  let database: TestDatabase;
  beforeEach(async () => {
    project = await mkdtemp(join(tmpdir(), 'rds-migrate-offline-psql-'));
    database = await freshDatabase();
  });
  afterEach(async () => {
    await database.drop();
    await rm(project, { recursive: true, force: true });
  });

  function cli(...argv: string[]): Promise<CliResult> {
    return runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
  }

  it('keeps a message and a file name with line breaks inside their comments (the loader refuses them; here they get past it)', async () => {
    const hostile = {
      ...sqlMigration('bbbb01', 'CREATE TABLE kept (id int)', { down: 'DROP TABLE kept' }),
      message: 'base\nDROP TABLE victim;\rDROP TABLE victim;\u2028--',
      source: '202601010000_base\nDROP TABLE victim;\n--.sql',
    };
    const graph = RevisionGraph.from([hostile]);
    const connection = await database.connect();
    await connection.db.query('CREATE TABLE victim (id int)');
    const up = await renderPlanSql(offlinePlan(graph, 'up', undefined), options);
    // Each line of the step's comment a comment; the carriage return (which ends a -- comment
    // for PostgreSQL) and the line separator escaped. (The log row keeps them, inside its literal.)
    expect(up).toContain(
      '-- up bbbb01: base\n' +
        '-- DROP TABLE victim;\\rDROP TABLE victim;\\u2028-- (202601010000_base\n' +
        '-- DROP TABLE victim;\n' +
        '-- --.sql)\n',
    );
    await runInPsql(database.url, up, project);
    await runInPsql(database.url, await renderPlanSql(offlinePlan(graph, 'down', 'base'), options), project);
    const tables = await connection.db.query<{ tablename: string }>(
      `SELECT tablename FROM pg_tables WHERE tablename IN ('victim', 'kept')`,
    );
    expect(tables.rows).toEqual([{ tablename: 'victim' }]);
  });

  it('runs a SQL-only plan up and back down, split around the transaction: false migration', async () => {
    await runInPsql(
      database.url,
      await renderPlanSql(offlinePlan(splitPlanGraph, 'up', undefined), options),
      project,
    );
    const connection = await database.connect();
    const status = await readStatus(connection.db, splitPlanGraph);
    expect(status).toMatchObject({ current: ['aaaa03'], upToDate: true, drift: [] });
    expect(status.inProgress).toBeUndefined();

    await runInPsql(
      database.url,
      await renderPlanSql(offlinePlan(splitPlanGraph, 'down', 'base'), options),
      project,
    );
    expect((await readStatus(connection.db, splitPlanGraph)).current).toEqual([]);
    const tables = await connection.db.query(`SELECT 1 FROM pg_tables WHERE tablename = 't'`);
    expect(tables.rows).toEqual([]);
  });

  it("runs the example app's plan, its TS migrations' values inlined, and leaves what up would", async () => {
    await cp(join(repo, 'migrations'), join(project, 'migrations'), { recursive: true });
    // Up to the seed: --sql comments out what ctx.batch runs per batch, so the background backfill
    // after it fills nothing in psql, and the contract step that requires it would find rows unfilled.
    const up = await cli('up', '--sql', 'base:f4b1e6a2c9d8', '-x', 'dev_data=true');
    expect(up.code).toBe(EXIT.ok);
    // No placeholder outside a comment (prices such as '$12.50' in the seed are no placeholders).
    const placeholders = up.stdout
      .split('\n')
      .filter((line) => !line.trim().startsWith('--') && /\$\d+(?![\d.,])/.test(line));
    expect(placeholders).toEqual([]);
    expect(up.stdout).not.toMatch(/^;$/m);
    await runInPsql(database.url, up.stdout, project);

    const connection = await database.connect();
    const users = await connection.db.query('SELECT email FROM users ORDER BY email');
    expect(users.rows.map((row) => row.email)).toEqual([
      'ada@example.com',
      'edsger@example.com',
      'grace@example.com',
    ]);
    // The history it wrote is the history a real up writes: status finds the head, no drift.
    const status = await cli('status', '--json');
    expect(status.code).toBe(EXIT.ok);
    expect(JSON.parse(status.stdout)).toMatchObject({ current: ['f4b1e6a2c9d8'], drift: [] });

    const down = await cli('down', '--sql', 'f4b1e6a2c9d8:base');
    await runInPsql(database.url, down.stdout, project);
    expect(JSON.parse((await cli('status', '--json')).stdout)).toMatchObject({ current: [] });
  });

  it('comments out what ctx.batch runs per batch, says so at the top, and --help says so', async () => {
    await cp(join(repo, 'migrations'), join(project, 'migrations'), { recursive: true });
    const up = await cli('up', '--sql');
    expect(up.stdout).toContain(
      '-- Not in the runnable text: what ctx.batch runs per batch (commented out below).',
    );
    expect(up.stdout).toContain('--           WHERE id = ANY($1::bigint[]);');
    const help = (await cli('up', '--help')).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('runs in psql');
    expect(help).toContain('what ctx.batch runs per batch is commented out');
  });
});

describe('bound values written as SQL literals', () => {
  const values: [unknown, string][] = [
    ["it's", 'text'],
    ["back\\slash and 'quote'", 'text'],
    [null, 'text'],
    [42, 'int'],
    [12345678901234567890n, 'numeric'],
    [true, 'boolean'],
    [new Date('2026-11-25T10:30:00.123Z'), 'timestamptz'],
    [new Date('2026-11-25T10:30:00.123Z'), 'timestamp'],
    [{ a: "x'y", b: [1, 2] }, 'jsonb'],
    [Buffer.from([0, 1, 254]), 'bytea'],
    [['a', 'b"c', 'd\\e', null, "f'g"], 'text[]'],
    [
      [
        [1, 2],
        [3, 4],
      ],
      'int[]',
    ],
    [[], 'bigint[]'],
  ];

  it('are the values pg would bind, checked on a real server', async () => {
    const database = await freshDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      for (const [value, type] of values) {
        const bound = await client.query(`SELECT $1::${type} AS v`, [value]);
        const inlined = await client.query(inlineParameters(`SELECT $1::${type} AS v`, [value]));
        expect(inlined.rows, `${parameterLiteral(value)}::${type}`).toEqual(bound.rows);
      }
    } finally {
      await client.end();
      await database.drop();
    }
  });

  it('replace only placeholders: never inside strings, quoted names, comments or dollar quotes', () => {
    const text = `SELECT $1, '$1', "a$1", $$ $1 $$, $tag$ $2 $tag$, E'\\' $1', x$1 -- $2\n/* $2 */ $2`;
    expect(inlineParameters(text, ['v', 'w'])).toBe(
      `SELECT 'v', '$1', "a$1", $$ $1 $$, $tag$ $2 $tag$, E'\\' $1', x$1 -- $2\n/* $2 */ 'w'`,
    );
  });
});
