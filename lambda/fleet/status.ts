/**
 * The fleet's status invoke: `{"action":"status"}` answers for every target of the latest
 * rollout (revision, pending, ahead, drift, last run, background runs), naming the targets behind
 * or ahead of the bundle; `{"action":"status","target":"<name>"}` answers with that one target's
 * full single-database status. Each target is read by the single-database status action.
 */
import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { ConfigError } from '../config.ts';
import { messageOf } from '../deploy/answers.ts';
import { shortText } from '../input.ts';
import type { RolloutInput } from './lifecycle.ts';
import { type FleetTarget, targetOf } from './model.ts';
import { type TargetHandlerFactory, targetEnvironment } from './target-run.ts';

interface TargetStatus {
  readonly name: string;
  readonly current?: readonly string[];
  readonly upToDate?: boolean;
  /** Migrations of the bundle not applied: the target is behind. */
  readonly pending?: number;
  /** Applied revisions the bundle does not know: the target is ahead. */
  readonly ahead?: readonly string[];
  /** Applied migrations whose files changed since. */
  readonly drift?: number;
  readonly lastRun?: unknown;
  readonly background?: number;
  readonly error?: string;
}

interface FleetStatus {
  readonly action: 'status';
  readonly fleet: true;
  readonly rollout?: { readonly executionArn: string; readonly status: string; readonly startDate?: Date };
  readonly heads: readonly string[];
  readonly targets: readonly TargetStatus[];
  readonly behind: readonly string[];
  readonly ahead: readonly string[];
  readonly drifted: readonly string[];
  readonly unreachable: readonly string[];
}

/** Targets read at once: each opens a session, and the invocation has a limit of its own. */
const STATUS_CONCURRENCY = 8;

export async function fleetStatus(
  payload: Record<string, unknown>,
  deps: {
    readonly env: Readonly<Record<string, string | undefined>>;
    readonly sfn: SFNClient;
    readonly stateMachineArn: string;
    readonly makeHandler: TargetHandlerFactory;
  },
  context?: Context,
): Promise<FleetStatus | Record<string, unknown>> {
  const latest = await latestRollout(deps.sfn, deps.stateMachineArn);
  const targets = latest?.targets ?? [];
  const statusOf = async (target: FleetTarget) => {
    const env = targetEnvironment(deps.env, target, {}, 3600);
    return (await deps.makeHandler(env, target)({ action: 'status' }, context)) as unknown as Record<
      string,
      unknown
    >;
  };
  if (payload.target !== undefined) {
    const target = targets.find((candidate) => candidate.name === payload.target);
    if (!target) {
      throw new ConfigError(
        `no target ${shortText(payload.target, 80)} in the fleet's latest rollout; its targets: ` +
          `${shortText(targets.map((candidate) => candidate.name).join(', '), 400) || 'none (no rollout yet)'}`,
      );
    }
    return { ...(await statusOf(target)), target: target.name };
  }
  const rows: TargetStatus[] = [];
  let heads: readonly string[] = [];
  for (let index = 0; index < targets.length; index += STATUS_CONCURRENCY) {
    const batch = targets.slice(index, index + STATUS_CONCURRENCY);
    rows.push(
      ...(await Promise.all(
        batch.map(async (target): Promise<TargetStatus> => {
          try {
            const status = await statusOf(target);
            if (Array.isArray(status.heads)) heads = status.heads as string[];
            return summary(target.name, status);
          } catch (error) {
            return { name: target.name, error: shortText(messageOf(error), 300) };
          }
        }),
      )),
    );
  }
  const named = (keep: (row: TargetStatus) => boolean) => rows.filter(keep).map((row) => row.name);
  return {
    action: 'status',
    fleet: true,
    ...(latest ? { rollout: latest.rollout } : {}),
    heads,
    targets: rows,
    behind: named((row) => (row.pending ?? 0) > 0),
    ahead: named((row) => (row.ahead?.length ?? 0) > 0),
    drifted: named((row) => (row.drift ?? 0) > 0),
    unreachable: named((row) => row.error !== undefined),
  };
}

function summary(name: string, status: Record<string, unknown>): TargetStatus {
  const list = (value: unknown) => (Array.isArray(value) ? value : []);
  const recent = list(status.recent);
  return {
    name,
    current: list(status.current) as string[],
    upToDate: status.upToDate === true,
    pending: list(status.pending).length,
    ahead: list(status.unknown) as string[],
    drift: list(status.drift).length,
    ...(recent.length > 0 ? { lastRun: recent[0] } : {}),
    background: list(status.background).length,
  };
}

/** The newest rollout's execution and the targets its input named. */
async function latestRollout(
  sfn: SFNClient,
  stateMachineArn: string,
): Promise<{ rollout: FleetStatus['rollout']; targets: FleetTarget[] } | undefined> {
  const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1 }));
  const newest = listed.executions?.[0];
  if (!newest?.executionArn) return undefined;
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn: newest.executionArn }));
  const input = JSON.parse(described.input ?? '{}') as Partial<RolloutInput>;
  const targets = [...(input.stages ?? []).flat(), ...(input.targets ?? [])].map((item, index) =>
    targetOf(item, `the rollout's target ${index}`),
  );
  return {
    rollout: {
      executionArn: newest.executionArn,
      status: described.status ?? 'UNKNOWN',
      ...(described.startDate ? { startDate: described.startDate } : {}),
    },
    targets,
  };
}
