/**
 * The rollout plan: the fleet's targets in order, cut into the stages the construct defined (a
 * canary of a few, then waves by percentage, the last stage taking the rest), each with the
 * failures it tolerates. Pure: the same fleet and stages always give the same plan.
 */
import type { FleetStage, FleetTarget } from './model.ts';

interface StagePlan {
  readonly name: string;
  readonly targets: readonly FleetTarget[];
  /** Failed targets the stage tolerates before the rollout stops after it. */
  readonly tolerated: number;
}

export function planStages(targets: readonly FleetTarget[], stages: readonly FleetStage[]): StagePlan[] {
  let next = 0;
  return stages.map((stage, index) => {
    const last = index === stages.length - 1;
    const wanted = last ? targets.length : sizeOf(stage, targets.length);
    const taken = targets.slice(next, Math.min(targets.length, next + wanted));
    next += taken.length;
    return { name: stage.name, targets: taken, tolerated: toleratedIn(stage, taken.length) };
  });
}

function sizeOf(stage: FleetStage, fleetSize: number): number {
  if (stage.count !== undefined) return stage.count;
  if (stage.percent !== undefined) return Math.ceil((stage.percent * fleetSize) / 100);
  return fleetSize;
}

function toleratedIn(stage: FleetStage, size: number): number {
  return Math.min(
    size,
    Math.max(stage.toleratedFailures, Math.floor((stage.toleratedFailurePercent * size) / 100)),
  );
}
