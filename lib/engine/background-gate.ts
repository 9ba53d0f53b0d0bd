/**
 * The expand → backfill → contract gate: a migration that `requiresComplete` a background
 * migration is applied only once that migration's run has completed. Decided from the plan and
 * the recorded runs, before anything runs:
 * - the required migration applied earlier and its run completed (or never run: stamped, or
 *   applied before background runs existed): open;
 * - applied earlier and still pending, running, paused, failed or cancelled: closed, and the
 *   message says how far it is;
 * - applied by the same plan, before the step that needs it: it cannot be complete yet, so it
 *   runs in-process at its own step (`inline`); a deploy allows that only for a small table;
 * - not applied at all: closed.
 */
import { type BackgroundProgress, BackgroundRuns } from './background-runs.ts';
import type { Database } from './database.ts';
import { RdsMigrateError } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import type { History } from './history.ts';
import type { Revision } from './migration.ts';
import type { Plan } from './plan.ts';

interface ClosedGate {
  /** The migration that waits. */
  readonly revision: Revision;
  readonly source: string;
  /** The background migration it waits for. */
  readonly requires: Revision;
  /** Why it is not complete, in words. */
  readonly why: string;
  readonly run?: BackgroundProgress;
  /** Where a revert of the background migration goes down to: its parents, or base. */
  readonly revertTo: string;
}

interface GateDecision {
  /** Background migrations of the plan that a later step of the same plan needs complete. */
  readonly inline: readonly Revision[];
  readonly closed: readonly ClosedGate[];
}

/** A migration would be applied before the background migration it needs has completed. */
export class BackgroundGateClosed extends RdsMigrateError {
  override readonly name = 'BackgroundGateClosed';
  constructor(readonly closed: readonly ClosedGate[]) {
    super(
      `${closed.map((gate) => `migration ${gate.revision} (${gate.source}) requires background migration ${gate.requires} complete, and ${gate.why}`).join('; ')}; ` +
        `nothing was applied. ${whatToDo(closed)}`,
    );
  }
}

/** A cancelled run never completes: waiting for it is no advice. */
function whatToDo(closed: readonly ClosedGate[]): string {
  const cancelled = closed.filter((gate) => gate.run?.state === 'cancelled');
  const waiting = closed.filter((gate) => gate.run?.state !== 'cancelled');
  const advice = cancelled.map(
    (gate) =>
      `Background migration ${gate.requires} was cancelled, so it never completes: revert it (down to ${gate.revertTo}) ` +
      `and apply it again, then apply ${gate.revision} once its new run has completed.`,
  );
  if (waiting.length > 0) {
    advice.push(
      `Apply ${waiting.length === closed.length ? 'it' : waiting.map((gate) => gate.revision).join(', ')} once the background migration has completed (status shows its progress).`,
    );
  }
  return `${advice.join(' ')} Or leave ${closed.length === 1 ? 'it' : 'them'} out of this deploy.`;
}

function checkGates(
  plan: Plan,
  graph: RevisionGraph,
  runs: ReadonlyMap<Revision, BackgroundProgress>,
): GateDecision {
  const applied = appliedBefore(graph, plan.from);
  const inline = new Set<Revision>();
  const closed: ClosedGate[] = [];
  const earlier = new Set<Revision>();
  for (const step of plan.steps) {
    if (step.direction === 'down') {
      applied.delete(step.revision);
      continue;
    }
    for (const requires of step.migration.requiresComplete ?? []) {
      if (earlier.has(requires)) {
        if (graph.has(requires) && graph.get(requires).background) inline.add(requires);
        continue;
      }
      const why = whyClosed(requires, applied.has(requires), runs.get(requires));
      if (why) {
        closed.push({
          revision: step.revision,
          source: step.migration.source,
          requires,
          why,
          ...(runs.get(requires) ? { run: runs.get(requires) } : {}),
          revertTo: revertTarget(graph, requires),
        });
      }
    }
    earlier.add(step.revision);
  }
  return { inline: [...inline], closed };
}

/** `down <this>` reverts `revision` and what came after it. */
function revertTarget(graph: RevisionGraph, revision: Revision): string {
  const parents = graph.has(revision) ? graph.get(revision).downRevisions : [];
  return parents.length > 0 ? parents.join(', ') : 'base';
}

function whyClosed(
  requires: Revision,
  applied: boolean,
  run: BackgroundProgress | undefined,
): string | undefined {
  if (!applied) return `${requires} is not applied`;
  if (!run || run.state === 'completed') return undefined;
  return `it is ${run.state}: ${describeProgress(run)}`;
}

/** How far a run is, in one phrase: ranges, rows, rate, ETA, errors. */
export function describeProgress(run: BackgroundProgress): string {
  const total = run.estimatedTotal;
  const rows =
    total === undefined
      ? `${run.rows.toLocaleString('en-US')} rows`
      : `${run.rows.toLocaleString('en-US')} of ~${total.toLocaleString('en-US')} rows (${Math.min(100, Math.round((100 * run.rows) / Math.max(1, total)))}%)`;
  const ranges =
    run.rangeCount > 0 ? `${run.rangesDone} of ${run.rangeCount} ranges done, ` : 'not split yet, ';
  const rate = run.rowsPerSecond > 0 ? `, ${run.rowsPerSecond.toLocaleString('en-US')} rows/s` : '';
  const eta = run.etaSeconds === undefined ? '' : `, ETA ${duration(run.etaSeconds)}`;
  // With no errors, last_error holds what stopped the run (a pause for a revert, and its outcome).
  const errors =
    run.errors > 0
      ? `, ${run.errors} error${run.errors === 1 ? '' : 's'} (last: ${run.lastError ?? '?'})`
      : `, no errors${run.lastError ? `; ${run.lastError}` : ''}`;
  return `${ranges}${rows}${rate}${eta}${errors}`;
}

function duration(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** What is applied at the plan's start: the heads and their ancestors (those the graph knows). */
function appliedBefore(graph: RevisionGraph, heads: readonly Revision[]): Set<Revision> {
  return graph.ancestors(heads.filter((revision) => graph.has(revision)));
}

/** The gate for `plan`, reading the recorded runs only when a step of it waits for one. */
export async function readGates(
  db: Database,
  history: History,
  graph: RevisionGraph,
  plan: Plan,
): Promise<GateDecision> {
  const waits = plan.steps.some(
    (step) => step.direction === 'up' && (step.migration.requiresComplete?.length ?? 0) > 0,
  );
  if (!waits) return { inline: [], closed: [] };
  const runs = await new BackgroundRuns(history).progress(db);
  return checkGates(plan, graph, new Map(runs.map((run) => [run.revision, run])));
}
