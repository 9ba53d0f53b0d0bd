/**
 * Planning: pure functions from (graph, the database's current heads, a target) to the ordered
 * steps that get there. The applied set is always "the current heads and their ancestors", as
 * in Alembic, so branches and merges need no special cases.
 */
import { GraphError } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import { BASE, type Migration, type Revision } from './migration.ts';

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

/** `heads` (every branch), `head` (the one head) or a revision. */
export type UpgradeTarget = 'heads' | 'head' | Revision;

export function planUpgrade(graph: RevisionGraph, current: readonly Revision[], target: UpgradeTarget): Plan {
  assertKnown(graph, current);
  const targets = target === 'heads' ? [...graph.heads] : [graph.resolve(target)];
  const applied = graph.ancestors(current);
  const wanted = graph.ancestors(targets);
  const toApply = graph.sorted([...wanted].filter((revision) => !applied.has(revision)));
  return walk(graph, current, applied, toApply, 'up');
}

/**
 * Downgrade to `target` (a revision or `base`), reverting every applied revision that descends
 * from it; with no target, revert the single current head.
 */
export function planDowngrade(graph: RevisionGraph, current: readonly Revision[], target?: Revision): Plan {
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

/** The revisions a set of heads stands for, for `stamp`: no SQL, only the new heads. */
export function planStamp(graph: RevisionGraph, current: readonly Revision[], target: UpgradeTarget): Plan {
  const targets = target === 'heads' ? [...graph.heads] : target === BASE ? [] : [graph.resolve(target)];
  return { from: [...current], to: graph.headsOf(graph.ancestors(targets)), steps: [] };
}

function revisionsToRevert(
  graph: RevisionGraph,
  current: readonly Revision[],
  applied: ReadonlySet<Revision>,
  target: Revision | undefined,
): Set<Revision> {
  if (target === BASE) return new Set(applied);
  if (target === undefined) {
    if (current.length === 0) return new Set();
    if (current.length > 1) {
      throw new GraphError(
        'multiple-heads',
        `the database has several heads applied (${current.join(', ')}); name the revision to go down to ` +
          '(rds-migrate down <revision>) or down base',
        [...current],
      );
    }
    return new Set(current);
  }
  const resolved = graph.resolve(target);
  if (!applied.has(resolved)) {
    throw new GraphError(
      'not-applied',
      `revision ${resolved} is not applied, so the database cannot go down to it; rds-migrate status shows what is`,
      [resolved],
    );
  }
  const below = graph.descendants(resolved);
  below.delete(resolved);
  return new Set([...below].filter((revision) => applied.has(revision)));
}

function walk(
  graph: RevisionGraph,
  current: readonly Revision[],
  applied: ReadonlySet<Revision>,
  revisions: readonly Revision[],
  direction: Direction,
): Plan {
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

function assertKnown(graph: RevisionGraph, current: readonly Revision[]): void {
  const unknown = current.filter((revision) => !graph.has(revision));
  if (unknown.length === 0) return;
  throw new GraphError(
    'unknown-revision',
    `the database is at revision ${unknown.join(', ')}, which no migration here defines; ` +
      'run from the code that has it (or pass its migrations folder), or rds-migrate stamp a revision you have',
    unknown,
  );
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
