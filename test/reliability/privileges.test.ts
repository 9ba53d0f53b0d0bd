/**
 * RDS's privileges, mirrored on the shared test server. On RDS the master user is no superuser:
 * `rds_master` here is NOSUPERUSER CREATEDB CREATEROLE with pg_monitor and pg_signal_backend and
 * owns its database, as the master user owns the one RDS made. Many teams migrate as a role of
 * their own instead: `migrator` owns the app's schema and the history schema made for it, and
 * nothing of the database (no CREATE, no TEMPORARY, not CREATEDB). The CLI and the deployed
 * function run as each; what a role cannot do is said, naming the privilege it lacks.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { EXIT } from '../../lib/cli/session.ts';
import { connect } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import { cfnEvent, fakes, REV, runProvider } from '../fixtures/handler/harness.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';

type RoleName = 'rds_master' | 'migrator';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const suffix = randomBytes(4).toString('hex');
const password = randomBytes(12).toString('hex');
const ROLES: Readonly<Record<RoleName | 'app', string>> = {
  rds_master: `rds_master_${suffix}`,
  migrator: `migrator_${suffix}`,
  app: `app_${suffix}`,
};
/** The migrator's own schema, first on its search_path in the database. */
const APP_SCHEMA = 'app';

const adminUrl = inject('postgresAdminUrl');

async function asAdmin(database: string, ...statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: urlOf('postgres', database, true) });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A URL on the shared server: as `role` (with the roles' password), or as the admin. */
function urlOf(role: string, database: string, admin = false): string {
  const url = new URL(adminUrl);
  if (!admin) {
    url.username = role;
    url.password = password;
  }
  url.pathname = `/${database}`;
  return url.toString();
}

beforeAll(async () => {
  await asAdmin(
    'postgres',
    `CREATE ROLE ${ROLES.rds_master} LOGIN PASSWORD '${password}' NOSUPERUSER CREATEDB CREATEROLE`,
    `GRANT pg_monitor, pg_signal_backend TO ${ROLES.rds_master}`,
    `CREATE ROLE ${ROLES.migrator} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEDB NOCREATEROLE`,
    `CREATE ROLE ${ROLES.app} LOGIN PASSWORD '${password}' NOSUPERUSER`,
  );
});
afterAll(async () => {
  await asAdmin('postgres', ...Object.values(ROLES).map((role) => `DROP ROLE IF EXISTS ${role}`));
});

let database: string;
let project: string;

beforeEach(async () => {
  database = `t_priv_${randomBytes(5).toString('hex')}`;
  project = await mkdtemp(join(tmpdir(), 'rds-migrate-privileges-'));
  await mkdir(join(project, 'migrations'));
});
afterEach(async () => {
  await asAdmin('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await rm(project, { recursive: true, force: true });
});

/**
 * The database as each role finds it. The master's own, as RDS makes it; for the migrator, the
 * master's database with two schemas made for it, the app's first on its search_path, and nothing
 * else: no CREATE or TEMPORARY on the database (PostgreSQL 15+ no longer lets everyone create in public).
 */
async function databaseFor(role: RoleName): Promise<string> {
  await asAdmin('postgres', `CREATE DATABASE ${database} OWNER ${ROLES.rds_master}`);
  if (role === 'migrator') {
    await asAdmin(
      database,
      `REVOKE TEMPORARY ON DATABASE ${database} FROM PUBLIC`,
      `CREATE SCHEMA ${APP_SCHEMA} AUTHORIZATION ${ROLES.migrator}`,
      `CREATE SCHEMA rds_migrate AUTHORIZATION ${ROLES.migrator}`,
      `ALTER ROLE ${ROLES.migrator} IN DATABASE ${database} SET search_path = ${APP_SCHEMA}`,
    );
  }
  return urlOf(ROLES[role], database);
}

function cli(url: string, ...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, { env: { DATABASE_URL: url }, cwd: project });
}

async function folder(...names: string[]): Promise<void> {
  for (const name of names) await cp(join(FIXTURES, name), join(project, 'migrations'), { recursive: true });
}

/** A session of `role` on the database, for `body`. */
async function asRole<T>(
  role: string,
  body: (client: pg.Client) => Promise<T>,
  applicationName?: string,
): Promise<T> {
  const client = new pg.Client({
    connectionString: urlOf(role, database),
    application_name: applicationName,
  });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** A session of `role` left open until `release`: it holds what `statements` took. */
async function holding(
  role: string,
  applicationName: string,
  ...statements: string[]
): Promise<() => Promise<void>> {
  const client = new pg.Client({
    connectionString: urlOf(role, database),
    application_name: applicationName,
  });
  await client.connect();
  for (const statement of statements) await client.query(statement);
  return () => client.end();
}

async function heads(url: string): Promise<readonly string[]> {
  const connection = await connect({ connectionString: url });
  try {
    return (await new History().read(connection.db)).heads;
  } finally {
    await connection.close();
  }
}

describe.each<RoleName>(['rds_master', 'migrator'])('as %s', (role) => {
  it('the CLI applies, reports, reverts and passes doctor', async () => {
    const url = await databaseFor(role);
    await folder('cli');
    const up = await cli(url, 'up');
    expect(up.stderr).toBe('');
    expect(up.code).toBe(EXIT.ok);
    expect((await cli(url, 'status')).stdout).toMatch(/pending +none: up to date/);
    expect((await cli(url, 'history')).stdout).toContain('* cccc00000002 -> cccc00000003 (head, current)');
    expect((await cli(url, 'down')).code).toBe(EXIT.ok);

    const doctor = await cli(url, 'doctor');
    expect(doctor.stdout).toContain('all checks passed');
    // The schema fingerprint the runs recorded is read back: nothing changed outside migrations.
    expect(doctor.stdout).toMatch(/pass +schema +unchanged since run/);
    expect(doctor.code).toBe(EXIT.ok);
  });

  it('up walks a background migration with its worker connections', async () => {
    const url = await databaseFor(role);
    await folder('background/base');
    expect((await cli(url, 'up')).code).toBe(EXIT.ok);
    await asRole(ROLES[role], (client) =>
      client.query(
        `INSERT INTO accounts (email) SELECT 'U' || i || '@Example.COM' FROM generate_series(1, 300) AS i`,
      ),
    );
    await folder('background/backfill');
    const up = await cli(url, 'up', '--ranges', '2', '--concurrency', '2');
    expect(up.code).toBe(EXIT.ok);
    expect(up.stdout).toMatch(/background bf02e0a1b2c3: 300 rows over 2 ranges .*completed/);
    const left = await asRole(ROLES[role], (client) =>
      client.query<{ n: string }>('SELECT count(*) AS n FROM accounts WHERE email_lower IS NULL'),
    );
    expect(left.rows[0]?.n).toBe('0');
  });

  it('the deployed function migrates through SQL and code migrations', async () => {
    const url = await databaseFor(role);
    const created = await runProvider(
      fakes(url).handler('v2'),
      cfnEvent('cfn-create', { TargetRevision: REV.tenant }),
    );
    expect(created.reason).toBeUndefined();
    expect(created.status).toBe('SUCCESS');
    expect(await heads(url)).toEqual([REV.tenant]);
  });

  it('a run that finds the migration lock held by another role names that session', async () => {
    const url = await databaseFor(role);
    await folder('cli');
    const release = await holding(
      ROLES.app,
      'reporting',
      `SELECT pg_advisory_lock(${0x52444d}, hashtext('rds-migrate:rds_migrate'))`,
    );
    const up = await cli(url, 'up', '--lock-wait', '0.2').finally(release);
    expect(up.code).toBe(EXIT.locked);
    // pg_read_all_stats (in pg_monitor) shows another role's session whole; without it, its pid and role.
    expect(up.stderr).toMatch(
      role === 'rds_master'
        ? /holds the migration lock \(reporting, backend pid \d+, connected since /
        : new RegExp(
            `holds the migration lock \\(reporting, backend pid \\d+ of role ${ROLES.app}; more of it is hidden from this role, which lacks pg_read_all_stats\\)`,
          ),
    );
  });
});

describe('as the migrator, without pg_read_all_stats', () => {
  it("a migration that times out on another role's table lock names that session, and what seeing it needs", async () => {
    const url = await databaseFor('migrator');
    await writeFile(
      join(project, 'migrations', '202601030001_ledger.sql'),
      '-- revision: ab0100000001\n-- down_revision: none\n-- message: ledger\n\n-- migrate:up\n' +
        'CREATE TABLE ledger (id int PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE ledger;\n',
    );
    expect((await cli(url, 'up')).code).toBe(EXIT.ok);
    await writeFile(
      join(project, 'migrations', '202601030002_ledger_note.sql'),
      '-- revision: ab0100000002\n-- down_revision: ab0100000001\n-- message: ledger note\n-- lock_timeout: 100ms\n\n' +
        '-- migrate:up\nALTER TABLE ledger ADD COLUMN note text;\n\n-- migrate:down\nALTER TABLE ledger DROP COLUMN note;\n',
    );
    await asRole(ROLES.migrator, (client) =>
      client.query(
        `GRANT USAGE ON SCHEMA ${APP_SCHEMA} TO ${ROLES.app}; GRANT SELECT ON ${APP_SCHEMA}.ledger TO ${ROLES.app}`,
      ),
    );
    const release = await holding(ROLES.app, 'reporting', 'BEGIN', `SELECT * FROM ${APP_SCHEMA}.ledger`);
    const up = await cli(url, 'up', '--lock-retries', '1').finally(release);
    expect(up.code).toBe(EXIT.failed);
    expect(up.stderr).toContain(
      `(role ${ROLES.app}, app 'reporting'; its state and query are hidden from this role, which lacks ` +
        `pg_read_all_stats, and ending it takes pg_signal_backend or membership in ${ROLES.app}) holds AccessShareLock on ledger`,
    );
  });
});

describe("check's round trip", () => {
  it('runs as the master user, on a scratch database it may create, and says it read each schema whole', async () => {
    const url = await databaseFor('rds_master');
    await folder('cli');
    const check = await cli(url, 'check');
    expect(check.stdout).toMatch(/round trip +ok +3 up, 3 down, 3 up again .*schemas matched/);
    // Event triggers would follow each step's DDL; without a superuser, each schema is read whole.
    expect(check.stdout).toContain(
      'schemas matched (each read whole: following the DDL takes event triggers, which only a superuser (on RDS: rds_superuser) may create)',
    );
  });

  it('as the migrator, says it needs CREATEDB for its scratch database', async () => {
    const url = await databaseFor('migrator');
    await folder('cli');
    const check = await cli(url, 'check');
    expect(check.code).toBe(EXIT.failed);
    expect(check.stdout).toContain('grant this user CREATEDB');
  });
});
