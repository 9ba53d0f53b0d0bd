/**
 * Drift in production: every run records a fingerprint of the schema; status, doctor and the
 * deployed function's status say when the schema was changed outside migrations since, naming
 * the objects.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDoctor } from '../../lib/check/doctor.ts';
import { formatStatus } from '../../lib/cli/report.ts';
import { catalogQuery, FINGERPRINT_FORMAT } from '../../lib/engine/catalog.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { migrate } from '../../lib/engine/runner.ts';
import { currentFingerprint, fingerprintOf, readSchemaDrift } from '../../lib/engine/schema-fingerprint.ts';
import { readStatus } from '../../lib/engine/status.ts';
import { RELEASE } from '../../lib/engine/version.ts';
import { cfnEvent, fakes, lambdaContext, REV, runProvider } from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration } from '../support/migrations.ts';

const history = new History();
const graph = RevisionGraph.from([
  sqlMigration('aaaa00000001', 'CREATE TABLE users (id bigint PRIMARY KEY, email text)', {
    down: 'DROP TABLE users',
  }),
  sqlMigration('aaaa00000002', 'CREATE INDEX users_email ON users (email)', {
    parents: ['aaaa00000001'],
    down: 'DROP INDEX users_email',
  }),
]);

let database: TestDatabase;
let connection: Connection;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
});
afterEach(async () => {
  await database.drop();
});

const up = (target = 'heads') =>
  migrate(connection.db, graph, { action: 'upgrade', target }, { actor: 'test', history });

describe('the schema fingerprint', () => {
  it('hashes each object apart, so a changed column names its table', () => {
    const before = fingerprintOf([
      { object: 'table public.users', line: 'column public.users.email text null=YES default=-' },
      { object: 'function public.f()', line: 'function public.f() returns integer body=1' },
    ]);
    const after = fingerprintOf([
      { object: 'table public.users', line: 'column public.users.email text null=NO default=-' },
      { object: 'function public.f()', line: 'function public.f() returns integer body=1' },
    ]);
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.objects['function public.f()']).toBe(before.objects['function public.f()']);
    expect(after.objects['table public.users']).not.toBe(before.objects['table public.users']);
  });

  it('hashes the lines as the server hashed fingerprint format 2 before, names in any script, so those compare equal', async () => {
    // Names above U+FFFF beside ones from U+E000 to U+FFFF: JavaScript's own string order puts
    // them the other way round from the server's "C" (byte) order.
    await connection.db.query(`
      CREATE TABLE "Ünïcödé" (id int PRIMARY KEY, "naïve" text DEFAULT 'é', "日本" int CHECK ("日本" > 0));
      CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
      CREATE DOMAIN posint AS int CHECK (VALUE > 0);
      CREATE TABLE t2 (a posint, m mood, b int REFERENCES "Ünïcödé" (id), "Zz" text, aa text);
      CREATE INDEX t2_a ON t2 (a) WHERE a > 3;
      CREATE VIEW v AS SELECT a, m FROM t2;
      CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1';
      CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
      CREATE TRIGGER t2_trg BEFORE INSERT ON t2 FOR EACH ROW EXECUTE FUNCTION trg();
      CREATE SCHEMA other;
      CREATE TABLE other.x (id serial PRIMARY KEY);
      CREATE TABLE "t_\u{1F600}" (x int);
      CREATE TABLE "t_\u{FF21}" (x int);
      ALTER TABLE t2 ENABLE ROW LEVEL SECURITY;
      CREATE POLICY "pölicy" ON t2 AS RESTRICTIVE FOR UPDATE USING (a > 0) WITH CHECK (m <> 'sad')`);
    const byServer = (
      await connection.db.query<{ fingerprint: string; objects: Record<string, string> }>(serverHashedSql())
    ).rows[0];
    const here = await currentFingerprint(connection.db, history);
    expect(Object.keys(here.objects).length).toBeGreaterThan(8);
    expect(Object.keys(here.objects)).toEqual(
      expect.arrayContaining(['table public.t_\u{1F600}', 'table public.t_\u{FF21}']),
    );
    expect(here.fingerprint).toBe(byServer?.fingerprint);
    expect(here.objects).toEqual(byServer?.objects);
  });

  it('matches after a run, and status says nothing', async () => {
    await up();
    const status = await readStatus(connection.db, graph, history);
    expect(status.schemaDrift.state).toBe('matches');
    expect(formatStatus(status, graph, 'test')).not.toContain('schema ');
  });

  it('names the objects a hand edit changed, added and removed since the run', async () => {
    const report = await up();
    await connection.db.query(`
      ALTER TABLE users ADD COLUMN nickname text;
      CREATE TABLE audit (id int);
      DROP INDEX users_email`);
    const status = await readStatus(connection.db, graph, history);
    expect(status.schemaDrift).toMatchObject({
      state: 'changed',
      since: { runId: report.runId, heads: ['aaaa00000002'] },
      objects: {
        changed: ['table public.users'],
        added: ['table public.audit'],
        removed: ['index users_email on table public.users'],
      },
    });
    const text = formatStatus(status, graph, 'test');
    expect(text).toContain(`the schema was changed outside migrations since run ${report.runId.slice(0, 8)}`);
    expect(text).toContain(
      'changed table public.users, added table public.audit, removed index users_email on table public.users',
    );
    expect(text).toContain('rds-migrate diff');
  });

  it('sees row level security turned off and a policy loosened by hand', async () => {
    await connection.db.query(`CREATE TABLE notes (id int PRIMARY KEY, owner text);
      ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
      CREATE POLICY notes_own ON notes USING (owner = current_user)`);
    await up();
    await connection.db.query('ALTER TABLE notes DISABLE ROW LEVEL SECURITY');
    expect((await readStatus(connection.db, graph, history)).schemaDrift.objects?.changed).toEqual([
      'table public.notes',
    ]);
    await connection.db.query('ALTER TABLE notes ENABLE ROW LEVEL SECURITY');
    expect((await readStatus(connection.db, graph, history)).schemaDrift.state).toBe('matches');
    await connection.db.query('ALTER POLICY notes_own ON notes USING (true)');
    expect((await readStatus(connection.db, graph, history)).schemaDrift.objects?.changed).toEqual([
      'policy notes_own on table public.notes',
    ]);
  });

  it('sees a function body edited by hand', async () => {
    await connection.db.query(`CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'`);
    await up();
    await connection.db.query(`CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 41'`);
    const status = await readStatus(connection.db, graph, history);
    expect(status.schemaDrift.objects?.changed).toEqual(['function public.answer()']);
  });

  it('sees a sequence’s parameters changed by hand, and not the values drawn from it', async () => {
    await connection.db.query('CREATE SEQUENCE invoice_numbers');
    await up();
    await connection.db.query(`SELECT nextval('invoice_numbers') FROM generate_series(1, 3)`);
    expect((await readStatus(connection.db, graph, history)).schemaDrift.state).toBe('matches');
    await connection.db.query('ALTER SEQUENCE invoice_numbers INCREMENT 10 CACHE 20');
    const report = await runDoctor(connection.db, { target: 'test', history, graph });
    const line = report.checks.find((check) => check.name === 'schema');
    expect(line?.status).toBe('fail');
    expect(line?.detail).toContain('changed sequence public.invoice_numbers');
  });

  it('tells a VIRTUAL generated column from a STORED one, and an identity from a plain column', async () => {
    await connection.db.query(`CREATE TABLE prices (id bigint NOT NULL, cents int,
      euros numeric GENERATED ALWAYS AS (cents / 100.0) STORED)`);
    await up();
    await connection.db.query(`ALTER TABLE prices DROP COLUMN euros;
      ALTER TABLE prices ADD COLUMN euros numeric GENERATED ALWAYS AS (cents / 100.0) VIRTUAL`);
    expect((await readStatus(connection.db, graph, history)).schemaDrift.objects?.changed).toEqual([
      'table public.prices',
    ]);
    await connection.db.query(`ALTER TABLE prices DROP COLUMN euros;
      ALTER TABLE prices ADD COLUMN euros numeric GENERATED ALWAYS AS (cents / 100.0) STORED`);
    expect((await readStatus(connection.db, graph, history)).schemaDrift.state).toBe('matches');
    await connection.db.query('ALTER TABLE prices ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY');
    expect((await readStatus(connection.db, graph, history)).schemaDrift.objects).toMatchObject({
      changed: ['table public.prices'],
      added: ['sequence public.prices_id_seq'],
    });
  });

  it('names an index, constraint and trigger added by hand with their table', async () => {
    await connection.db.query(
      `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'`,
    );
    await up();
    await connection.db.query(`CREATE INDEX users_lower_email ON users (lower(email));
      ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '');
      CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()`);
    const status = await readStatus(connection.db, graph, history);
    expect(status.schemaDrift.objects).toEqual({
      changed: [],
      added: [
        'constraint users_email_check on table public.users',
        'index users_lower_email on table public.users',
        'trigger users_touch on table public.users',
      ],
      removed: [],
    });
    expect(formatStatus(status, graph, 'test')).toContain(
      'added index users_lower_email on table public.users',
    );
  });

  it('keeps a hand edit found before the next run in that run’s record', async () => {
    await up('aaaa00000001');
    await connection.db.query('ALTER TABLE users ADD COLUMN nickname text');
    await up();
    const status = await readStatus(connection.db, graph, history);
    expect(status.schemaDrift.state).toBe('matches');
    expect(status.schemaDrift.foundBeforeRun?.changed).toEqual(['table public.users']);
    expect(formatStatus(status, graph, 'test')).toContain(
      'found the schema changed outside migrations before it ran',
    );
  });

  it('compares with the fingerprint a run records while status reads the schema, not the one before it', async () => {
    await up();
    await connection.db.query('ALTER TABLE users ADD COLUMN nickname text');
    // A run records the schema as it now is between status's two reads (the record, the schema).
    let recorded = false;
    const racing: typeof connection.db = {
      query: async (text, values) => {
        if (!recorded && String(text).startsWith('SELECT true AS extra')) {
          recorded = true;
          await connection.db.query(`INSERT INTO rds_migrate.schema_fingerprints
              (run_id, heads, fingerprint, objects, log_id, actor, fingerprint_format)
            SELECT 'racing-run', '{aaaa00000002}', now.fingerprint, now.objects,
                   (SELECT max(id) FROM rds_migrate.log), 'test', ${FINGERPRINT_FORMAT}
            FROM (${serverHashedSql()}) now`);
        }
        return connection.db.query(text, values);
      },
    } as typeof connection.db;
    const drift = await readSchemaDrift(racing, history);
    expect(recorded).toBe(true);
    expect(drift).toMatchObject({ state: 'matches', since: { runId: 'racing-run' } });
  });

  it('records nothing for a run with nothing to do, so a hand edit stays visible', async () => {
    await up();
    await connection.db.query('ALTER TABLE users ADD COLUMN nickname text');
    expect((await up()).status).toBe('up-to-date');
    expect((await readStatus(connection.db, graph, history)).schemaDrift.state).toBe('changed');
  });

  it('fails doctor’s schema line, with what to do', async () => {
    await up();
    await connection.db.query('ALTER TABLE users ALTER COLUMN email SET NOT NULL');
    const report = await runDoctor(connection.db, { target: 'test', history, graph });
    const line = report.checks.find((check) => check.name === 'schema');
    expect(line?.status).toBe('fail');
    expect(line?.detail).toContain('changed table public.users');
    expect(line?.fix).toContain('rds-migrate diff');
    expect(report.ok).toBe(false);
  });
});

/**
 * Fingerprint format 2 as releases before this one computed it, on the server: the lines joined
 * in "C" order and hashed, and each object's lines apart.
 */
function serverHashedSql(): string {
  const hashOfLines = `encode(sha256(convert_to(coalesce(string_agg(line || E'\\n', '' ORDER BY line COLLATE "C"), ''), 'UTF8')), 'hex')`;
  return `WITH lines AS (${catalogQuery(history.schema)})
SELECT (SELECT ${hashOfLines} FROM lines) AS fingerprint,
       (SELECT coalesce(jsonb_object_agg(object, hash), '{}'::jsonb) FROM (
          SELECT object, left(${hashOfLines}, 16) AS hash FROM lines GROUP BY object) per_object) AS objects`;
}

/**
 * The last fingerprint as a build of another fingerprint format left it: its own hashes, an index
 * named as earlier builds named it (after the table alone), no catalog stamp this build could
 * match, and `format` (NULL: from before fingerprints carried theirs).
 */
async function recordedByAnotherBuild(format: number | null): Promise<void> {
  await connection.db.query(
    `UPDATE rds_migrate.schema_fingerprints
     SET fingerprint = 'earlier', fingerprint_format = $1, release = NULL, catalog_stamp = NULL,
         objects = (SELECT jsonb_object_agg(CASE WHEN key LIKE 'index %' THEN 'table public.users' ELSE key END, 'earlier')
                    FROM jsonb_each_text(objects))
     WHERE id = (SELECT max(id) FROM rds_migrate.schema_fingerprints)`,
    [format],
  );
}

describe('a fingerprint taken in another fingerprint format', () => {
  it('is stale, not a change: status, doctor and the next run say it cannot be told, and that run records a current one', async () => {
    await up('aaaa00000001');
    await recordedByAnotherBuild(null);
    const status = await readStatus(connection.db, graph, history);
    expect(status.schemaDrift).toMatchObject({
      state: 'stale',
      staleBecause: 'fingerprint-format',
      comparedFormat: FINGERPRINT_FORMAT,
      since: { heads: ['aaaa00000001'], release: RELEASE },
    });
    expect(status.schemaDrift.since?.format).toBeUndefined();
    const text = formatStatus(status, graph, 'test');
    expect(text).not.toContain('changed outside migrations since');
    expect(text).toContain(
      `was taken by rds-migrate ${RELEASE} in an unnumbered fingerprint format (from before fingerprints carried theirs), ` +
        `not format ${FINGERPRINT_FORMAT} that this release compares: changes outside migrations cannot be told until ` +
        'the next up or deploy records a current one',
    );
    const doctor = await runDoctor(connection.db, { target: 'test', history, graph });
    expect(doctor.checks.find((check) => check.name === 'schema')).toMatchObject({
      status: 'skip',
      detail: expect.stringContaining('in an unnumbered fingerprint format'),
    });

    // The next run neither calls the old record a change found before it, nor leaves it stale.
    await up();
    const after = await readStatus(connection.db, graph, history);
    expect(after.schemaDrift.state).toBe('matches');
    expect(after.schemaDrift.foundBeforeRun).toBeUndefined();
    expect(after.schemaDrift.since).toMatchObject({ format: FINGERPRINT_FORMAT, release: RELEASE });
    expect(formatStatus(after, graph, 'test')).not.toContain('schema ');

    // A newer format is as foreign; a stamp at the current revision records a current one.
    await recordedByAnotherBuild(FINGERPRINT_FORMAT + 1);
    const newer = formatStatus(await readStatus(connection.db, graph, history), graph, 'test');
    expect(newer).toContain(
      `in fingerprint format ${FINGERPRINT_FORMAT + 1}, not format ${FINGERPRINT_FORMAT} that this release compares`,
    );
    await migrate(
      connection.db,
      graph,
      { action: 'stamp', target: 'aaaa00000002' },
      { actor: 'test', history },
    );
    expect((await readStatus(connection.db, graph, history)).schemaDrift.state).toBe('matches');

    // A fingerprint of this format still sees a hand edit.
    await connection.db.query('CREATE INDEX users_by_hand ON users (id)');
    expect((await readStatus(connection.db, graph, history)).schemaDrift).toMatchObject({
      state: 'changed',
      objects: { added: ['index users_by_hand on table public.users'] },
    });
  });
});

describe('the deployed function’s status', () => {
  it('says a fingerprint of another format cannot be told, until the next deploy records a current one', async () => {
    const aws = fakes(database.url);
    const create = cfnEvent('cfn-create', { TargetRevision: REV.name });
    expect((await runProvider(aws.handler('v1'), create)).status).toBe('SUCCESS');
    await connection.db.query(
      `UPDATE rds_migrate.schema_fingerprints SET fingerprint = 'earlier', fingerprint_format = NULL, catalog_stamp = NULL,
         objects = (SELECT jsonb_object_agg(key, 'earlier') FROM jsonb_each_text(objects))`,
    );
    const status = JSON.parse(JSON.stringify(await aws.handler('v1')({ action: 'status' }, lambdaContext())));
    expect(status.schemaDrift).toMatchObject({ state: 'stale', staleBecause: 'fingerprint-format' });
    expect(status.schemaDrift.objects).toBeUndefined();

    const update = cfnEvent('cfn-update', { TargetRevision: REV.tenant }, { TargetRevision: REV.name });
    expect((await runProvider(aws.handler('v2'), update)).status).toBe('SUCCESS');
    const after = JSON.parse(JSON.stringify(await aws.handler('v2')({ action: 'status' }, lambdaContext())));
    expect(after.schemaDrift).toMatchObject({ state: 'matches', since: { heads: [REV.tenant] } });
    expect(after.schemaDrift.foundBeforeRun).toBeUndefined();
  });

  it('says the schema was changed outside migrations since the deploy’s run', async () => {
    const aws = fakes(database.url);
    const outcome = await runProvider(
      aws.handler('v1'),
      cfnEvent('cfn-create', { TargetRevision: REV.name }),
    );
    expect(outcome.status).toBe('SUCCESS');
    const before = JSON.parse(JSON.stringify(await aws.handler('v1')({ action: 'status' }, lambdaContext())));
    expect(before.schemaDrift.state).toBe('matches');
    await connection.db.query('CREATE INDEX by_hand ON customers (id)');
    const after = JSON.parse(JSON.stringify(await aws.handler('v1')({ action: 'status' }, lambdaContext())));
    expect(after.schemaDrift).toMatchObject({
      state: 'changed',
      since: { heads: [REV.name] },
      objects: { changed: [], added: ['index by_hand on table public.customers'] },
    });
  });
});
