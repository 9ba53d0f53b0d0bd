/**
 * What a scoped `check` lints and round-trips: the migrations not yet applied on the configured
 * database (`--pending`), on any database of a fleet (`fleet check`, fleet-scope.ts), or those
 * added or changed since a git ref (`--since`, for pull-request CI). The graph, drift and
 * wanted-schema checks cover the whole folder whatever the scope.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { Revision } from '../engine/migration.ts';

const run = promisify(execFile);

export type CheckScopeOption =
  | { readonly pending: true }
  | { readonly since: string }
  /** `fleet check`: what any of these databases has not applied, read `concurrency` at a time. */
  | { readonly fleet: readonly FleetCheckTarget[]; readonly concurrency: number };

/** The scope a check ran with, as its report gives it. */
export interface CheckScope {
  /** `all`: the whole folder (the default); `fleet`: what any target of a fleet has not applied. */
  readonly kind: 'all' | 'pending' | 'since' | 'fleet';
  /** The revisions linted and round-tripped, in graph order. */
  readonly revisions: readonly Revision[];
  /** `pending`: the configured database's current revisions (empty at base). */
  readonly at?: readonly Revision[];
  /** `since`: the ref as given, and the commit where this branch left it (git merge-base). */
  readonly ref?: string;
  readonly mergeBase?: string;
  /** `fleet`: the targets, grouped by revision, and those behind, ahead and unreachable. */
  readonly fleet?: FleetScopeReport;
}

/** `--pending`: every revision the database's current ones do not already include. */
export function pendingScope(graph: RevisionGraph, current: readonly Revision[]): CheckScope {
  const applied = graph.ancestors(current.filter((revision) => graph.has(revision)));
  return {
    kind: 'pending',
    at: current,
    revisions: graph.order.filter((revision) => !applied.has(revision)),
  };
}

/**
 * `--since <ref>`: the migrations whose files differ from where this branch left `ref`: added,
 * changed or renamed since the merge base, committed or not, and new files git does not track yet.
 */
export async function sinceScope(
  graph: RevisionGraph,
  ref: string,
  where: { readonly cwd: string; readonly migrationsDir: string },
): Promise<CheckScope> {
  // git runs in the migrations folder: its repository, wherever the command was started.
  const folder = resolve(where.cwd, where.migrationsDir);
  const git = async (...args: string[]): Promise<string> => {
    try {
      return (await run('git', args, { cwd: folder, maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (error) {
      const failure = error as { code?: unknown; stderr?: unknown };
      if (failure.code === 'ENOENT') {
        throw new UsageError(
          'check --since needs git on the PATH; without git, use check --pending or a full check',
        );
      }
      throw new GitFailed(String(failure.stderr ?? '').trim() || (error as Error).message);
    }
  };
  let top: string;
  try {
    top = (await git('rev-parse', '--show-toplevel')).trim();
  } catch (error) {
    if (!(error instanceof GitFailed)) throw error;
    throw new UsageError(
      `check --since ${ref}: ${where.migrationsDir} is not in a git checkout (${error.message}); use check --pending, or check the whole folder`,
    );
  }
  let mergeBase: string;
  try {
    mergeBase = (await git('merge-base', ref, 'HEAD')).trim();
  } catch (error) {
    if (!(error instanceof GitFailed)) throw error;
    throw new UsageError(
      `check --since ${ref}: git finds no common commit of '${ref}' and HEAD (${error.message}). ` +
        'Name a branch or commit this checkout has; in GitHub Actions, actions/checkout needs ' +
        "fetch-depth: 0 (or git fetch origin <base branch>) for the base branch's history to be there",
    );
  }
  const changed = await git('diff', '--name-only', '-z', '--diff-filter=d', mergeBase, '--', folder);
  const untracked = await git(
    'ls-files',
    '--others',
    '--exclude-standard',
    '-z',
    '--full-name',
    '--',
    folder,
  );
  const files = new Set(
    `${changed}${untracked}`
      .split('\0')
      .filter(Boolean)
      .map((path) => resolve(top, path)),
  );
  const revisions = graph.order.filter((revision) => files.has(resolve(folder, graph.get(revision).source)));
  return { kind: 'since', ref, mergeBase, revisions };
}

class GitFailed extends Error {}

/**
 * The revisions a scoped round trip applies first without comparisons: everything that neither
 * is in scope nor builds on something that is (those must run again after a changed parent).
 */
export function roundTripPrefix(graph: RevisionGraph, scope: CheckScope): Set<Revision> {
  const touched = graph.requiredBy(scope.revisions);
  return new Set(graph.order.filter((revision) => !touched.has(revision)));
}

/** A database of the fleet: its name in the report, and how to reach it (the URL is never printed). */
export interface FleetCheckTarget {
  readonly name: string;
  readonly url: string;
}

/** The targets at one set of current revisions. */
export interface FleetRevisionGroup {
  /** Their current revisions (empty at base). */
  readonly at: readonly Revision[];
  readonly targets: readonly string[];
  /** The folder's migrations these targets have not applied, in graph order. */
  readonly pending: readonly Revision[];
  /** Their current revisions this folder does not define: they are ahead (or on another branch). */
  readonly ahead: readonly Revision[];
}

export interface FleetUnreachable {
  readonly name: string;
  /** user@host:port/database: never the password. */
  readonly database: string;
  readonly error: string;
}

/** `fleet check`: where the fleet's targets stand, as the scope was computed from them. */
export interface FleetScopeReport {
  /** Every target given, the unreachable ones included. */
  readonly targets: number;
  /** The targets read, grouped by revision: the least advanced first, those ahead last. */
  readonly groups: readonly FleetRevisionGroup[];
  /** Targets with migrations of the folder pending. */
  readonly behind: readonly string[];
  /** Targets at a revision the folder does not define. */
  readonly ahead: readonly string[];
  readonly unreachable: readonly FleetUnreachable[];
}
