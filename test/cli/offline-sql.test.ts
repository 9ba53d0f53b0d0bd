import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { offlinePlan, renderPlanSql } from '../../lib/cli/offline-sql.ts';
import { EXIT } from '../../lib/cli/program.ts';
import type { Database } from '../../lib/engine/database.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { loadMigrations } from '../../lib/engine/loader.ts';
import { migrate } from '../../lib/engine/runner.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration } from '../support/migrations.ts';

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

/** The lines that show the structure: transactions, units, timeouts, the SQL, the history writes. */
function skeleton(text: string): string[] {
  return text.split('\n').flatMap((line) => {
    if (/^(BEGIN;|COMMIT;|-- unit |-- up |-- down |SET |RESET |CREATE |ALTER |DROP )/.test(line))
      return [line];
    // One log row per line of the INSERT ... VALUES.
    const log = /^\('(\w+)', .*, '(up|down)', .*'test', (NULL|'[^']*'), '[^']*', (NULL|'[^']*')\)[;,]$/.exec(line);
    if (log) return [`log ${log[2]} ${log[1]} note=${log[3]}`];
    if (line.startsWith('INSERT INTO "rds_migrate".in_progress')) return ['mark in progress'];
    const done = /^UPDATE "rds_migrate".in_progress SET statements_done = (\d+)/.exec(line);
    if (done) return [`record ${done[1]} statement${done[1] === '1' ? '' : 's'} done`];
    return [];
  });
}

describe('up --sql', () => {
  it('prints BEGIN and COMMIT per unit, split around the transaction: false migration, with timeouts and history writes', async () => {
    const text = await renderPlanSql(offlinePlan(splitPlanGraph, 'up', undefined), options);
    expect(skeleton(text)).toEqual([
      '-- unit 1 of 3: 1 migration in one transaction',
      'BEGIN;',
      'CREATE SCHEMA IF NOT EXISTS "rds_migrate";',
      'CREATE TABLE IF NOT EXISTS "rds_migrate".heads (',
      'CREATE TABLE IF NOT EXISTS "rds_migrate".log (',
      'CREATE INDEX IF NOT EXISTS log_revision_idx ON "rds_migrate".log (revision, id);',
      'CREATE TABLE IF NOT EXISTS "rds_migrate".in_progress (',
      'CREATE TABLE IF NOT EXISTS "rds_migrate".checkpoints (',
      'CREATE TABLE IF NOT EXISTS "rds_migrate".format (',
      'ALTER TABLE "rds_migrate".log ADD COLUMN IF NOT EXISTS release text;',
      'CREATE TABLE IF NOT EXISTS "rds_migrate".run_lease (',
      'CREATE TABLE IF NOT EXISTS "rds_migrate".deploys (',
      'ALTER TABLE "rds_migrate".log ADD COLUMN IF NOT EXISTS request_id text;',
      'CREATE INDEX IF NOT EXISTS log_request_idx ON "rds_migrate".log (request_id) WHERE request_id IS NOT NULL;',
      'ALTER TABLE "rds_migrate".checkpoints ADD COLUMN IF NOT EXISTS completed boolean NOT NULL DEFAULT false;',
      'ALTER TABLE "rds_migrate".in_progress ADD COLUMN IF NOT EXISTS statements_done integer NOT NULL DEFAULT 0;',
      '-- up aaaa01: migration aaaa01 (aaaa01.sql)',
      "SET LOCAL lock_timeout = '5s'; SET LOCAL statement_timeout = '5min';",
      'CREATE TABLE t (id int PRIMARY KEY, name text)',
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
      'ALTER TABLE t ADD COLUMN note text',
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
      const plan = sent
        .filter((text) => !/^(SELECT |RESET lock_timeout$|SET lock_timeout = '\d+ms'$)/.test(text))
        .map((text) =>
          text
            .replaceAll(report.runId, 'offline')
            .replace(/interval '[\d.e-]+ ms', [\d.e-]+,/g, "interval '0 ms', 0,")
            // Inside a transaction the runner knows when each step started; offline it cannot.
            .replace(/'\d{4}-[^']*'::timestamptz, [\d.e-]+,/g, "clock_timestamp() - interval '0 ms', 0,")
            .trim(),
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
    expect(skeleton(text)).not.toContain('CREATE SCHEMA IF NOT EXISTS "rds_migrate";');
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
        'INSERT INTO notes (value) VALUES ($1);\n' +
        '-- parameters: $1 = "hello"\n' +
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
});
