/**
 * Planning: pure functions from (graph, the database's current heads, a target) to the ordered
 * steps that get there. The applied set is always "the current heads and their ancestors", as
 * in Alembic, so branches and merges need no special cases.
 */
import { GraphError } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import { BASE, type Migration, type Revision } from './migration.ts';
import { type ResolvedTarget, resolveTarget } from './target.ts';
import { CLI_RECOVERY, UnknownRevisionError, unknownHeads } from './unknown-revisions.ts';

export type Direction = 'up' | 'down';

export interface PlanStep {
  readonly revision: Revision;
  readonly direction: Direction;
  readonly migration: Migration;
  /** The database's heads once this step is done. */
  readonly headsAfter: readonly Revision[];
}

export interface Plan {
  readonly from: readonly Revision[];
  readonly to: readonly Revision[];
  readonly steps: readonly PlanStep[];
}

/**
 * A target as the user types it (target.ts): `heads` (every branch), `head` (the one head), a
 * revision, a label, `<branch>@<target>`, a relative step (`+2`, `head-1`); or several of them.
 */
export type UpgradeTarget = string | readonly string[];

/** Applies what the target and its ancestors (parents and dependencies) need and the database lacks. */
export function planUpgrade(graph: RevisionGraph, current: readonly Revision[], target: UpgradeTarget): Plan {
  assertKnown(graph, current);
  const targets = targetsOf(target).flatMap(
    (text) => resolveTarget(graph, text, { current, direction: 'up' }).revisions,
  );
  const applied = graph.ancestors(current);
  // The applied set holds the ancestors of all it holds: a no-op needs no second walk.
  if (targets.every((revision) => applied.has(revision))) return walk(graph, current, applied, [], 'up');
  const wanted = graph.ancestors(targets);
  const toApply = graph.sorted([...wanted].filter((revision) => !applied.has(revision)));
  return walk(graph, current, applied, toApply, 'up');
}

/**
 * Downgrade to `target`, as Alembic does: revert every applied revision above it (what descends
 * from its children, or needs them through depends_on), within the branch the target names
 * (`billing@3f2a`, `billing@base`, `-1` counts down one head's branch). `base` reverts
 * everything; with no target, revert the single current head.
 */
export function planDowngrade(graph: RevisionGraph, current: readonly Revision[], target?: string): Plan {
  assertKnown(graph, current);
  const applied = graph.ancestors(current);
  const toRevert = revisionsToRevert(graph, current, applied, target);
  const steps = walk(graph, current, applied, graph.sorted(toRevert).reverse(), 'down');
  assertReversible(steps.steps);
  return steps;
}

/**
 * The deploy's plan: make the applied set exactly `target` and its ancestors, reverting what
 * lies beyond it (a rollback) and applying what is missing (a deploy).
 */
export function planTo(graph: RevisionGraph, current: readonly Revision[], target: Revision): Plan {
  assertKnown(graph, current);
  const applied = graph.ancestors(current);
  const wanted = graph.ancestors(target === BASE ? [] : [graph.resolve(target)]);
  const toRevert = graph.sorted([...applied].filter((revision) => !wanted.has(revision))).reverse();
  const down = walk(graph, current, applied, toRevert, 'down');
  assertReversible(down.steps);
  const remaining = graph.ancestors(down.to);
  const toApply = graph.sorted([...wanted].filter((revision) => !remaining.has(revision)));
  const up = walk(graph, down.to, remaining, toApply, 'up');
  return { from: [...current], to: up.to, steps: [...down.steps, ...up.steps] };
}

/**
 * The heads a stamp leaves, no SQL: the target and its ancestors are marked applied and nothing
 * else. A target confined to a branch (`billing@head`, `billing@base`) moves that branch's heads
 * only and keeps the others, as Alembic's stamp does; with `purge`, no current head is kept
 * (Alembic's `stamp --purge`), those the graph lacks included.
 */
export function planStamp(
  graph: RevisionGraph,
  current: readonly Revision[],
  target: UpgradeTarget,
  options: { readonly purge?: boolean } = {},
): Plan {
  // Relative steps (-1, billing@+1) count from the current heads the graph knows.
  const known = current.filter((head) => graph.has(head));
  const resolved = targetsOf(target).map((text) =>
    resolveTarget(graph, text, { current: known, direction: 'at' }),
  );
  const kept = known.filter(
    (head) =>
      !options.purge &&
      resolved.some(({ branch }) => branch !== undefined) &&
      !resolved.some(({ branch }) => branch !== undefined && graph.lineage(branch).has(head)),
  );
  const marked = resolved.flatMap(({ revisions }) => revisions);
  return { from: [...current], to: graph.headsOf(graph.ancestors([...kept, ...marked])), steps: [] };
}

function targetsOf(target: UpgradeTarget): readonly string[] {
  return typeof target === 'string' ? [target] : target;
}

function revisionsToRevert(
  graph: RevisionGraph,
  current: readonly Revision[],
  applied: ReadonlySet<Revision>,
  target: string | undefined,
): Set<Revision> {
  if (target === BASE) return new Set(applied);
  if (target === undefined) {
    const heads = graph.realHeads(current);
    if (heads.length === 0) return new Set();
    if (heads.length > 1) {
      throw new GraphError(
        'multiple-heads',
        `the database has several heads applied (${heads.join(', ')}); say which branch to take down ` +
          `(rds-migrate down ${heads[0]}-1, or down <label>@-1), name the revision to go down to, or down base`,
        heads,
      );
    }
    return new Set(heads);
  }
  const resolved = resolveTarget(graph, target, { current, direction: 'down' });
  const notApplied = resolved.revisions.filter((revision) => !applied.has(revision));
  if (notApplied.length > 0) {
    throw new GraphError(
      'not-applied',
      `revision ${notApplied.join(', ')} is not applied, so the database cannot go down to it; rds-migrate status shows what is`,
      notApplied,
    );
  }
  const roots = revertRoots(graph, resolved, target);
  // Down to a revision keeps it and what it stands on, whatever else the roots lead to.
  const kept = graph.ancestors(resolved.revisions);
  return new Set(
    [...graph.requiredBy(roots)].filter((revision) => applied.has(revision) && !kept.has(revision)),
  );
}

/**
 * Where a downgrade starts cutting: the children of the target (its bases, for base), and of
 * those, on a named branch, the ones on the way to the branch's revision.
 */
function revertRoots(graph: RevisionGraph, resolved: ResolvedTarget, text: string): Revision[] {
  const { revisions, branch } = resolved;
  const candidates =
    revisions.length === 0
      ? [...graph.bases]
      : [...new Set(revisions.flatMap((revision) => graph.children(revision)))];
  if (branch === undefined) return candidates;
  // A branch that starts at or below the target has all of the target's children on it.
  if (revisions.length > 0 && revisions.every((revision) => graph.lineageBelow(revision).has(branch))) {
    return candidates;
  }
  const below = graph.lineageBelow(branch);
  const roots = candidates.filter((revision) => below.has(revision));
  if (roots.length === 0) {
    throw new GraphError(
      'invalid-target',
      `'${text}': the branch of ${branch} does not go up from ${revisions.join(', ') || 'base'}, so it has nothing there to take down`,
      [branch],
    );
  }
  return roots;
}

function walk(
  graph: RevisionGraph,
  current: readonly Revision[],
  applied: ReadonlySet<Revision>,
  revisions: readonly Revision[],
  direction: Direction,
): Plan {
  if (revisions.length === 0) return { from: [...current], to: [...current], steps: [] };
  const state = new Set(applied);
  const heads = new Set(graph.headsOf(state));
  const steps = revisions.map((revision): PlanStep => {
    if (direction === 'up') state.add(revision);
    else state.delete(revision);
    updateHeads(graph, state, heads, revision);
    return { revision, direction, migration: graph.get(revision), headsAfter: graph.sorted(heads) };
  });
  const to = steps.length > 0 ? (steps[steps.length - 1]?.headsAfter ?? []) : [...current];
  return { from: [...current], to, steps };
}

/**
 * Keeps `heads` equal to `graph.headsOf(state)` once `revision` joined or left `state`: only it
 * and its parents can change, so each step costs its degree, not the size of the graph.
 */
function updateHeads(
  graph: RevisionGraph,
  state: ReadonlySet<Revision>,
  heads: Set<Revision>,
  revision: Revision,
): void {
  for (const candidate of [revision, ...graph.get(revision).downRevisions]) {
    const isHead = state.has(candidate) && !graph.children(candidate).some((child) => state.has(child));
    if (isHead) heads.add(candidate);
    else heads.delete(candidate);
  }
}

/** The runner refuses unknown heads first, naming the purge (runner.ts); this guards other callers. */
function assertKnown(graph: RevisionGraph, current: readonly Revision[]): void {
  const unknown = unknownHeads(graph, current);
  if (unknown.length === 0) return;
  const applied = graph.ancestors(current.filter((revision) => graph.has(revision)));
  throw new UnknownRevisionError(unknown, graph.headsOf(applied), CLI_RECOVERY, 'run');
}

function assertReversible(steps: readonly PlanStep[]): void {
  const missing = steps.filter((step) => !step.migration.down);
  if (missing.length === 0) return;
  const described = missing
    .map((step) =>
      step.migration.irreversible
        ? `${step.revision} (${step.migration.source}: irreversible, ${step.migration.irreversible})`
        : `${step.revision} (${step.migration.source})`,
    )
    .join(', ');
  throw new GraphError(
    'missing-down-step',
    `cannot go down past ${described}: no down step; add one, or restore from a backup instead`,
    missing.map((step) => step.revision),
  );
}
