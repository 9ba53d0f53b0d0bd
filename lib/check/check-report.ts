/**
 * What check reports: its problems and sections, and how the text report prints them.
 */
import { join } from 'node:path';
import { RdsMigrateError } from '../engine/errors.ts';
import type { History } from '../engine/history.ts';
import type { Revision } from '../engine/migration.ts';
import { printable } from '../engine/printable.ts';
import type { LockFacts } from '../lint/lint-walker.ts';
import type { PgVersion } from '../lint/model/pg-version.ts';
import type { Server, ServerOptions } from '../local/server.ts';
import type { CheckScope, CheckScopeOption, FleetRevisionGroup, FleetScopeReport } from './check-scope.ts';
import type { RehearsalReport } from './rehearse.ts';
import { formatRehearsal } from './rehearse-report.ts';

export type CheckKind =
  | 'load'
  | 'graph'
  | 'lint'
  | 'drift'
  | 'round-trip'
  | 'wanted-schema'
  | 'rehearsal'
  /** `fleet check`: a target that cannot be read. */
  | 'fleet';

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
    /** `--rehearse`: the pending plan on a copy of a real database, and back. */
    readonly rehearsal?: CheckSection;
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
  /** `--rehearse`: what was measured on the copy (rehearse.ts). */
  readonly rehearsal?: RehearsalReport;
  readonly timingsMs: {
    readonly load: number;
    readonly lint: number;
    readonly drift: number;
    readonly roundTrip: number;
    readonly wantedSchema: number;
    readonly rehearsal?: number;
  };
}

/**
 * What `check --format` prints the report as: text (formatCheck below), json, github or sarif
 * (report-formats.ts). Kept with the report so the command defines --format without loading the
 * formatters and the linter they bring.
 */
export const CHECK_FORMATS = ['text', 'json', 'github', 'sarif'] as const;
export type CheckFormat = (typeof CHECK_FORMATS)[number];

/** `check` found problems: the report says which. Carries the report for callers that want it. */
export class CheckFailed extends RdsMigrateError {
  override readonly name = 'CheckFailed';
  constructor(readonly report: CheckReport) {
    const count = report.problems.length;
    super(`check found ${count} problem${count === 1 ? '' : 's'}; each is listed above with what to do`);
  }
}

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
    ...(report.checks.rehearsal
      ? ([['rehearsal', report.checks.rehearsal]] as [string, CheckSection][])
      : []),
  ];
  if (report.scope && report.scope.kind !== 'all') {
    const count = report.scope.revisions.length;
    lines.push(
      `scope: lint and round trip cover the ${count} migration${count === 1 ? '' : 's'} ${scopeWhich(report.scope)}` +
        (count > 0 && count <= 10 ? `: ${report.scope.revisions.join(', ')}` : '') +
        (report.scope.kind === 'fleet'
          ? '; graph and the wanted schema cover all, drift every target read'
          : '; graph, drift and the wanted schema cover all'),
    );
    if (report.scope.fleet) lines.push(...formatFleetScope(report.scope.fleet));
  }
  for (const [name, section] of sections) {
    lines.push(`  ${name.padEnd(11)} ${section.status.padEnd(8)} ${section.summary}`);
  }
  if (report.rehearsal)
    lines.push(...formatRehearsal(report.rehearsal, (source) => join(report.migrationsDir, source)));
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  if (report.problems.length > 0) lines.push('');
  for (const problem of report.problems) lines.push(...formatProblem(problem));
  lines.push('');
  lines.push(report.ok ? 'clean: no problems' : problemCount(report.problems));
  return lines.join('\n');
}

function scopeWhich(scope: CheckScope): string {
  if (scope.kind === 'pending') return `pending on the database (at ${scope.at?.join(', ') || 'base'})`;
  if (scope.kind === 'fleet') return 'pending on some target of the fleet';
  return `added or changed since ${scope.ref} (merge base ${scope.mergeBase?.slice(0, 12)})`;
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
function formatLock(lock: LockFacts): string {
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
   * (`{ pending: true }`), those some database of a fleet has not applied (`{ fleet, concurrency }`:
   * drift is then checked on those databases, and the configured server only holds the scratch
   * database), or those added or changed since a git ref (`{ since: 'origin/main' }`).
   * The graph, drift and wanted-schema checks still cover the whole folder. @default the whole folder
   */
  readonly scope?: CheckScopeOption;
  /**
   * Rehearse the pending plan on a copy of this database (`url`): a template copy made and
   * dropped, or the database itself when it is a copy (`onCopy`, or marked by an earlier rehearsal).
   * @default none
   */
  readonly rehearse?: {
    readonly url: string;
    readonly onCopy?: boolean;
    /** As `up --lock-retries`: tries after a lock timeout. @default the runner's (4) */
    readonly lockRetries?: number;
  };
}

export interface OpenedServer {
  readonly server?: Server;
  /** Why no server could be had. */
  readonly error?: string;
}

/** `fleet check`: the text report's lines for the fleet: a row per revision group, then who is behind, ahead, unreachable. */
function formatFleetScope(fleet: FleetScopeReport): string[] {
  const rows = [
    ...fleet.groups.map((group) => [
      `at ${group.at.join('+') || 'base'}`,
      groupState(group),
      printable(group.targets.join(', ')),
    ]),
    ...fleet.unreachable.map((target) => ['unreachable', '', printable(target.name)]),
  ];
  const width = (column: number) => Math.max(...rows.map((row) => row[column]?.length ?? 0));
  const list = (names: readonly string[]) => (names.length === 0 ? 'none' : printable(names.join(', ')));
  return [
    `fleet: ${fleet.targets} target${fleet.targets === 1 ? '' : 's'}, ${fleet.groups.length} revision${fleet.groups.length === 1 ? '' : 's'}`,
    ...rows.map((row) =>
      `  ${(row[0] ?? '').padEnd(width(0))}  ${(row[1] ?? '').padEnd(width(1))}  ${row[2] ?? ''}`.trimEnd(),
    ),
    `  behind: ${list(fleet.behind)}; ahead: ${list(fleet.ahead)}; unreachable: ${list(fleet.unreachable.map((target) => target.name))}`,
  ];
}

function groupState(group: FleetRevisionGroup): string {
  if (group.ahead.length > 0) return 'ahead';
  if (group.pending.length === 0) return 'up to date';
  return `${group.pending.length} pending`;
}
