/**
 * `rds-migrate check`: everything CI (and `cdk synth`, with `--static`) should know before a
 * deploy, as one report: the graph (expected heads, no orphans, a down step or a reason),
 * drift against the database when it has history, the unsafe-change linter over every
 * statement, a round trip (up, down, up) on a scratch database, and whether head's schema is the
 * schema the app wants (schema/ or Drizzle models). Each problem names the file, the revision
 * and what to do.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { bundleHash } from '../engine/bundle.ts';
import { counted } from '../engine/counted.ts';
import { GraphError, MigrationLoadError, RdsMigrateError, UsageError } from '../engine/errors.ts';
import { RevisionGraph } from '../engine/graph.ts';
import { History } from '../engine/history.ts';
import { loadMigrationFile, loadMigrations } from '../engine/loader.ts';
import type { Migration, Revision } from '../engine/migration.ts';
import { findDrift } from '../engine/runner.ts';
import { lintAll } from '../lint/folder-lint.ts';
import type { LockFacts } from '../lint/lint-walker.ts';
import { DEFAULT_PG_VERSION, type PgVersion, versionFromServerNum } from '../lint/model/pg-version.ts';
import { CONFIG_FILE, readProjectConfig } from '../local/project-config.ts';
import { openServer, type Server, type ServerOptions } from '../local/server.ts';
import { type RoundTripReport, roundTrip } from '../schema/round-trip.ts';
import { checkSchemaAgreement, inspectHead } from '../schema/schema-agreement.ts';
import type { SchemaInspection } from '../schema/schema-diff.ts';
import { withScratchDatabase } from '../schema/scratch-database.ts';
import { findWantedSchema, type WantedSchema } from '../schema/wanted-schema.ts';
import { backgroundProblems } from './background-rules.ts';
import {
  type CheckScope,
  type CheckScopeOption,
  pendingScope,
  roundTripPrefix,
  sinceScope,
} from './check-scope.ts';

export type CheckKind = 'load' | 'graph' | 'lint' | 'drift' | 'round-trip' | 'wanted-schema';

export interface CheckProblem {
  readonly kind: CheckKind;
  /** What was found, e.g. 'multiple-heads', a lint rule id, 'down-step-incomplete'. */
  readonly rule: string;
  /** The migration's file as the user opens it (relative to the working directory). */
  readonly file?: string;
  readonly revision?: Revision;
  readonly line?: number;
  readonly section?: 'up' | 'down';
  /** One line: what is wrong and, unless `fix` says it, what to do. */
  readonly message: string;
  readonly why?: string;
  /** The safe recipe, as lines. */
  readonly fix?: string;
  /** Findings in SQL a TS migration issued: the dry run it was recorded from. */
  readonly recordedFrom?: string;
  /** Round trip: schema lines there that should not be (`extra`) and missing ones. */
  readonly diff?: { readonly extra: readonly string[]; readonly missing: readonly string[] };
  /** Lint: the lock behind the finding, what it blocks, and whether the table is rewritten or scanned meanwhile. */
  readonly lock?: LockFacts;
  /** Lint: the statement of another migration the finding pairs with (both run in one transaction). */
  readonly related?: { readonly file: string; readonly revision: Revision; readonly line?: number };
  /** Wanted schema: the SQL that would take head's schema to the wanted one. */
  readonly statements?: readonly string[];
}

export interface CheckSection {
  readonly status: 'ok' | 'problems' | 'skipped';
  readonly summary: string;
}

export interface CheckReport {
  /** No problems: the exit code is 0. */
  readonly ok: boolean;
  readonly migrationsDir: string;
  readonly revisions: number;
  /** The single expected head, as a deploy targets it; null when there is none or several. */
  readonly head: Revision | null;
  readonly heads: readonly Revision[];
  /** `bundleHash` of the folder, as the construct puts it in the custom resource; null if a file is unreadable. */
  readonly hash: string | null;
  readonly checks: {
    readonly graph: CheckSection;
    readonly lint: CheckSection;
    readonly drift: CheckSection;
    readonly roundTrip: CheckSection;
    /** The wanted schema (schema/ or Drizzle models) and head's schema agree. */
    readonly wantedSchema: CheckSection;
  };
  readonly problems: readonly CheckProblem[];
  readonly warnings: readonly string[];
  /** The PostgreSQL major version whose lock and rewrite rules the linter applied, and where it came from. */
  readonly pgVersion: {
    readonly version: PgVersion;
    /** `config`: the major rds-migrate.config.json pins ("postgres"). */
    readonly from: 'option' | 'config' | 'server' | 'default';
  };
  /** What was linted and round-tripped: the whole folder, or a scope (check --pending, --since). */
  readonly scope?: CheckScope;
  readonly timingsMs: {
    readonly load: number;
    readonly lint: number;
    readonly drift: number;
    readonly roundTrip: number;
    readonly wantedSchema: number;
  };
}

export interface CheckOptions {
  readonly migrationsDir: string;
  /** Files are named relative to it. @default process.cwd() */
  readonly cwd?: string;
  /** The heads the folder must have; @default exactly one */
  readonly heads?: readonly string[];
  /** No database at all: graph and lint only (what `cdk synth` runs). @default false */
  readonly static?: boolean;
  readonly skipRoundTrip?: boolean;
  /** Where drift is checked and the scratch database made; required unless `static`. */
  readonly server?: ServerOptions;
  /** @default new History() */
  readonly history?: History;
  /** Context arguments for recording TS migrations and for the round trip. @default {} */
  readonly args?: Readonly<Record<string, string>>;
  /** @default 'rds-migrate check' */
  readonly actor?: string;
  /**
   * The PostgreSQL major version whose lock and rewrite rules the linter applies.
   * @default "postgres" of rds-migrate.config.json (the major production runs), else the configured
   * server's (SHOW server_version_num), else 16 (with `static`, or when it cannot be read)
   */
  readonly pgVersion?: PgVersion;
  /**
   * The schema the app wants, compared with head's: `schema/` or `drizzle:<models file>`.
   * @default "wantedSchema" of rds-migrate.config.json, else schema/ when it exists, else none (skipped)
   */
  readonly wantedSchema?: string;
  /**
   * Lint and round-trip only the migrations not yet applied on the configured database
   * (`{ pending: true }`), or those added or changed since a git ref (`{ since: 'origin/main' }`).
   * The graph, drift and wanted-schema checks still cover the whole folder. @default the whole folder
   */
  readonly scope?: CheckScopeOption;
}

/** `check` found problems: the report says which. Carries the report for callers that want it. */
export class CheckFailed extends RdsMigrateError {
  override readonly name = 'CheckFailed';
  constructor(readonly report: CheckReport) {
    const count = report.problems.length;
    super(`check found ${count} problem${count === 1 ? '' : 's'}; each is listed above with what to do`);
  }
}

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
    return await checkWithServer(options, opened, {
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
  const scope = await resolveScope(options, opened, graphResult?.graph, history, cwd, warnings);
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
    drift = database.drift;
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

/** The scope asked for, resolved against the graph: what is pending there, or changed since the ref. */
async function resolveScope(
  options: CheckOptions,
  opened: OpenedServer | undefined,
  graph: RevisionGraph | undefined,
  history: History,
  cwd: string,
  warnings: string[],
): Promise<CheckScope | undefined> {
  const asked = options.scope;
  if (!asked) return undefined;
  if (!graph) {
    warnings.push('the migrations do not form a graph yet: checked all of them, not only the scope');
    return { kind: 'all', revisions: [] };
  }
  if ('since' in asked) return sinceScope(graph, asked.since, { cwd, migrationsDir: options.migrationsDir });
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
    return pendingScope(graph, (await history.read(connection.db)).heads);
  } finally {
    await connection.close();
  }
}

/** ` (pending on the database)`, ` (changed since origin/main)`: what a scoped section covered. */
function scopeWords(scope: CheckScope): string {
  if (scope.kind === 'pending') return ' pending on the database';
  if (scope.kind === 'since') return ` changed since ${scope.ref}`;
  return '';
}

// ---------------------------------------------------------------------------------------------
// Lint: every migration in plan order (so the schema they build is known to the next), then the
// plan's transactions, which can span several migrations.

const VERSION_SOURCES = {
  option: '--pg-version',
  config: `pinned in ${CONFIG_FILE}`,
  server: 'the server',
  default: 'default; give --pg-version',
} as const;

interface OpenedServer {
  readonly server?: Server;
  /** Why no server could be had. */
  readonly error?: string;
}

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

// ---------------------------------------------------------------------------------------------
// Loading: every file that cannot be read is a problem of its own, not just the first.

async function loadAll(
  directory: string,
  fileOf: (source: string) => string,
): Promise<{ migrations: Migration[]; problems: CheckProblem[] }> {
  let first: MigrationLoadError;
  try {
    return { migrations: await loadMigrations(directory), problems: [] };
  } catch (error) {
    if (!(error instanceof MigrationLoadError)) throw error;
    first = error;
  }
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    // The folder itself cannot be read: the loader already said so, with what to do.
    return { migrations: [], problems: [loadProblem(first, () => directory)] };
  }
  // The loader's own selection of files, loaded one by one to hear of each broken one.
  const files = names.filter((name) => /\.(sql|ts)$/.test(name) && !name.endsWith('.d.ts')).sort();
  const settled = await Promise.allSettled(files.map((name) => loadMigrationFile(directory, name)));
  const migrations: Migration[] = [];
  const problems: CheckProblem[] = [];
  for (const result of settled) {
    if (result.status === 'fulfilled') migrations.push(result.value);
    else if (result.reason instanceof MigrationLoadError) problems.push(loadProblem(result.reason, fileOf));
    else throw result.reason;
  }
  return { migrations, problems };
}

function loadProblem(error: MigrationLoadError, fileOf: (source: string) => string): CheckProblem {
  const prefix = `${error.source}: `;
  const message = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  return { kind: 'load', rule: 'unreadable-migration', file: fileOf(error.source), message };
}

// ---------------------------------------------------------------------------------------------
// The graph: heads as expected, no orphans, a down step for every migration or a reason.

interface GraphCheck {
  readonly graph: RevisionGraph;
  /** The heads the folder should have: the named ones, or its one head; all heads when unclear. */
  readonly expectedHeads: readonly Revision[];
  readonly problems: CheckProblem[];
  readonly section: CheckSection;
}

function checkGraph(
  migrations: readonly Migration[],
  named: readonly string[] | undefined,
  fileOf: (source: string) => string,
): GraphCheck {
  let graph: RevisionGraph;
  try {
    graph = RevisionGraph.from(migrations);
  } catch (error) {
    if (!(error instanceof GraphError)) throw error;
    const revision = error.revisions[0];
    const migration = migrations.find((candidate) => candidate.revision === revision);
    const problem: CheckProblem = {
      kind: 'graph',
      rule: error.problem,
      file: migration ? fileOf(migration.source) : undefined,
      revision,
      message: error.message,
    };
    return {
      graph: RevisionGraph.from([]),
      expectedHeads: [],
      problems: [problem],
      section: { status: 'problems', summary: error.message },
    };
  }
  const problem = (rule: string, revision: Revision, message: string): CheckProblem => ({
    kind: 'graph',
    rule,
    file: fileOf(graph.get(revision).source),
    revision,
    message,
  });
  const heads = headProblems(graph, named, problem);
  const problems = [...heads.problems, ...orphanProblems(graph, heads.expected, heads.clear, problem)];
  for (const revision of graph.order) {
    const migration = graph.get(revision);
    if (migration.down || migration.irreversible) continue;
    const how = migration.up.kind === 'code' ? 'a down(ctx) function' : "a '-- migrate:down' section";
    const mark =
      migration.up.kind === 'code' ? "irreversible: '<reason>'" : "'-- irreversible: <reason>' in its header";
    problems.push(
      problem(
        'missing-down-step',
        revision,
        `has no down step: add ${how} (empty for nothing to undo), or mark it ${mark}`,
      ),
    );
  }
  if (graph.size === 0) {
    problems.push({
      kind: 'graph',
      rule: 'no-migrations',
      message: 'the folder has no migrations; create one with rds-migrate create "message"',
    });
  }
  const irreversible = migrations.filter((migration) => migration.irreversible).length;
  const summary =
    `${graph.size} migration${graph.size === 1 ? '' : 's'}, head${heads.expected.length === 1 ? '' : 's'} ` +
    `${heads.expected.join(', ') || 'none'}` +
    (irreversible > 0 ? `, ${irreversible} marked irreversible` : '');
  return {
    graph,
    expectedHeads: heads.expected,
    problems,
    section: { status: problems.length > 0 ? 'problems' : 'ok', summary },
  };
}

type GraphProblemFactory = (rule: string, revision: Revision, message: string) => CheckProblem;

function headProblems(
  graph: RevisionGraph,
  named: readonly string[] | undefined,
  problem: GraphProblemFactory,
): { expected: Revision[]; clear: boolean; problems: CheckProblem[] } {
  if (named === undefined) {
    if (graph.heads.length <= 1) return { expected: [...graph.heads], clear: true, problems: [] };
    const all = graph.heads.join(', ');
    const problems = graph.heads.map((head) =>
      problem(
        'multiple-heads',
        head,
        `is one of ${graph.heads.length} heads (${all}); join them with rds-migrate merge -m "merge heads", ` +
          `or name the heads you expect with --heads ${graph.heads.join(',')}`,
      ),
    );
    return { expected: [...graph.heads], clear: false, problems };
  }
  const problems: CheckProblem[] = [];
  const expected: Revision[] = [];
  for (const spec of named) {
    let revision: Revision;
    try {
      revision = graph.resolve(spec);
    } catch (error) {
      if (!(error instanceof GraphError)) throw error;
      problems.push({
        kind: 'graph',
        rule: 'unknown-head',
        message: `--heads names '${spec}': ${error.message}`,
      });
      continue;
    }
    if (graph.heads.includes(revision)) expected.push(revision);
    else {
      problems.push(
        problem(
          'not-a-head',
          revision,
          `is named in --heads but is not a head (${graph.children(revision).join(', ')} build on it); ` +
            'rds-migrate heads lists the heads',
        ),
      );
    }
  }
  for (const head of graph.heads.filter((candidate) => !expected.includes(candidate))) {
    problems.push(
      problem(
        'unexpected-head',
        head,
        '--heads does not name this head; join it to the others with rds-migrate merge, or add it to --heads',
      ),
    );
  }
  return { expected, clear: true, problems };
}

/**
 * Orphans: a second base (a migration whose down_revision was left empty by mistake starts a
 * history of its own), and revisions that lead only to heads nobody expects.
 */
function orphanProblems(
  graph: RevisionGraph,
  expected: readonly Revision[],
  expectedIsClear: boolean,
  problem: GraphProblemFactory,
): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const [first, ...others] = graph.bases;
  for (const base of others) {
    // A labelled root, or one that depends on another branch, is a second history on purpose.
    if (graph.get(base).branchLabels?.length || graph.dependencies(base).length > 0) continue;
    problems.push(
      problem(
        'orphan',
        base,
        `has no down_revision, so it starts a second history beside ${first} (${graph.get(first as Revision).source}); ` +
          'set its down_revision to the revision it builds on',
      ),
    );
  }
  if (!expectedIsClear) return problems;
  const reachable = graph.ancestors(expected);
  for (const revision of graph.order) {
    if (reachable.has(revision) || graph.heads.includes(revision) || others.includes(revision)) continue;
    const leadsTo = graph.headsOf(graph.descendants(revision)).join(', ');
    problems.push(
      problem(
        'orphan',
        revision,
        `leads only to ${leadsTo}, not to the expected head${expected.length === 1 ? '' : 's'} ` +
          `${expected.join(', ') || '(none)'}; merge that branch or remove it`,
      ),
    );
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// With a database: drift against the user's database, the round trip on a scratch one.

interface DatabaseChecks {
  readonly drift: CheckSection;
  readonly roundTrip: CheckSection;
  readonly wantedSchema: CheckSection;
  readonly problems: CheckProblem[];
  readonly warnings: string[];
  readonly driftMs: number;
  readonly roundTripMs: number;
  readonly wantedSchemaMs: number;
}

async function databaseChecks(
  options: CheckOptions,
  opened: OpenedServer | undefined,
  graph: RevisionGraph | undefined,
  expectedHeads: readonly Revision[] | undefined,
  history: History,
  args: Readonly<Record<string, string>>,
  fileOf: (source: string) => string,
  scope: CheckScope | undefined,
): Promise<DatabaseChecks> {
  const problems: CheckProblem[] = [];
  const warnings: string[] = [];
  const skipped = (summary: string): CheckSection => ({ status: 'skipped', summary });
  if (!graph || graph.size === 0) {
    const reason = skipped('the migrations do not form a usable graph yet');
    return {
      drift: reason,
      roundTrip: reason,
      wantedSchema: reason,
      problems,
      warnings,
      driftMs: 0,
      roundTripMs: 0,
      wantedSchemaMs: 0,
    };
  }
  const server = opened?.server;
  if (!server) {
    const message = opened?.error ?? 'no server';
    const roundTripSection = options.skipRoundTrip
      ? skipped('--skip-round-trip')
      : unavailable(problems, message);
    return {
      drift: skipped(`no database: ${message}`),
      roundTrip: roundTripSection,
      wantedSchema: skipped(`needs a database: ${message}`),
      problems,
      warnings,
      driftMs: 0,
      roundTripMs: 0,
      wantedSchemaMs: 0,
    };
  }
  let started = performance.now();
  const drift = await checkDrift(server, graph, history, fileOf, problems);
  const driftMs = Math.round(performance.now() - started);
  started = performance.now();
  let roundTripSection = skipped('--skip-round-trip');
  const wanted = await findWantedSchema({
    option: options.wantedSchema,
    cwd: options.cwd ?? process.cwd(),
  }).catch((error: unknown) => {
    if (!(error instanceof RdsMigrateError)) throw error;
    problems.push({ kind: 'wanted-schema', rule: 'wanted-schema-unreadable', message: error.message });
    return undefined;
  });
  // The trip ends at the heads: head's schema is read there for the wanted schema's comparison.
  let head: SchemaInspection | undefined;
  const scoped = scope && scope.kind !== 'all' ? scope : undefined;
  if (scoped && scoped.revisions.length === 0 && !options.skipRoundTrip) {
    roundTripSection = skipped(
      scoped.kind === 'pending'
        ? 'nothing pending on the database'
        : `no migration changed since ${scoped.ref}`,
    );
  } else if (!options.skipRoundTrip) {
    try {
      let scratchName = '';
      const report = await withScratchDatabase(
        server,
        async (scratch) => {
          scratchName = scratch.name;
          const trip = await roundTrip(scratch.db, graph, {
            heads: expectedHeads,
            history,
            args,
            actor: options.actor ?? 'rds-migrate check',
            ...(scoped ? { prefix: roundTripPrefix(graph, scoped) } : {}),
          });
          if (wanted && !trip.difference) head = await inspectHead(scratch.db, history);
          return trip;
        },
        (message) => warnings.push(message),
      );
      roundTripSection = roundTripResult(
        report,
        `${scratchName} on ${server.target}`,
        graph,
        fileOf,
        problems,
      );
    } catch (error) {
      if (!(error instanceof RdsMigrateError)) throw error;
      roundTripSection = unavailable(problems, error.message);
    }
  }
  const roundTripMs = Math.round(performance.now() - started);
  started = performance.now();
  const wantedSchema = wanted
    ? await wantedSchemaSection(
        server,
        graph,
        { wanted, expectedHeads, head, history, args, options },
        problems,
        warnings,
      )
    : skipped(
        'no wanted schema: create schema/ (its CREATE statements), or name one with --wanted-schema or rds-migrate.config.json',
      );
  return {
    drift,
    roundTrip: roundTripSection,
    wantedSchema,
    problems,
    warnings,
    driftMs,
    roundTripMs,
    wantedSchemaMs: Math.round(performance.now() - started),
  };
}

/** "The wanted schema and the migrations agree": a difference is a problem that says to autogenerate. */
async function wantedSchemaSection(
  server: Server,
  graph: RevisionGraph,
  context: {
    readonly wanted: WantedSchema;
    readonly expectedHeads: readonly Revision[] | undefined;
    readonly head: SchemaInspection | undefined;
    readonly history: History;
    readonly args: Readonly<Record<string, string>>;
    readonly options: CheckOptions;
  },
  problems: CheckProblem[],
  warnings: string[],
): Promise<CheckSection> {
  const { wanted, history, options } = context;
  let agreement: Awaited<ReturnType<typeof checkSchemaAgreement>>;
  try {
    agreement = await checkSchemaAgreement(
      server,
      graph,
      {
        wanted,
        cwd: options.cwd ?? process.cwd(),
        heads: context.expectedHeads,
        history,
        args: context.args,
        actor: options.actor ?? 'rds-migrate check',
        head: context.head,
      },
      (message) => warnings.push(message),
    );
  } catch (error) {
    if (!(error instanceof RdsMigrateError)) throw error;
    problems.push({ kind: 'wanted-schema', rule: 'wanted-schema-unreadable', message: error.message });
    return { status: 'problems', summary: `${wanted.label}: could not be compared` };
  }
  const heads = context.expectedHeads?.join(', ') || 'head';
  if (agreement.statements.length === 0)
    return { status: 'ok', summary: `${wanted.label} and the schema of ${heads} agree` };
  problems.push({
    kind: 'wanted-schema',
    rule: 'wanted-schema-differs',
    message:
      `the schema the migrations build at ${heads} differs from ${wanted.label} (${counted(agreement.statements.length, 'statement')} ` +
      'apart): the migrations and the wanted schema changed apart',
    fix:
      'rds-migrate create --autogenerate "<what changed>" writes the migrations that close the difference; ' +
      `or, if the migrations are right, change ${wanted.label} to match them`,
    statements: agreement.statements,
  });
  return {
    status: 'problems',
    summary: `${wanted.label} differs from the schema of ${heads}: ${counted(agreement.statements.length, 'statement')}`,
  };
}

function unavailable(problems: CheckProblem[], message: string): CheckSection {
  problems.push({
    kind: 'round-trip',
    rule: 'no-scratch-database',
    message: `the round trip needs a scratch database and cannot have one: ${message}`,
    fix: 'Start the database or point --database-url at a server where this user may CREATE DATABASE; or run check --skip-round-trip (CI should not).',
  });
  return { status: 'problems', summary: 'could not run: no scratch database' };
}

async function checkDrift(
  server: Server,
  graph: RevisionGraph,
  history: History,
  fileOf: (source: string) => string,
  problems: CheckProblem[],
): Promise<CheckSection> {
  let connection: Awaited<ReturnType<Server['connect']>>;
  try {
    connection = await server.connect();
  } catch (error) {
    return { status: 'skipped', summary: `database not reachable (${(error as Error).message})` };
  }
  try {
    const state = await history.read(connection.db);
    if (!state.exists) return { status: 'skipped', summary: `no rds-migrate history in ${server.target}` };
    const before = problems.length;
    for (const drifted of findDrift(graph, state)) {
      problems.push({
        kind: 'drift',
        rule: 'changed-after-apply',
        file: fileOf(drifted.source),
        revision: drifted.revision,
        message:
          `changed after it was applied to ${server.target}: applied checksum ${drifted.appliedChecksum}, ` +
          `file checksum ${drifted.currentChecksum}; restore the file as it was applied and put the change in a new migration`,
      });
    }
    for (const head of state.heads.filter((revision) => !graph.has(revision))) {
      const squash = graph.replacedBy(head);
      problems.push({
        kind: 'drift',
        rule: squash ? 'inside-squash' : 'unknown-revision',
        revision: head,
        message: squash
          ? `${server.target} is at revision ${head}, part-way through the revisions ${fileOf(graph.get(squash).source)} ` +
            `squashes into ${squash}; bring it to ${squash} with the files from before the squash first`
          : `${server.target} is at revision ${head}, which no migration in this folder defines; ` +
            'check out the code that has it, or this folder is not the one deployed there',
      });
    }
    const found = problems.length - before;
    const at = state.heads.length > 0 ? state.heads.join(', ') : 'base';
    return found > 0
      ? {
          status: 'problems',
          summary: `${server.target} at ${at}: ${found} problem${found === 1 ? '' : 's'}`,
        }
      : {
          status: 'ok',
          summary: `${server.target} at ${at}: ${state.checksums.size} applied migrations unchanged`,
        };
  } finally {
    await connection.close();
  }
}

function roundTripResult(
  report: RoundTripReport,
  where: string,
  graph: RevisionGraph,
  fileOf: (source: string) => string,
  problems: CheckProblem[],
): CheckSection {
  const prefix = report.prefixApplied > 0 ? `${report.prefixApplied} applied first, then ` : '';
  const counts = `${prefix}${report.applied} up, ${report.reverted} down, ${report.reapplied} up again on ${where}`;
  const turned = report.turnedBackAt
    ? `; turned back at ${report.turnedBackAt.revision} (${report.turnedBackAt.irreversible ? `irreversible: ${report.turnedBackAt.irreversible}` : 'no down step'})`
    : '';
  const difference = report.difference;
  const whole = report.tracked
    ? ''
    : ' (each read whole: following the DDL takes event triggers, which only a superuser (on RDS: rds_superuser) may create)';
  if (!difference) return { status: 'ok', summary: `${counts}${turned}, schemas matched${whole}` };
  const rule =
    difference.kind === 'failed'
      ? `${difference.phase.replace(' ', '-')}-failed`
      : difference.phase === 'down'
        ? 'down-step-incomplete'
        : 'up-again-differs';
  problems.push({
    kind: 'round-trip',
    rule,
    file: fileOf(graph.get(difference.revision).source),
    revision: difference.revision,
    section: difference.phase === 'down' ? 'down' : 'up',
    message: difference.message,
    diff: difference.kind === 'schema' ? { extra: difference.extra, missing: difference.missing } : undefined,
  });
  return {
    status: 'problems',
    summary: `${counts}; stopped at ${difference.revision} (${difference.phase})`,
  };
}

// ---------------------------------------------------------------------------------------------
// Text.

const DIFF_LINES_SHOWN = 20;

export function formatCheck(report: CheckReport): string {
  const heads = report.head ?? (report.heads.join(', ') || 'none');
  const lines = [
    `checked ${report.migrationsDir}: ${report.revisions} migration${report.revisions === 1 ? '' : 's'}, head ${heads}` +
      (report.hash ? `, hash ${report.hash.slice(0, 12)}` : ''),
  ];
  const sections: [string, CheckSection][] = [
    ['graph', report.checks.graph],
    ['lint', report.checks.lint],
    ['drift', report.checks.drift],
    ['round trip', report.checks.roundTrip],
    // A report from a release before the wanted schema has no such section.
    ...(report.checks.wantedSchema
      ? ([['wanted', report.checks.wantedSchema]] as [string, CheckSection][])
      : []),
  ];
  if (report.scope && report.scope.kind !== 'all') {
    const count = report.scope.revisions.length;
    const which =
      report.scope.kind === 'pending'
        ? `pending on the database (at ${report.scope.at?.join(', ') || 'base'})`
        : `added or changed since ${report.scope.ref} (merge base ${report.scope.mergeBase?.slice(0, 12)})`;
    lines.push(
      `scope: lint and round trip cover the ${count} migration${count === 1 ? '' : 's'} ${which}` +
        (count > 0 && count <= 10 ? `: ${report.scope.revisions.join(', ')}` : '') +
        '; graph, drift and the wanted schema cover all',
    );
  }
  for (const [name, section] of sections) {
    lines.push(`  ${name.padEnd(11)} ${section.status.padEnd(8)} ${section.summary}`);
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  if (report.problems.length > 0) lines.push('');
  for (const problem of report.problems) lines.push(...formatProblem(problem));
  lines.push('');
  lines.push(report.ok ? 'clean: no problems' : problemCount(report.problems));
  return lines.join('\n');
}

/** `file:line: revision r, section: kind rule: message`, then the why, the fix and the diff, indented. */
export function formatProblem(problem: CheckProblem): string[] {
  const where = problem.file ? `${problem.file}${problem.line ? `:${problem.line}` : ''}: ` : '';
  const revision = problem.revision
    ? `revision ${problem.revision}${problem.section ? `, ${problem.section}` : ''}: `
    : '';
  const recorded = problem.recordedFrom ? ` [${problem.recordedFrom}]` : '';
  const lines = [`${where}${revision}${problem.kind} ${problem.rule}: ${problem.message}${recorded}`];
  if (problem.related) {
    const line = problem.related.line ? `:${problem.related.line}` : '';
    lines.push(
      `    with: ${problem.related.file}${line} (revision ${problem.related.revision}), in the same transaction`,
    );
  }
  if (problem.lock) lines.push(`    lock: ${formatLock(problem.lock)}`, `    docs: ${problem.lock.doc}`);
  if (problem.why) lines.push(`    why: ${problem.why}`);
  if (problem.fix) {
    const [first, ...rest] = problem.fix.split('\n');
    lines.push(`    fix: ${first}`, ...rest.map((line) => `         ${line}`));
  }
  if (problem.statements) {
    lines.push(
      ...problem.statements
        .slice(0, DIFF_LINES_SHOWN)
        .map((statement) => `    > ${statement.split('\n').join(' ')}`),
    );
    if (problem.statements.length > DIFF_LINES_SHOWN)
      lines.push(`    ... ${problem.statements.length - DIFF_LINES_SHOWN} more (--json has them all)`);
  }
  if (problem.diff) {
    const shown = [
      ...problem.diff.extra.map((line) => `    + ${line}`),
      ...problem.diff.missing.map((line) => `    - ${line}`),
    ];
    lines.push(...shown.slice(0, DIFF_LINES_SHOWN));
    if (shown.length > DIFF_LINES_SHOWN)
      lines.push(`    ... ${shown.length - DIFF_LINES_SHOWN} more (--json has them all)`);
  }
  return lines;
}

/** `ACCESS EXCLUSIVE on table "users" (blocks reads and writes until the end of the transaction); rewrites it`. */
export function formatLock(lock: LockFacts): string {
  const meanwhile = lock.rewrite
    ? 'the table is rewritten meanwhile'
    : lock.scan
      ? 'every row is read meanwhile'
      : 'no rewrite, no scan';
  return `${lock.mode} on ${lock.on} (blocks ${lock.blocks} until the ${lock.heldUntil.replace('end of ', 'end of the ')}); ${meanwhile}`;
}

export function problemCount(problems: readonly CheckProblem[]): string {
  const byKind = new Map<string, number>();
  for (const problem of problems) byKind.set(problem.kind, (byKind.get(problem.kind) ?? 0) + 1);
  const detail = [...byKind].map(([kind, count]) => `${count} ${kind}`).join(', ');
  return `${problems.length} problem${problems.length === 1 ? '' : 's'} (${detail})`;
}
