/**
 * The FleetMigrations function's entry, behind the deployed handler (lambda/handler.ts hands a
 * function with FLEET_STATE_MACHINE_ARN every event). It serves the fleet's custom resource
 * (onEvent, isComplete, Delete), the fleet state machine's tasks, and the status invoke; each
 * target is served by the single-database handler, made for it from its own environment.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { RDSClient } from '@aws-sdk/client-rds';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { FUNCTION_ENV, RUNTIME_ENV, SERVICE_NAME } from '../../lib/engine/function-contract.ts';
import type { RevisionGraph } from '../../lib/engine/graph.ts';
import { type Clock, systemClock } from '../../lib/engine/snapshot.ts';
import { ConfigError, isRecord, parseLifecycleRequest } from '../config.ts';
import { deployFailure, withoutStack } from '../failure.ts';
import {
  type FleetRuntime,
  fleetIsComplete,
  fleetMarkerOf,
  fleetOnDelete,
  fleetOnEvent,
} from './lifecycle.ts';
import { fleetStatus } from './status.ts';
import type { TargetHandler, TargetHandlerFactory } from './target-run.ts';
import { fleetTask, isFleetTask } from './tasks.ts';

/** What the fleet takes of the handler's dependencies (lambda/handler.ts HandlerDeps). */
interface FleetHandlerDeps {
  readonly rds: RDSClient;
  readonly cloudformation: CloudFormationClient;
  readonly sfn?: SFNClient;
  /** Reads the target list of a fleet listed in a parameter. @default a new SSMClient, made on first use */
  readonly ssm?: SSMClient;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly bundles?: Map<string, Promise<RevisionGraph>>;
}

/** The fleet's handler; `createHandler` makes the single-database handler each target runs on. */
export function createFleetHandler<Deps extends FleetHandlerDeps>(
  deps: Deps,
  createHandler: (deps: Deps) => TargetHandler,
): TargetHandler {
  const logger =
    deps.logger ?? new Logger({ serviceName: deps.env[RUNTIME_ENV.serviceName] || SERVICE_NAME });
  const stateMachineArn = deps.env[FUNCTION_ENV.fleetStateMachineArn] as string;
  const sfn =
    deps.sfn ??
    new SFNClient({ requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 }, maxAttempts: 3 });
  // One load of the migrations per container, whichever target asks.
  const bundles = deps.bundles ?? new Map<string, Promise<RevisionGraph>>();
  const makeHandler: TargetHandlerFactory = (env, target) =>
    createHandler({
      ...deps,
      env,
      bundles,
      logger: logger.createChild({ persistentKeys: { target: target.name } }),
    });
  let ssm = deps.ssm;
  const runtime: FleetRuntime = {
    env: deps.env,
    stateMachineArn,
    rds: deps.rds,
    ssm: () => {
      ssm ??= new SSMClient({
        requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
        maxAttempts: 3,
      });
      return ssm;
    },
    sfn,
    cloudformation: deps.cloudformation,
    clock: deps.clock ?? systemClock,
    logger,
  };

  return async (event: unknown, context?: Context): Promise<unknown> => {
    const lifecycle = isRecord(event) && 'RequestType' in event;
    try {
      if (!isRecord(event))
        throw new ConfigError('the event is not a JSON object: send {"action": "status"}');
      if (isFleetTask(event)) {
        return await fleetTask(
          event,
          {
            env: deps.env,
            sfn,
            stateMachineArn,
            makeHandler,
            now: () => runtime.clock.now().getTime(),
            bundleHasBackground: () => hasBackground(bundles),
          },
          context,
        );
      }
      if (!lifecycle) {
        if (event.action !== 'status') {
          throw new ConfigError(
            'a fleet function answers {"action":"status"} (add "target": "<name>" for one target); run writes on a ' +
              'target with the CLI against its database',
          );
        }
        return await fleetStatus(event, { env: deps.env, sfn, stateMachineArn, makeHandler }, context);
      }
      const request = parseLifecycleRequest(event);
      const marker = fleetMarkerOf(event);
      let result: Record<string, unknown>;
      if (marker) result = await fleetIsComplete(request, marker, runtime);
      else if (request.requestType === 'Delete') result = await fleetOnDelete(request, runtime);
      else result = await fleetOnEvent(request, runtime);
      logger.info(marker ? 'fleet isComplete answered' : 'fleet onEvent answered', { result });
      return result;
    } catch (error) {
      const failure = lifecycle ? deployFailure(error) : withoutStack(error);
      logger.error('failed', { error: failure.message, type: (error as Error)?.name });
      throw failure;
    }
  };
}

/** Whether a loaded bundle holds a background migration; true while none is loaded (then the target's status says). */
async function hasBackground(bundles: Map<string, Promise<RevisionGraph>>): Promise<boolean> {
  const graphs = await Promise.all([...bundles.values()]);
  if (graphs.length === 0) return true;
  return graphs.some((graph) => graph.order.some((revision) => graph.get(revision).background === true));
}
