/**
 * `rds-migrate fleet check`: the scope of one check for a fleet's bundle. Every target's current
 * revisions are read; the scope is every migration some target has not applied (the union of
 * what each would run), so the round trip starts from what every target has (the least advanced
 * point) and covers every target's pending plan. Targets are grouped by revision; one at a
 * revision the folder lacks (ahead), one whose applied file changed (drift) and one that cannot be
 * read (unreachable) are problems, named, as `check` names them for one database.
 */
import { mapConcurrently } from '../engine/concurrency.ts';
import { connect, describeTarget } from '../engine/connection.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { History, HistoryState } from '../engine/history.ts';
import type { Revision } from '../engine/migration.ts';
import { printable } from '../engine/printable.ts';
import { findDrift } from '../engine/runner.ts';
import type { CheckProblem, CheckSection } from './check-report.ts';
import {
  type CheckScope,
  type FleetCheckTarget,
  type FleetRevisionGroup,
  type FleetScopeReport,
  type FleetUnreachable,
  pendingScope,
} from './check-scope.ts';

interface TargetRead {
  readonly name: string;
  readonly database: string;
  readonly state?: HistoryState;
  readonly error?: string;
}

/** What the fleet tells the check: its scope, the drift section, and the problems found on the targets. */
export interface FleetScopeResult {
  readonly scope: CheckScope;
  readonly drift: CheckSection;
  readonly problems: readonly CheckProblem[];
}

export async function fleetScope(
  graph: RevisionGraph,
  targets: readonly FleetCheckTarget[],
  history: History,
  concurrency: number,
  fileOf: (source: string) => string,
): Promise<FleetScopeResult> {
  const reads = await mapConcurrently(targets, concurrency, (target) => readTarget(target, history));
  const read = reads.filter((target) => target.state !== undefined);
  const groups = groupByRevision(graph, read);
  // A target ahead tells nothing of what this folder would run there (it cannot run there at all):
  // it is a problem below. With no target read, nothing is known: the whole folder is in scope.
  const known = groups.filter((group) => group.ahead.length === 0);
  const pendingAnywhere = new Set(known.flatMap((group) => group.pending));
  const revisions =
    read.length === 0 ? [...graph.order] : graph.order.filter((revision) => pendingAnywhere.has(revision));
  const fleet: FleetScopeReport = {
    targets: targets.length,
    groups,
    behind: groups.filter((group) => group.pending.length > 0).flatMap((group) => group.targets),
    ahead: groups.filter((group) => group.ahead.length > 0).flatMap((group) => group.targets),
    unreachable: reads
      .filter((target) => target.error !== undefined)
      .map((target) => ({ name: target.name, database: target.database, error: target.error as string })),
  };
  const problems = [
    ...driftProblems(graph, read, fileOf),
    ...aheadProblems(graph, groups, fileOf),
    ...fleet.unreachable.map(unreachableProblem),
  ];
  return {
    scope: { kind: 'fleet', revisions, fleet },
    drift: driftSection(read.length, targets.length, problems),
    problems,
  };
}

async function readTarget(target: FleetCheckTarget, history: History): Promise<TargetRead> {
  const database = describeTarget({ connectionString: target.url });
  let connection: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    connection = await connect({ connectionString: target.url }, 'rds-migrate fleet check');
    return { name: target.name, database, state: await history.read(connection.db) };
  } catch (error) {
    // connect() names where it tried but never the password; a query's error carries none.
    return { name: target.name, database, error: (error as Error)?.message ?? String(error) };
  } finally {
    await connection?.close();
  }
}

function groupByRevision(graph: RevisionGraph, read: readonly TargetRead[]): FleetRevisionGroup[] {
  const byRevision = new Map<string, { at: readonly Revision[]; targets: string[] }>();
  for (const target of read) {
    const at = [...(target.state as HistoryState).heads].sort();
    const key = at.join('+');
    const group = byRevision.get(key) ?? { at, targets: [] };
    group.targets.push(target.name);
    byRevision.set(key, group);
  }
  const groups = [...byRevision.values()].map(({ at, targets }) => {
    const ahead = at.filter((revision) => !graph.has(revision));
    const pending = ahead.length > 0 ? [] : pendingScope(graph, at).revisions;
    return { at, targets, pending, ahead };
  });
  // The least advanced first (the round trip's starting point), those ahead last.
  return groups.sort(
    (a, b) =>
      Number(a.ahead.length > 0) - Number(b.ahead.length > 0) ||
      b.pending.length - a.pending.length ||
      a.at.join('+').localeCompare(b.at.join('+')),
  );
}

/** One problem per drifted revision, naming every target where it drifted. */
function driftProblems(
  graph: RevisionGraph,
  read: readonly TargetRead[],
  fileOf: (source: string) => string,
): CheckProblem[] {
  const byRevision = new Map<
    Revision,
    { source: string; fileChecksum: string; checksums: Set<string>; targets: string[] }
  >();
  for (const target of read) {
    for (const drifted of findDrift(graph, target.state as HistoryState)) {
      const found = byRevision.get(drifted.revision) ?? {
        source: drifted.source,
        fileChecksum: drifted.currentChecksum,
        checksums: new Set<string>(),
        targets: [],
      };
      found.checksums.add(drifted.appliedChecksum);
      found.targets.push(target.name);
      byRevision.set(drifted.revision, found);
    }
  }
  return [...byRevision].map(([revision, found]) => ({
    kind: 'drift',
    rule: 'changed-after-apply',
    file: fileOf(found.source),
    revision,
    message:
      `changed after it was applied to ${targetList(found.targets)}: applied checksum ${[...found.checksums].join(', ')}, ` +
      `file checksum ${found.fileChecksum}; restore the file as it was applied and put the change in a new migration`,
  }));
}

/** One problem per revision the folder lacks, naming the targets at it. */
function aheadProblems(
  graph: RevisionGraph,
  groups: readonly FleetRevisionGroup[],
  fileOf: (source: string) => string,
): CheckProblem[] {
  const byRevision = new Map<Revision, string[]>();
  for (const group of groups) {
    for (const revision of group.ahead)
      byRevision.set(revision, [...(byRevision.get(revision) ?? []), ...group.targets]);
  }
  return [...byRevision].map(([revision, targets]) => {
    const squash = graph.replacedBy(revision);
    return {
      kind: 'drift',
      rule: squash ? 'inside-squash' : 'unknown-revision',
      revision,
      message: squash
        ? `${targetList(targets)} ${targets.length === 1 ? 'is' : 'are'} at revision ${revision}, part-way through the revisions ` +
          `${fileOf(graph.get(squash).source)} squashes into ${squash}; bring ${targets.length === 1 ? 'it' : 'them'} to ${squash} ` +
          'with the files from before the squash first'
        : `${targetList(targets)} ${targets.length === 1 ? 'is' : 'are'} at revision ${revision}, which no migration in this ` +
          'folder defines (ahead: deployed from newer code, or another branch); check out the code that has it, ' +
          'or this folder is not the one deployed there',
    };
  });
}

function unreachableProblem(target: FleetUnreachable): CheckProblem {
  const where = target.error.includes(target.database) ? '' : ` (${target.database})`;
  return {
    kind: 'fleet',
    rule: 'target-unreachable',
    message:
      `target ${printable(target.name)}${where} cannot be read: ${printable(target.error)}; what it has not applied ` +
      'is not known, so this check may not cover its pending migrations',
    fix:
      'Reach it (its network, its credentials: ~/.pgpass keeps the password out of the URL) and check again, ' +
      'or leave it out of the targets if it is no longer part of the fleet',
  };
}

function driftSection(read: number, given: number, problems: readonly CheckProblem[]): CheckSection {
  const drift = problems.filter((problem) => problem.kind === 'drift').length;
  const where = `${read} of ${given} target${given === 1 ? '' : 's'} read`;
  if (drift === 0) return { status: read === 0 ? 'skipped' : 'ok', summary: `${where}: no drift` };
  return { status: 'problems', summary: `${where}: ${drift} finding${drift === 1 ? '' : 's'}` };
}

const NAMED = 5;

/** `target tenant-c`, `targets tenant-a, tenant-b and 3 more`. */
function targetList(targets: readonly string[]): string {
  const shown = targets.slice(0, NAMED).map(printable).join(', ');
  const more = targets.length > NAMED ? ` and ${targets.length - NAMED} more` : '';
  return `target${targets.length === 1 ? '' : 's'} ${shown}${more}`;
}
