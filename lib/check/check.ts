/**
 * `rds-migrate check`: everything CI (and `cdk synth`, with `--static`) should know before a
 * deploy, as one report: the graph (expected heads, no orphans, a down step or a reason),
 * drift against the database when it has history, the unsafe-change linter over every
 * statement, a round trip (up, down, up) on a scratch database, and whether head's schema is the
 * schema the app wants (schema/ or Drizzle models). Each problem names the file, the revision
 * and what to do.
 */
import { join, relative } from 'node:path';
import { bundleHash } from '../engine/bundle.ts';
import { RdsMigrateError, UsageError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import { History } from '../engine/history.ts';
import type { Migration } from '../engine/migration.ts';
import { lintAll } from '../lint/folder-lint.ts';
import { DEFAULT_PG_VERSION, type PgVersion, versionFromServerNum } from '../lint/model/pg-version.ts';
import { CONFIG_FILE, readProjectConfig } from '../local/project-config.ts';
import { openServer, type Server } from '../local/server.ts';
import { backgroundProblems } from './background-rules.ts';
import { databaseChecks } from './check-database.ts';
import { checkGraph, type GraphCheck, loadAll } from './check-folder.ts';
import { withRehearsal } from './check-rehearsal.ts';
import type { CheckProblem, CheckReport, CheckSection } from './check-report.ts';
import { type CheckScope, pendingScope, sinceScope } from './check-scope.ts';
import { type FleetScopeResult, fleetScope } from './fleet-scope.ts';

export async function checkMigrations(options: CheckOptions): Promise<CheckReport> {
  const cwd = options.cwd ?? process.cwd();
  const fileOf = (source: string) => relative(cwd, join(options.migrationsDir, source)) || source;
  const history = options.history ?? new History();
  const args = options.args ?? {};
  const timings = { load: 0, lint: 0, drift: 0, roundTrip: 0, wantedSchema: 0 };
  const problems: CheckProblem[] = [];
  const warnings: string[] = [];
  let clock = performance.now();
  const lap = () => {
    const now = performance.now();
    const elapsed = Math.round(now - clock);
    clock = now;
    return elapsed;
  };

  const loaded = await loadAll(options.migrationsDir, fileOf);
  problems.push(...loaded.problems);
  const graphResult =
    loaded.problems.length > 0 ? undefined : checkGraph(loaded.migrations, options.heads, fileOf);
  if (graphResult) problems.push(...graphResult.problems);
  // Background migrations: data work only, and what requires_complete names (background-rules.ts).
  if (graphResult) problems.push(...(await backgroundProblems(graphResult.graph, { fileOf, args })));
  const graphSection: CheckSection = graphResult
    ? graphResult.section
    : { status: 'skipped', summary: 'some files cannot be read as migrations; fix those first' };
  timings.load = lap();

  // One server for the whole check: the linter asks its version, drift and the round trip use it.
  const opened = options.static ? undefined : await tryOpenServer(options);
  try {
    const report = await checkWithServer(options, opened, {
      cwd,
      fileOf,
      history,
      args,
      loaded,
      graphResult,
      graphSection,
      problems,
      warnings,
      timings,
      lap,
    });
    // On its own database (a copy of the one named), with or without the configured server.
    if (!options.rehearse) return report;
    return await withRehearsal(
      report,
      graphResult?.graph,
      { ...options, rehearse: options.rehearse },
      fileOf,
    );
  } finally {
    await opened?.server?.stop();
  }
}

interface CheckSoFar {
  readonly cwd: string;
  readonly fileOf: (source: string) => string;
  readonly history: History;
  readonly args: Readonly<Record<string, string>>;
  readonly loaded: { migrations: Migration[]; problems: CheckProblem[] };
  readonly graphResult: GraphCheck | undefined;
  readonly graphSection: CheckSection;
  readonly problems: CheckProblem[];
  readonly warnings: string[];
  readonly timings: { load: number; lint: number; drift: number; roundTrip: number; wantedSchema: number };
  readonly lap: () => number;
}

async function checkWithServer(
  options: CheckOptions,
  opened: OpenedServer | undefined,
  state: CheckSoFar,
): Promise<CheckReport> {
  const { cwd, fileOf, history, args, loaded, graphResult, graphSection, problems, warnings, timings, lap } =
    state;
  const pgVersion = await lintVersion(options, opened, warnings, (await readProjectConfig(cwd)).postgres);
  const resolved = await resolveScope(
    options,
    opened,
    graphResult?.graph,
    history,
    { cwd, fileOf },
    warnings,
  );
  const scope = resolved?.scope;
  const only = scope && scope.kind !== 'all' ? new Set(scope.revisions) : undefined;
  lap();
  const lintProblems = await lintAll(loaded.migrations, graphResult?.graph, {
    fileOf,
    args,
    pgVersion: pgVersion.version,
    warnings,
    only,
  });
  problems.push(...lintProblems);
  const linted = only
    ? loaded.migrations.filter((migration) => only.has(migration.revision))
    : loaded.migrations;
  const codeMigrations = linted.filter((migration) => migration.up.kind === 'code').length;
  const lintSection: CheckSection = {
    status: lintProblems.length > 0 ? 'problems' : 'ok',
    summary:
      `${linted.length}${only ? ` of ${loaded.migrations.length}` : ''} migration${linted.length === 1 ? '' : 's'}` +
      `${scope ? scopeWords(scope) : ''}, up and down` +
      (codeMigrations > 0
        ? ` (${codeMigrations} TS migration${codeMigrations === 1 ? '' : 's'} on the SQL recorded from a dry run with args ${JSON.stringify(args)})`
        : '') +
      `, lock rules of PostgreSQL ${pgVersion.version} (${VERSION_SOURCES[pgVersion.from]})` +
      (lintProblems.length > 0
        ? `: ${lintProblems.length} finding${lintProblems.length === 1 ? '' : 's'}`
        : ''),
  };
  timings.lint = lap();

  let drift: CheckSection = { status: 'skipped', summary: '--static: no database' };
  let roundTripSection: CheckSection = { status: 'skipped', summary: '--static: no database' };
  let wantedSchema: CheckSection = { status: 'skipped', summary: '--static: needs a database' };
  const graph = graphResult?.graph;
  if (!options.static) {
    const database = await databaseChecks(
      options,
      opened,
      graph,
      graphResult?.expectedHeads,
      history,
      args,
      fileOf,
      scope,
    );
    // A fleet's drift is on its targets (read for the scope), not on the server of the scratch database.
    drift = resolved?.fleet ? resolved.fleet.drift : database.drift;
    if (resolved?.fleet) problems.push(...resolved.fleet.problems);
    roundTripSection = database.roundTrip;
    wantedSchema = database.wantedSchema;
    problems.push(...database.problems);
    warnings.push(...database.warnings);
    timings.drift = database.driftMs;
    timings.roundTrip = database.roundTripMs;
    timings.wantedSchema = database.wantedSchemaMs;
  }

  const expected = graphResult?.expectedHeads ?? [];
  return {
    ok: problems.length === 0,
    migrationsDir: relative(cwd, options.migrationsDir) || '.',
    revisions: loaded.migrations.length,
    head: expected.length === 1 && graphResult?.graph.heads.length === 1 ? (expected[0] ?? null) : null,
    heads: graph ? [...graph.heads] : [],
    hash: loaded.problems.length > 0 ? null : bundleHash(loaded.migrations),
    checks: { graph: graphSection, lint: lintSection, drift, roundTrip: roundTripSection, wantedSchema },
    problems,
    warnings,
    pgVersion,
    ...(scope ? { scope } : {}),
    timingsMs: timings,
  };
}

/**
 * The scope asked for, resolved against the graph: what is pending there, or on any target of a
 * fleet (with what the fleet's targets showed: drift, ahead, unreachable), or changed since the ref.
 */
async function resolveScope(
  options: CheckOptions,
  opened: OpenedServer | undefined,
  graph: RevisionGraph | undefined,
  history: History,
  where: { readonly cwd: string; readonly fileOf: (source: string) => string },
  warnings: string[],
): Promise<{ scope: CheckScope; fleet?: FleetScopeResult } | undefined> {
  const asked = options.scope;
  if (!asked) return undefined;
  if (!graph) {
    warnings.push('the migrations do not form a graph yet: checked all of them, not only the scope');
    return { scope: { kind: 'all', revisions: [] } };
  }
  if ('since' in asked)
    return {
      scope: await sinceScope(graph, asked.since, { cwd: where.cwd, migrationsDir: options.migrationsDir }),
    };
  if ('fleet' in asked) {
    if (options.static) throw new UsageError('fleet check reads the databases: it cannot be --static');
    const fleet = await fleetScope(graph, asked.fleet, history, asked.concurrency, where.fileOf);
    return { scope: fleet.scope, fleet };
  }
  if (options.static) throw new UsageError('check --pending reads the database: it cannot be --static');
  const unavailable = (reason: string) =>
    new RdsMigrateError(
      `check --pending needs the configured database to know what is applied there: ${reason}. ` +
        'Set DATABASE_URL to it, or drop --pending to check the whole folder',
    );
  if (!opened?.server) throw unavailable(opened?.error ?? 'no server');
  const connection = await opened.server.connect().catch((error: Error) => {
    throw unavailable(error.message);
  });
  try {
    return { scope: pendingScope(graph, (await history.read(connection.db)).heads) };
  } finally {
    await connection.close();
  }
}

/** ` (pending on the database)`, ` (changed since origin/main)`: what a scoped section covered. */
function scopeWords(scope: CheckScope): string {
  if (scope.kind === 'pending') return ' pending on the database';
  if (scope.kind === 'since') return ` changed since ${scope.ref}`;
  if (scope.kind === 'fleet') return ' pending on some target of the fleet';
  return '';
}

// Lint: every migration in plan order (so the schema they build is known to the next), then the
// plan's transactions, which can span several migrations.

const VERSION_SOURCES = {
  option: '--pg-version',
  config: `pinned in ${CONFIG_FILE}`,
  server: 'the server',
  default: 'default; give --pg-version',
} as const;

async function tryOpenServer(options: CheckOptions): Promise<OpenedServer> {
  try {
    return {
      server: await openServer(options.server ?? { env: process.env, cwd: options.cwd ?? process.cwd() }),
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/**
 * `--pg-version`, else the major the project pins (so `check --static`, which `cdk synth` runs,
 * lints with the same rules), else the configured server's version, else 16. The server's major
 * is compared with the pin, and without a pin with what `--static` would use: a difference is a
 * warning, since the round trip then ran on rules production does not have.
 */
async function lintVersion(
  options: CheckOptions,
  opened: OpenedServer | undefined,
  warnings: string[],
  pinned: PgVersion | undefined,
): Promise<CheckReport['pgVersion']> {
  if (options.pgVersion !== undefined) return { version: options.pgVersion, from: 'option' };
  const server = opened?.server ? await serverMajor(opened.server, warnings) : undefined;
  if (pinned !== undefined) {
    if (server !== undefined && server.major !== pinned) {
      warnings.push(
        `the server (${server.target}) runs PostgreSQL ${server.major}, and ${CONFIG_FILE} pins ${pinned}: linted with ` +
          `${pinned}'s lock rules, but the round trip and the drift check ran on ${server.major}, which may ` +
          `accept what ${pinned} refuses; rds-migrate doctor says how to run ${pinned} here`,
      );
    }
    return { version: pinned, from: 'config' };
  }
  if (server === undefined) return { version: DEFAULT_PG_VERSION, from: 'default' };
  if (server.major !== DEFAULT_PG_VERSION) {
    warnings.push(
      `linted with the lock rules of PostgreSQL ${server.major} (the server's), but check --static, which ` +
        `cdk synth runs, uses ${DEFAULT_PG_VERSION}'s when no major is pinned: pin the major production runs ` +
        `in ${CONFIG_FILE}, e.g. { "postgres": ${DEFAULT_PG_VERSION} }, so both apply its rules`,
    );
  }
  return { version: server.major, from: 'server' };
}

/** The server's major, or undefined (with a warning) when it cannot be read. */
async function serverMajor(
  server: Server,
  warnings: string[],
): Promise<{ major: PgVersion; target: string } | undefined> {
  let connection: Awaited<ReturnType<Server['connect']>> | undefined;
  try {
    connection = await server.connect();
    const result = await connection.db.query<{ server_version_num: string }>('SHOW server_version_num');
    return { major: versionFromServerNum(result.rows[0]?.server_version_num ?? ''), target: server.target };
  } catch (error) {
    warnings.push(
      `could not read the server's version (${(error as Error).message}); linted with the lock rules of ` +
        `PostgreSQL ${DEFAULT_PG_VERSION}: give --pg-version to choose`,
    );
    return undefined;
  } finally {
    await connection?.close();
  }
}

export {
  CheckFailed,
  type CheckKind,
  type CheckProblem,
  type CheckReport,
  formatCheck,
  formatProblem,
  problemCount,
} from './check-report.ts';

import type { CheckOptions, OpenedServer } from './check-report.ts';
