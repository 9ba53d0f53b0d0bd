/**
 * The fleet state machine's tasks, served by the fleet's function:
 * `{"RdsMigrateFleet": {"task": "start" | "poll" | "gate" | "report", ...}}`.
 *
 * - start / poll: one target's deploy (target-run.ts), onEvent then isComplete polls;
 * - gate: after a stage that tolerates failures, stops the rollout when more failed than it tolerates;
 * - report: after a revert, fails naming the targets that could not be reverted (the others were).
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { FLEET_TASK_KEY } from '../../lib/engine/function-contract.ts';
import { ConfigError, isRecord, wholeNumberFrom } from '../config.ts';
import type { DeployMarker } from '../deploy/answers.ts';
import { DeployFailed } from '../failure.ts';
import { shortText } from '../input.ts';
import { causeOf, type TargetResult } from './lifecycle.ts';
import { targetOf } from './model.ts';
import {
  type FleetRequest,
  pollTarget,
  startTarget,
  type TargetHandlerFactory,
  type TargetStep,
} from './target-run.ts';
import { assertTaskOfRollout } from './verify-task.ts';

interface FleetTaskDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly makeHandler: TargetHandlerFactory;
  readonly now: () => number;
  /** Whether the bundle holds a background migration (whose runs a deploy leaves waiting). @default read each target's status */
  readonly bundleHasBackground?: () => Promise<boolean>;
}

type FleetTaskResult = TargetStep | { readonly tolerated: readonly string[] } | { readonly reverted: number };

export function isFleetTask(event: unknown): boolean {
  return isRecord(event) && FLEET_TASK_KEY in event;
}

export async function fleetTask(
  event: Record<string, unknown>,
  deps: FleetTaskDeps,
  context?: Context,
): Promise<FleetTaskResult> {
  const body = event[FLEET_TASK_KEY];
  if (!isRecord(body)) throw new ConfigError(`${FLEET_TASK_KEY} must be an object with a task`);
  switch (body.task) {
    case 'start':
    case 'poll': {
      const call = {
        target: targetOf(body.target, `${FLEET_TASK_KEY}.target`),
        request: requestOf(body.request),
        properties: isRecord(body.properties) ? body.properties : {},
        makeHandler: deps.makeHandler,
        ...(deps.bundleHasBackground ? { bundleHasBackground: deps.bundleHasBackground } : {}),
        fleetEnv: deps.env,
        context,
        now: deps.now(),
      };
      await assertTaskOfRollout(deps.sfn, deps.stateMachineArn, { ...call, executionArn: body.execution });
      if (body.task === 'start')
        return startTarget({
          ...call,
          deadline: wholeNumberFrom(body.deadline),
          revert: body.revert === true,
        });
      if (!isRecord(body.marker))
        throw new ConfigError(`${FLEET_TASK_KEY} task poll needs the marker start returned`);
      return pollTarget({
        ...call,
        marker: body.marker as unknown as DeployMarker,
        budgetSeconds: wholeNumberFrom(body.budgetSeconds),
      });
    }
    case 'gate':
      return gate(String(body.stage), wholeNumberFrom(body.tolerated), resultsOf(body.results));
    case 'report':
      return report(resultsOf(body.results));
    default:
      throw new ConfigError(
        `${FLEET_TASK_KEY}.task must be start, poll, gate or report (got ${shortText(body.task, 40)})`,
      );
  }
}

function gate(stage: string, tolerated: number, results: readonly TargetResult[]): { tolerated: string[] } {
  const failed = failures(results);
  if (failed.length > tolerated) {
    throw new DeployFailed(
      `stage ${stage}: ${failed.length} of ${results.length} targets failed, more than the ${tolerated} it tolerates, ` +
        `so the rollout stopped after it: ${describe(failed)}`,
    );
  }
  return { tolerated: failed.map((failure) => failure.name) };
}

function report(results: readonly TargetResult[]): { reverted: number } {
  const failed = failures(results);
  if (failed.length > 0) {
    throw new DeployFailed(
      `${failed.length} of ${results.length} targets could not be reverted (the others were): ${describe(failed)}. ` +
        'Revert those by hand (rds-migrate down, or the snapshot each deploy named) before deploying again',
    );
  }
  const reverted = results.filter((result) => !('failed' in result) && result.reverted > 0).length;
  return { reverted };
}

function failures(results: readonly TargetResult[]) {
  return results.filter((result): result is Extract<TargetResult, { failed: true }> => 'failed' in result);
}

function describe(failed: readonly { name: string; cause?: string }[]): string {
  return failed
    .slice(0, 5)
    .map((failure) => shortText(causeOf(undefined, failure.cause) || failure.name, 300))
    .join('; ')
    .concat(failed.length > 5 ? `; and ${failed.length - 5} more` : '');
}

function resultsOf(value: unknown): TargetResult[] {
  if (!Array.isArray(value)) throw new ConfigError(`${FLEET_TASK_KEY}.results must be the stage's results`);
  return value.filter(isRecord).map((item) => item as unknown as TargetResult);
}

function requestOf(value: unknown): FleetRequest {
  if (!isRecord(value) || typeof value.RequestId !== 'string' || typeof value.StackId !== 'string') {
    throw new ConfigError(`${FLEET_TASK_KEY}.request must be the CloudFormation request the rollout serves`);
  }
  return value as unknown as FleetRequest;
}
