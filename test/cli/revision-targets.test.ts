/**
 * Revision targets on the command line as Alembic users type them, on the example project of
 * Alembic's "Working with Branches" (its revision ids kept): an account branch, a shoppingcart
 * branch off its root, and an independent networking root whose last revision depends on the
 * account branch.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const repo = resolve(import.meta.dirname, '../..');

const ACCOUNT = '1975ea83b712';
const COLUMN = 'ae1027a6acf';
const CART = '27c6a30d7c24';
const NETWORK = '3cac04ae8714';
const IP = '2a95102259be';

let database: TestDatabase;
let project: string;

beforeEach(async () => {
  database = await freshDatabase();
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-targets-'));
  await cp(join(repo, 'test/fixtures/alembic-project'), join(project, 'migrations'), { recursive: true });
});
afterEach(async () => {
  await database.drop();
  await rm(project, { recursive: true, force: true });
});

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project });
}

async function current(): Promise<string[]> {
  return (JSON.parse((await cli('current', '--json')).stdout) as { current: string[] }).current;
}

async function ok(...argv: string[]): Promise<CliResult> {
  const result = await cli(...argv);
  expect(result.stderr.split('\n').filter((line) => line && !line.startsWith('info:'))).toEqual([]);
  expect(result.code).toBe(EXIT.ok);
  return result;
}

describe('revision targets on the command line', () => {
  it('shows branch labels and the head others only depend on, in heads and history', async () => {
    const heads = await ok('heads');
    expect(heads.stdout).toContain(`${COLUMN} (effective head)  add a column`);
    expect(heads.stdout).toContain(`${CART} (shoppingcart) (head)`);
    expect(heads.stdout).toContain(`${IP} (networking) (head)`);
    expect(heads.stdout).toContain('or name one (up shoppingcart@head)');
    const history = await ok('history');
    expect(history.stdout).toContain(
      `${NETWORK} (${COLUMN}) -> ${IP} (networking) (head), add ip account table`,
    );
    expect(history.stdout).toContain(`<base> -> ${NETWORK} (networking), create networking branch`);
  });

  it('applies a branch with what it depends on, steps along another, and takes one branch down alone', async () => {
    const up = await ok('up', 'networking@head');
    expect(up.stdout.match(/^applied +\w+/gm)?.map((line) => line.split(/ +/)[1])).toEqual([
      ACCOUNT,
      COLUMN,
      NETWORK,
      IP,
    ]);
    await ok('up', 'shoppingcart@+1');
    expect(await current()).toEqual([CART, COLUMN, IP].sort());
    const status = await ok('status');
    expect(status.stdout).toContain(`${IP} (add ip account table; branch networking)`);

    const ambiguous = await cli('down', '-1');
    expect(ambiguous.code).toBe(EXIT.failed);
    expect(ambiguous.stderr).toMatch(/several heads \(.*\); say which branch: <branch>@-1 or <head>-1/);

    await ok('down', `shoppingcart@${ACCOUNT.slice(0, 4)}`);
    expect(await current()).toEqual([COLUMN, IP].sort());
    await ok('down', 'networking@-1');
    expect(await current()).toEqual([COLUMN, NETWORK].sort());
    const shown = await ok('show', 'networking@head');
    expect(shown.stdout).toMatch(/depends on {3}ae1027a6acf\nbranch {7}networking/);
    expect(shown.stdout).toContain('applied      no');
  });

  it('counts steps from the current revision, or from a named one', async () => {
    await ok('up', `${COLUMN}-1`);
    expect(await current()).toEqual([ACCOUNT]);
    const ambiguous = await cli('up', '+1');
    expect(ambiguous.code).toBe(EXIT.failed);
    expect(ambiguous.stderr).toContain(
      `'+1' is ambiguous: above ${ACCOUNT} the graph branches into ${COLUMN}, ${CART}; name the branch to follow with <branch>@`,
    );
    await ok('up', `${COLUMN}@+1`);
    expect(await current()).toEqual([COLUMN]);
    const shown = JSON.parse((await ok('show', '-1', '--json')).stdout) as { revision: string };
    expect(shown.revision).toBe(ACCOUNT);
    await ok('down', '-1');
    expect(await current()).toEqual([ACCOUNT]);
  });

  it('prints the SQL of relative and labelled ranges without a database', async () => {
    const up = await runCliCaptured(['up', '--sql', `${NETWORK}:+1`], { env: {}, cwd: project });
    expect(up.code).toBe(EXIT.ok);
    // From the networking root, one step up brings the account revisions the step depends on.
    expect(up.stdout).toContain(`-- rds-migrate up --sql: ${NETWORK} -> ${COLUMN}, ${IP}, 3 migrations`);
    const down = await runCliCaptured(['down', '--sql', 'networking@head:-1'], { env: {}, cwd: project });
    expect(down.code).toBe(EXIT.ok);
    expect(down.stdout).toContain(`-- down ${IP}: add ip account table`);
    expect(down.stdout).toMatch(/1 migration in 1 unit/);
  });

  it('shows the relative and labelled forms in --help', async () => {
    for (const command of ['up', 'down', 'stamp', 'show']) {
      const help = await runCliCaptured([command, '--help'], { env: {}, cwd: project });
      expect(help.stdout).toMatch(/head-1/);
      expect(help.stdout).toMatch(/@head/);
    }
    expect((await runCliCaptured(['stamp', '--help'], { env: {}, cwd: project })).stdout).toContain(
      'stamp --from-alembic',
    );
  });
});

describe('rds-migrate create and merge with targets', () => {
  it('builds on a branch head by its label, or starts a new root from base', async () => {
    const onCart = await ok('create', '--head', 'shoppingcart@head', 'add cart items');
    expect(onCart.stdout).toMatch(/created migrations\/\d{12}_add_cart_items\.sql/);
    const heads = JSON.parse((await ok('heads', '--json')).stdout) as {
      heads: { revision: string; branchLabels: string[] }[];
    };
    const cartHead = heads.heads.find((head) => head.branchLabels.includes('shoppingcart'));
    expect(cartHead?.revision).not.toBe(CART);
    const shown = JSON.parse((await ok('show', 'shoppingcart@head', '--json')).stdout) as {
      parents: string[];
    };
    expect(shown.parents).toEqual([CART]);
    await ok('create', '--head', 'base', 'reporting root');
    expect(JSON.parse((await ok('heads', '--json')).stdout).heads).toHaveLength(4);
    await ok('merge', '-m', 'join cart and account', 'shoppingcart@head', COLUMN);
    expect(JSON.parse((await ok('heads', '--json')).stdout).heads).toHaveLength(3);
  });
});

describe('rds-migrate check with labels and depends_on', () => {
  it('round-trips the labelled branches and the dependency on a scratch database', async () => {
    const result = await cli('check', '--heads', [COLUMN, CART, IP].join(','));
    expect(result.stdout).toContain('round trip  ok');
    expect(result.code).toBe(EXIT.ok);
  });

  it('takes a labelled second root as intended, with the heads named', async () => {
    const result = await cli('check', '--static', '--heads', [COLUMN, CART, IP].join(','));
    expect(result.stdout).toContain('graph       ok');
    expect(result.code).toBe(EXIT.ok);
  });

  it('reports a depends_on that names nothing as a graph problem with what to do', async () => {
    await writeFile(
      join(project, 'migrations', '201411201305_more.sql'),
      `-- revision: 55af2cb1c267\n-- down_revision: ${COLUMN}\n-- depends_on: 109ec7d132bf\n-- migrate:up\nSELECT 1;\n-- migrate:down\n`,
    );
    const result = await cli('check', '--static');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stdout).toContain(
      '201411201305_more.sql: revision 55af2cb1c267: graph unknown-dependency: 201411201305_more.sql (revision 55af2cb1c267) names depends_on 109ec7d132bf, which is neither a revision nor a branch label here',
    );
  });
});

describe('rds-migrate stamp --from-alembic', () => {
  async function alembicTable(sql: string): Promise<void> {
    const connection = await database.connect();
    await connection.db.query(sql);
  }

  it("stamps the revisions Alembic's version table lists, one row per head", async () => {
    await alembicTable(
      `CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
       INSERT INTO alembic_version VALUES ('${CART}'), ('${IP}');`,
    );
    const stamped = await cli('stamp', '--from-alembic');
    expect(stamped.code).toBe(EXIT.ok);
    expect(stamped.stderr).toContain(`info: alembic_version lists ${CART}, ${IP}; it is left as it is`);
    // The same applied set; the account branch's head, implied by the dependency, is listed too.
    expect(await current()).toEqual([CART, COLUMN, IP].sort());
    const status = JSON.parse((await cli('status', '--json')).stdout) as { pending: unknown[] };
    expect(status.pending).toEqual([]);
  });

  it('reads a version table in another schema', async () => {
    await alembicTable(
      `CREATE SCHEMA legacy; CREATE TABLE legacy.alembic_version (version_num varchar(32) NOT NULL);
       INSERT INTO legacy.alembic_version VALUES ('${COLUMN}');`,
    );
    await ok('stamp', '--from-alembic', 'legacy.alembic_version');
    expect(await current()).toEqual([COLUMN]);
  });

  it('says what to do when the table is missing or names a revision not carried over', async () => {
    const missing = await cli('stamp', '--from-alembic');
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toContain(
      'this database has no table alembic_version, where Alembic keeps its revision',
    );
    await alembicTable(
      `CREATE TABLE alembic_version (version_num varchar(32) NOT NULL); INSERT INTO alembic_version VALUES ('55af2cb1c267');`,
    );
    const unknown = await cli('stamp', '--from-alembic');
    expect(unknown.code).toBe(EXIT.failed);
    expect(unknown.stderr).toContain(
      'alembic_version names revision 55af2cb1c267, which no migration here defines; carry that migration over keeping its id',
    );
    expect(await current()).toEqual([]);
    expect((await cli('stamp', 'head', '--from-alembic')).stderr).toContain('not both');
  });

  it('refuses a version_num that is no revision id, showing it escaped', async () => {
    await alembicTable(
      `CREATE TABLE alembic_version (version_num varchar(32) NOT NULL); INSERT INTO alembic_version VALUES (E'\\x1b[31mEVIL');`,
    );
    const refused = await cli('stamp', '--from-alembic');
    expect(refused.code).toBe(EXIT.failed);
    expect(refused.stderr).toBe(
      "error: alembic_version holds '\\x1b[31mEVIL', which is not a revision id (1 to 64 of a-z, A-Z, 0-9, _; " +
        'not base/head/heads/current; shown escaped); check that the database URL is the one Alembic migrated ' +
        'and that its version table holds what Alembic wrote there\n',
    );
    expect(await current()).toEqual([]);
  });
});
