/**
 * `check --rehearse`: the pending plan on a copy of a database with rows, measured, and reverted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckReport, formatCheck } from '../../lib/check/check.ts';
import { rehearse } from '../../lib/check/rehearse.ts';
import { formatGithub } from '../../lib/check/report-formats.ts';
import { connect } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { loadMigrations } from '../../lib/engine/loader.ts';
import type { Migration } from '../../lib/engine/migration.ts';
import { migrate } from '../../lib/engine/runner.ts';
import { runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { codeMigration, sqlMigration } from '../support/migrations.ts';

// One real database with rows, at its first revision (applied from a migrations folder, as the
// CLI finds it); each rehearsal runs on a copy of it.
let source: TestDatabase;
let folder: string;
let first: Migration;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'rds-migrate-rehearse-'));
  await writeFile(
    join(folder, '202612010001_users.sql'),
    '-- revision: users1\n-- down_revision: none\n\n-- migrate:up\n' +
      'CREATE TABLE users (id int PRIMARY KEY, email text, n int);\n\n-- migrate:down\nDROP TABLE users;\n',
  );
  first = (await loadMigrations(folder))[0] as Migration;
  source = await freshDatabase();
  const connection = await source.connect();
  await migrate(
    connection.db,
    RevisionGraph.from([first]),
    { action: 'upgrade', target: 'head' },
    { actor: 'test' },
  );
  // 500 rows: every 50th without an email, every 7th sharing one.
  await connection.db.query(
    `INSERT INTO users SELECT g, CASE WHEN g % 50 = 0 THEN NULL WHEN g % 7 = 0 THEN 'dup@example.com'
       ELSE 'u' || g || '@example.com' END, g FROM generate_series(1, 500) g`,
  );
  await connection.close();
});
afterAll(async () => {
  await source?.drop();
  await rm(folder, { recursive: true, force: true });
});

/** The source's first migration and `pending` after it. */
function planWith(...pending: Migration[]): RevisionGraph {
  return RevisionGraph.from([first, ...pending]);
}

function pending(
  revision: string,
  up: string,
  down: string,
  options: { lockTimeout?: string } = {},
): Migration {
  return sqlMigration(revision, up, { parents: ['users1'], down, ...options });
}

/** What a rehearsal must leave of the source: its revision, its table's file, and no copy on the server. */
async function sourceState(): Promise<{ heads: readonly string[]; relfilenode: string; copies: number }> {
  const connection = await source.connect('state');
  try {
    const heads = (await new History().read(connection.db)).heads;
    const file = await connection.db.query<{ relfilenode: string }>(
      `SELECT relfilenode::text FROM pg_class WHERE oid = 'users'::regclass`,
    );
    const copies = await connection.db.query(`SELECT 1 FROM pg_database WHERE datname LIKE 'rehearse\\_%'`);
    return { heads, relfilenode: file.rows[0]?.relfilenode ?? '', copies: copies.rows.length };
  } finally {
    await connection.close();
  }
}

describe('check --rehearse on a template copy', () => {
  it('measures a rewrite, its lock and the rows an update touched, reverts, and leaves the source as it was', async () => {
    const before = await sourceState();
    const report = await rehearse({
      url: source.url,
      graph: planWith(
        pending(
          'widen1',
          'ALTER TABLE users ALTER COLUMN n TYPE bigint;\nUPDATE users SET n = n + 1 WHERE n > 100;',
          'UPDATE users SET n = n - 1 WHERE n > 101;\nALTER TABLE users ALTER COLUMN n TYPE int;',
        ),
        // A TS migration in the same transaction: its queries are its statements.
        codeMigration(
          'backfill',
          async ({ sql }) => {
            await sql`UPDATE users SET email = ${'none'} WHERE email IS NULL`;
          },
          async ({ sql }) => {
            await sql`UPDATE users SET email = NULL WHERE email = ${'none'}`;
          },
          { parents: ['widen1'] },
        ),
      ),
    });
    expect(report).toMatchObject({
      status: 'passed',
      from: ['users1'],
      to: ['backfill'],
      copy: { kind: 'template', dropped: true },
      steps: { up: 2, down: 2 },
      revert: { status: 'restored' },
    });
    expect(report.copy.database).toMatch(/^rehearse_/);
    const [alter, update, backfill] = report.statements.filter((statement) => statement.phase === 'up');
    expect(backfill).toMatchObject({
      revision: 'backfill',
      text: 'UPDATE users SET email = $1 WHERE email IS NULL',
      command: 'UPDATE',
      rows: 10,
    });
    expect(backfill).not.toHaveProperty('line');
    expect(alter).toMatchObject({
      revision: 'widen1',
      command: 'ALTER',
      rewrote: [{ relation: 'public.users' }],
      locks: expect.arrayContaining([
        expect.objectContaining({ relation: 'public.users', mode: 'AccessExclusiveLock' }),
      ]),
    });
    expect(alter?.rewrote[0]?.relfilenodeAfter).not.toBe(alter?.rewrote[0]?.relfilenodeBefore);
    // Held from the ALTER to the COMMIT, the UPDATE included.
    const held = alter?.locks.find((lock) => lock.mode === 'AccessExclusiveLock')?.heldMs ?? 0;
    expect(held).toBeGreaterThanOrEqual((alter?.durationMs ?? 0) + (update?.durationMs ?? 0) - 1);
    expect(update).toMatchObject({ command: 'UPDATE', rows: 400, rewrote: [] });
    expect(report.rewritten.map((rewrite) => rewrite.relation)).toEqual(['public.users']);
    // The down steps ran on the copy too, and rewrote it back.
    const down = report.statements.filter((statement) => statement.phase === 'down');
    expect(down.map((statement) => [statement.revision, statement.command])).toEqual([
      ['backfill', 'UPDATE'],
      ['widen1', 'UPDATE'],
      ['widen1', 'ALTER'],
    ]);
    expect(down[2]?.rewrote).toHaveLength(1);
    expect(await sourceState()).toEqual(before);
  });

  it('reports the statement and the row that failed on real data, and the down steps that left the schema changed', async () => {
    const duplicate = await rehearse({
      url: source.url,
      graph: planWith(
        pending(
          'unique1',
          'ALTER TABLE users ADD COLUMN note text;\nCREATE UNIQUE INDEX users_email ON users (email);',
          'DROP INDEX users_email;\nALTER TABLE users DROP COLUMN note;',
        ),
      ),
    });
    expect(duplicate).toMatchObject({
      status: 'failed',
      failure: {
        phase: 'up',
        revision: 'unique1',
        code: '23505',
        statement: 'CREATE UNIQUE INDEX users_email ON users (email)',
        line: 2,
        detail: 'Key (email)=(dup@example.com) is duplicated.',
      },
      revert: { status: 'not-needed' },
      copy: { dropped: true },
    });
    const notNull = await rehearse({
      url: source.url,
      graph: planWith(
        pending(
          'strict',
          'ALTER TABLE users ALTER COLUMN email SET NOT NULL',
          'ALTER TABLE users ALTER COLUMN email DROP NOT NULL',
        ),
      ),
    });
    expect(notNull.failure).toMatchObject({
      code: '23502',
      row: { relation: 'public.users', column: 'email', count: 10, more: false },
    });
    expect(JSON.parse(notNull.failure?.row?.sample ?? '{}')).toEqual({ id: 50, email: null, n: 50 });
    // A down step that fails on the data the copy has: proved before a stack rollback needs it.
    const strictDown = await rehearse({
      url: source.url,
      graph: planWith(
        pending(
          'relax1',
          'ALTER TABLE users ADD COLUMN flag int',
          'ALTER TABLE users ALTER COLUMN email SET NOT NULL;\nALTER TABLE users DROP COLUMN flag;',
        ),
      ),
    });
    expect(strictDown).toMatchObject({
      status: 'failed',
      failure: { phase: 'down', revision: 'relax1', code: '23502', line: 1, row: { count: 10 } },
      revert: { status: 'failed' },
    });
    // A down step that forgets what its up made: the rehearsal's fingerprint says what is left.
    const leaky = await rehearse({
      url: source.url,
      graph: planWith(
        sqlMigration('leaky1', 'CREATE INDEX CONCURRENTLY users_n ON users (n)', {
          parents: ['users1'],
          down: 'SELECT 1',
          transaction: false,
        }),
      ),
    });
    expect(leaky).toMatchObject({
      status: 'failed',
      revert: {
        status: 'differs',
        changes: { added: [expect.stringMatching(/^index (public\.)?users_n on table public\.users$/)] },
      },
    });
    // Outside a transaction, measured once: as the runner ran it, alone.
    expect(leaky.statements.filter((statement) => statement.phase === 'up')).toEqual([
      expect.objectContaining({ command: 'CREATE', attempt: 1, rewrote: [], waits: [] }),
    ]);
    expect((await sourceState()).copies).toBe(0);
  });

  it('drops first the copies that interrupted rehearsals of the same database left, and no other', async () => {
    const admin = new pg.Client({ connectionString: source.url.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    const mark = (of: string, madeAt: string) =>
      `rds-migrate:rehearsal-copy ${JSON.stringify({ of, madeAt })}`;
    const copies = {
      left: [`rehearse_left_${source.name}`, mark(source.name, '2026-01-01T00:00:00.000Z')],
      // Just made: a rehearsal about to connect to it.
      fresh: [`rehearse_fresh_${source.name}`, mark(source.name, new Date().toISOString())],
      other: [`rehearse_other_${source.name}`, mark('another_db', '2026-01-01T00:00:00.000Z')],
    };
    try {
      for (const [name, comment] of Object.values(copies)) {
        await admin.query(`CREATE DATABASE ${name}`);
        await admin.query(`COMMENT ON DATABASE ${name} IS '${comment}'`);
      }
      const report = await rehearse({ url: source.url, graph: planWith() });
      expect(report).toMatchObject({ status: 'up-to-date', copy: { leftoversDropped: [copies.left[0]] } });
      const left = await admin.query(
        `SELECT datname FROM pg_database WHERE datname LIKE 'rehearse\\_%' ORDER BY 1`,
      );
      expect(left.rows.map((row) => row.datname)).toEqual([copies.fresh[0], copies.other[0]]);
    } finally {
      for (const [name] of Object.values(copies)) await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.end();
    }
  });

  it('refuses to copy a database other sessions are connected to, and says to restore a snapshot', async () => {
    const app = await source.connect('the-app');
    try {
      await expect(rehearse({ url: source.url, graph: planWith() })).rejects.toThrow(
        /pid \d+ the-app.*restore-db-instance-from-db-snapshot.*--rehearse-on-copy/s,
      );
    } finally {
      await app.close();
    }
  });
});

describe('check --rehearse on a restored copy', () => {
  it('shows a wait on a lock another session holds, and the runner trying again after its lock_timeout', async () => {
    // The user's "restored snapshot": a copy of the source, made here with TEMPLATE.
    const admin = new pg.Client({ connectionString: source.url.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    const copy = `${source.name}_restored`;
    await admin.query(`CREATE DATABASE ${copy} TEMPLATE ${source.name}`);
    const url = source.url.replace(/\/[^/]+$/, `/${copy}`);
    const holder = await connect({ connectionString: url }, 'long-report');
    try {
      const graph = planWith(
        pending('addcol', 'ALTER TABLE users ADD COLUMN note text', 'ALTER TABLE users DROP COLUMN note', {
          lockTimeout: '400ms',
        }),
      );
      // Not a copy as far as anything shows: a session is connected to it.
      await expect(rehearse({ url, graph, onCopy: true })).rejects.toThrow(
        /other sessions connected.*long-report.*COMMENT ON DATABASE/s,
      );
      await admin.query(`COMMENT ON DATABASE ${copy} IS 'rds-migrate:rehearsal-copy'`);
      await holder.db.query('BEGIN');
      await holder.db.query('LOCK TABLE users IN ACCESS SHARE MODE');
      const report = await rehearse({
        url,
        graph,
        lockRetries: 1,
        log: {
          info: () => undefined,
          // The long query ends once the migration has given up waiting the first time.
          warn: (message) => {
            if (message.startsWith('lock timeout')) void holder.db.query('COMMIT');
          },
        },
      });
      expect(report).toMatchObject({
        status: 'passed',
        copy: { kind: 'restored', dropped: false, database: copy },
      });
      const [timedOut, retried] = report.statements.filter((statement) => statement.phase === 'up');
      expect(timedOut).toMatchObject({ attempt: 1, error: { code: '55P03' } });
      expect(timedOut?.waits[0]).toMatchObject({ relation: 'public.users', mode: 'AccessExclusiveLock' });
      expect(timedOut?.waits[0]?.waitedMs).toBeGreaterThanOrEqual(100);
      expect(timedOut?.waits[0]?.blockedBy.join()).toMatch(/app 'long-report'/);
      expect(retried).toMatchObject({ attempt: 2, command: 'ALTER', waits: [] });
      expect(report.lockRetries).toEqual([
        expect.objectContaining({
          phase: 'up',
          retry: 1,
          of: 1,
          heldBy: expect.stringMatching(/long-report.*AccessShareLock/),
        }),
      ]);
      // Left at its starting revision, ready for the next rehearsal.
      expect((await new History().read(holder.db)).heads).toEqual(['users1']);
    } finally {
      await holder.close();
      await admin.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`);
      await admin.end();
    }
  });
});

describe('rds-migrate check --rehearse', () => {
  it('adds the rehearsal to the report, as text and JSON, and its failure to the problems without the row data', async () => {
    await writeFile(
      join(folder, '202612020001_email_key.sql'),
      '-- revision: emailkey\n-- down_revision: users1\n\n-- migrate:up\n' +
        'CREATE UNIQUE INDEX users_email ON users (email);\n\n-- migrate:down\nDROP INDEX users_email;\n',
    );
    const where = { env: {}, cwd: folder };
    const json = await runCliCaptured(
      ['check', '--static', '--rehearse', source.url, '--json', '-d', '.'],
      where,
    );
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as CheckReport;
    expect(report.checks.rehearsal).toMatchObject({ status: 'problems' });
    expect(report.rehearsal?.failure).toMatchObject({
      code: '23505',
      detail: expect.stringContaining('dup@example.com'),
    });
    // Beside the linter's finding on the same line (the index is not built CONCURRENTLY).
    expect(report.problems.map((problem) => problem.rule)).toEqual([
      'create-index-non-concurrently',
      'rehearsal-up-failed',
    ]);
    expect(report.problems[1]).toMatchObject({
      kind: 'rehearsal',
      file: '202612020001_email_key.sql',
      line: 5,
      revision: 'emailkey',
      message: expect.stringContaining('[23505]: could not create unique index "users_email"'),
    });
    // Row data stays in the rehearsal's own report: never in a problem, which CI annotations show.
    expect(JSON.stringify(report.problems)).not.toContain('dup@example.com');
    const text = formatCheck(report);
    expect(text).toMatch(
      /rehearsal on rehearse_\S+, a template copy of postgres@[^ ]+, dropped after: users1 -> emailkey, failed/,
    );
    expect(text).toContain('detail: Key (email)=(dup@example.com) is duplicated.');
    expect(text).toMatch(
      /202612020001_email_key\.sql:5: revision emailkey, up: rehearsal rehearsal-up-failed/,
    );
    const github = formatGithub(report, { cwd: folder, root: folder });
    expect(github).toContain('title=rehearsal-up-failed');
    expect(github).not.toContain('dup@example.com');
    // Rehearsing the configured database itself: check's own sessions on it have closed by the copy.
    const configured = await runCliCaptured(
      ['check', '--skip-round-trip', '--rehearse', source.url, '--json', '-d', '.'],
      { env: { DATABASE_URL: source.url }, cwd: folder },
    );
    expect(JSON.parse(configured.stdout)).toMatchObject({
      checks: { drift: { status: 'ok' }, rehearsal: { status: 'problems' } },
      rehearsal: { copy: { kind: 'template', dropped: true }, failure: { code: '23505' } },
    });
    const usage = await runCliCaptured(['check', '--rehearse-on-copy', '-d', '.'], where);
    expect(usage.stderr).toContain('give --rehearse <database-url> too');
  });
});
