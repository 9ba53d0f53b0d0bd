/**
 * The history schema's format: created at the current format, upgraded in place from an older
 * one inside the run's first transaction, and read (not written) by a release older than it.
 * The cross-release test with the real previous release is test/compat/previous-release.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'libpg-query';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FINGERPRINT_FORMAT } from '../../lib/engine/catalog.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { HistoryFormatError, MigrationFailed } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { CURRENT_FORMAT, FORMAT_STEPS } from '../../lib/engine/history-format.ts';
import { migrate, type RunOptions } from '../../lib/engine/runner.ts';
import { describeSchemaDrift } from '../../lib/engine/schema-fingerprint.ts';
import { readStatus } from '../../lib/engine/status.ts';
import { RELEASE } from '../../lib/engine/version.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration, tableChain } from '../support/migrations.ts';

const options: RunOptions = { actor: 'test' };
const history = new History();
let database: TestDatabase;
let connection: Connection;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
});
afterEach(async () => {
  await database.drop();
});

async function rows<T>(sql: string): Promise<T[]> {
  return (await connection.db.query<T>(sql)).rows;
}

/** A history as rds-migrate 0.1.0 wrote it: format 1 (no format table), with two revisions applied. */
async function formatOneHistory(): Promise<void> {
  const step = FORMAT_STEPS.find((candidate) => candidate.version === 1);
  await connection.db.query(step?.sql('"rds_migrate"') ?? '');
  await connection.db.query(`
    CREATE TABLE t_aaaa01 (id int PRIMARY KEY);
    CREATE TABLE t_aaaa02 (id int PRIMARY KEY);
    INSERT INTO rds_migrate.log (revision, parents, direction, message, checksum, source, transactional,
                                 down_kind, down_text, started_at, duration_ms, run_id, actor, note)
    VALUES ('aaaa01', '{}', 'up', 'migration aaaa01', 'sum1', 'aaaa01.sql', true, 'sql', 'DROP TABLE t_aaaa01', now(), 1, 'run-1', 'cli:old', NULL),
           ('aaaa02', '{aaaa01}', 'up', 'migration aaaa02', 'sum2', 'aaaa02.sql', true, 'sql', 'DROP TABLE t_aaaa02', now(), 1, 'run-1', 'cli:old', NULL);
    INSERT INTO rds_migrate.heads VALUES ('aaaa02');`);
}

/** The chain the format-1 history above holds, with checksums as recorded, plus one more. */
function chainAfterFormatOne(): RevisionGraph {
  const [first, second, third] = tableChain('aaaa01', 'aaaa02', 'aaaa03');
  return RevisionGraph.from([
    { ...(first as NonNullable<typeof first>), checksum: 'sum1' },
    { ...(second as NonNullable<typeof second>), checksum: 'sum2' },
    third as NonNullable<typeof third>,
  ]);
}

describe('a new history', () => {
  it('is created at the current format, which records the release', async () => {
    await migrate(
      connection.db,
      RevisionGraph.from(tableChain('aaaa01')),
      { action: 'upgrade', target: 'head' },
      options,
    );
    expect(await history.format(connection.db)).toBe(CURRENT_FORMAT);
    const versions = await rows<{ version: number; release: string }>(
      'SELECT version, release FROM rds_migrate.format ORDER BY version',
    );
    expect(versions.at(-1)).toEqual({ version: CURRENT_FORMAT, release: RELEASE });
    expect(await rows('SELECT release FROM rds_migrate.log')).toEqual([{ release: RELEASE }]);
  });

  it('names a release that matches package.json', () => {
    const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));
    expect(RELEASE).toBe(manifest.version);
  });
});

describe('an older history', () => {
  it('is upgraded in place by the first change, keeping every row', async () => {
    await formatOneHistory();
    expect(await history.format(connection.db)).toBe(1);
    const before = await rows(
      'SELECT id, revision, checksum, down_text, run_id FROM rds_migrate.log ORDER BY id',
    );

    const report = await migrate(
      connection.db,
      chainAfterFormatOne(),
      { action: 'upgrade', target: 'head' },
      options,
    );
    expect(report.steps.map((step) => step.revision)).toEqual(['aaaa03']);
    expect(await history.format(connection.db)).toBe(CURRENT_FORMAT);
    expect(
      await rows(
        'SELECT id, revision, checksum, down_text, run_id FROM rds_migrate.log WHERE id <= 2 ORDER BY id',
      ),
    ).toEqual(before);
    expect(await rows('SELECT revision, release FROM rds_migrate.log ORDER BY id')).toEqual([
      { revision: 'aaaa01', release: null },
      { revision: 'aaaa02', release: null },
      { revision: 'aaaa03', release: RELEASE },
    ]);
    expect((await history.read(connection.db)).heads).toEqual(['aaaa03']);
  });

  it('stays as it was when the first change fails: the upgrade is in that transaction', async () => {
    await formatOneHistory();
    const graph = RevisionGraph.from([
      ...chainAfterFormatOne()
        .sorted(['aaaa01', 'aaaa02'])
        .map((revision) => chainAfterFormatOne().get(revision)),
      sqlMigration('bbbb03', 'CREATE TABLE t_aaaa01 (id int)', { parents: ['aaaa02'] }),
    ]);
    await expect(
      migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options),
    ).rejects.toThrow(MigrationFailed);
    expect(await history.format(connection.db)).toBe(1);
    expect(await rows("SELECT to_regclass('rds_migrate.format') AS found")).toEqual([{ found: null }]);
  });

  it('is not touched by a run with nothing to do', async () => {
    await formatOneHistory();
    const graph = RevisionGraph.from(
      chainAfterFormatOne()
        .sorted(['aaaa01', 'aaaa02'])
        .map((revision) => chainAfterFormatOne().get(revision)),
    );
    expect((await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options)).status).toBe(
      'up-to-date',
    );
    expect(await history.format(connection.db)).toBe(1);
  });

  it('of format 8 keeps the fingerprint an earlier build took, read as stale until the next run takes a current one', async () => {
    const q = '"rds_migrate"';
    await connection.db.query(
      FORMAT_STEPS.filter((step) => step.version <= 8)
        .map((step) => step.sql(q))
        .join('\n'),
    );
    await connection.db.query(`
      INSERT INTO rds_migrate.format (version, release) SELECT v, '0.2.0' FROM generate_series(2, 8) v;
      CREATE TABLE t_aaaa01 (id int PRIMARY KEY);
      CREATE TABLE t_aaaa02 (id int PRIMARY KEY);
      INSERT INTO rds_migrate.log (revision, parents, direction, message, checksum, source, transactional,
                                   down_kind, down_text, started_at, duration_ms, run_id, actor, release)
      VALUES ('aaaa01', '{}', 'up', 'migration aaaa01', 'sum1', 'aaaa01.sql', true, 'sql', 'DROP TABLE t_aaaa01', now(), 1, 'run-1', 'cli:old', '0.2.0-earlier'),
             ('aaaa02', '{aaaa01}', 'up', 'migration aaaa02', 'sum2', 'aaaa02.sql', true, 'sql', 'DROP TABLE t_aaaa02', now(), 1, 'run-1', 'cli:old', '0.2.0-earlier');
      INSERT INTO rds_migrate.heads VALUES ('aaaa02');
      -- An index named after its table alone, as earlier builds named it, and their hashes.
      INSERT INTO rds_migrate.schema_fingerprints (run_id, heads, fingerprint, objects, log_id, actor, catalog_stamp)
      VALUES ('run-1', '{aaaa02}', 'earlier', '{"table public.t_aaaa01": "0123456789abcdef", "table public.t_aaaa02": "fedcba9876543210"}',
              (SELECT max(id) FROM rds_migrate.log), 'cli:old', NULL);`);
    const graph = chainAfterFormatOne();
    const before = await readStatus(connection.db, graph);
    expect(before.historyFormat.version).toBe(8);
    expect(before.schemaDrift).toMatchObject({
      state: 'stale',
      staleBecause: 'fingerprint-format',
      since: { runId: 'run-1', release: '0.2.0-earlier' },
    });
    expect(describeSchemaDrift(before.schemaDrift)).toContain(
      'was taken by rds-migrate 0.2.0-earlier in an unnumbered fingerprint format',
    );

    await migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    expect(await history.format(connection.db)).toBe(CURRENT_FORMAT);
    expect(
      await rows(
        'SELECT run_id, fingerprint_format, release, changed_outside FROM rds_migrate.schema_fingerprints ORDER BY id',
      ),
    ).toEqual([
      { run_id: 'run-1', fingerprint_format: null, release: null, changed_outside: null },
      {
        run_id: expect.any(String),
        fingerprint_format: FINGERPRINT_FORMAT,
        release: RELEASE,
        changed_outside: null,
      },
    ]);
    expect((await readStatus(connection.db, graph)).schemaDrift.state).toBe('matches');
  });

  it('is upgraded by a stamp too', async () => {
    await formatOneHistory();
    await migrate(connection.db, chainAfterFormatOne(), { action: 'stamp', target: 'head' }, options);
    expect(await history.format(connection.db)).toBe(CURRENT_FORMAT);
  });
});

describe('a history a newer release upgraded', () => {
  const graph = RevisionGraph.from(tableChain('aaaa01', 'aaaa02', 'aaaa03'));

  /** What a future release might add: a new format, a column, new directions and rows. */
  async function newerHistory(): Promise<void> {
    await migrate(connection.db, graph, { action: 'upgrade', target: 'aaaa02' }, options);
    await connection.db.query(`
      INSERT INTO rds_migrate.format (version, release) VALUES (${CURRENT_FORMAT + 1}, '9.0.0');
      ALTER TABLE rds_migrate.log ADD COLUMN fingerprint text NOT NULL DEFAULT '';
      ALTER TABLE rds_migrate.log DROP CONSTRAINT log_direction_check;
      INSERT INTO rds_migrate.log (revision, parents, direction, message, checksum, source, transactional,
                                   started_at, duration_ms, run_id, actor)
      VALUES ('aaaa01', '{}', 'squash-up', 'squashed', 'other', 'x.sql', true, now(), 0, 'r', 'future');
      INSERT INTO rds_migrate.in_progress (revision, direction, actor) VALUES ('bg1', 'background', 'future');
      CREATE TABLE rds_migrate.background (revision text PRIMARY KEY);`);
  }

  it('is read, ignoring what this release does not know', async () => {
    await newerHistory();
    const state = await history.read(connection.db);
    expect(state.format).toEqual({ version: CURRENT_FORMAT + 1, release: '9.0.0' });
    expect(state.heads).toEqual(['aaaa02']);
    expect(state.inProgress).toBeUndefined();
    const status = await readStatus(connection.db, graph);
    expect(status.pending.map((pending) => pending.revision)).toEqual(['aaaa03']);
    expect(status.historyFormat.version).toBe(CURRENT_FORMAT + 1);
  });

  it('may be reverted from', async () => {
    await newerHistory();
    const report = await migrate(connection.db, graph, { action: 'downgrade', target: 'aaaa01' }, options);
    expect(report.steps.map((step) => `${step.direction} ${step.revision}`)).toEqual(['down aaaa02']);
    expect((await history.read(connection.db)).heads).toEqual(['aaaa01']);
    expect(await history.format(connection.db)).toBe(CURRENT_FORMAT + 1);
  });

  it('refuses to apply or stamp, naming both formats and what to do', async () => {
    await newerHistory();
    const upgrade = migrate(connection.db, graph, { action: 'upgrade', target: 'head' }, options);
    await expect(upgrade).rejects.toThrow(HistoryFormatError);
    await expect(upgrade).rejects.toThrow(
      new RegExp(
        `format ${CURRENT_FORMAT + 1} \\(upgraded by rds-migrate 9\\.0\\.0\\), newer than format ${CURRENT_FORMAT}.*` +
          'may read that history and revert.*npm i rds-migrate@9\\.0\\.0',
      ),
    );
    await expect(migrate(connection.db, graph, { action: 'stamp', target: 'head' }, options)).rejects.toThrow(
      HistoryFormatError,
    );
    expect((await history.read(connection.db)).heads).toEqual(['aaaa02']);
  });
});

describe('the format steps', () => {
  it('are numbered 1, 2, ... up to the current format', () => {
    expect(FORMAT_STEPS.map((step) => step.version)).toEqual(
      Array.from({ length: CURRENT_FORMAT }, (_, index) => index + 1),
    );
  });

  it('only add: tables, indexes, nullable or defaulted columns, never a drop, rename or type change', async () => {
    const allowed = new Set(['CreateSchemaStmt', 'CreateStmt', 'IndexStmt', 'AlterTableStmt', 'InsertStmt']);
    for (const step of FORMAT_STEPS.filter((candidate) => candidate.version > 1)) {
      const tree = (await parse(step.sql('"rds_migrate"'))) as { stmts: { stmt: Record<string, unknown> }[] };
      for (const { stmt } of tree.stmts) {
        const [kind] = Object.keys(stmt);
        expect(allowed, `format ${step.version}: ${kind}`).toContain(kind);
        if (kind !== 'AlterTableStmt') continue;
        const commands = (stmt.AlterTableStmt as { cmds: { AlterTableCmd: Record<string, unknown> }[] }).cmds;
        for (const { AlterTableCmd: command } of commands) {
          expect(command.subtype, `format ${step.version}`).toBe('AT_AddColumn');
          const definition = JSON.stringify(command.def);
          const notNull = definition.includes('CONSTR_NOTNULL');
          const defaulted = definition.includes('CONSTR_DEFAULT');
          expect(!notNull || defaulted, `format ${step.version}: NOT NULL column without a default`).toBe(
            true,
          );
        }
      }
    }
  });
});
