/**
 * What one invocation works with, built by the handler from its dependencies: the parsed
 * configuration, the bundled migrations, a way to open the database, the snapshot service,
 * the logger, the clock and the time left. lifecycle.ts and invoke.ts see only this.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { Database } from '../lib/engine/database.ts';
import type { RevisionGraph } from '../lib/engine/graph.ts';
import type { History } from '../lib/engine/history.ts';
import type { MigrationLogger } from '../lib/engine/migration.ts';
import type { Clock, SnapshotService } from '../lib/engine/snapshot.ts';
import type { FunctionConfig } from './config.ts';
import type { DatabaseTarget } from './connect.ts';
import type { BackgroundExecutions } from './step-functions.ts';

export interface Runtime {
  readonly config: FunctionConfig;
  readonly history: History;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly snapshots: SnapshotService;
  readonly cloudformation: CloudFormationClient;
  /** The background state machine's executions; absent when the function was deployed without one. */
  readonly executions?: BackgroundExecutions;
  /** The function's own migrations, loaded once per container. */
  bundle(): Promise<RevisionGraph>;
  /** Opens a session, runs `body`, closes the session whatever happens. */
  withDatabase<T>(body: (db: Database, target: DatabaseTarget) => Promise<T>): Promise<T>;
  /** How long to wait for another runner's lock: what the invocation has left, minus a margin. */
  lockWaitMs(): number;
  /** Epoch ms by which a run must stop so the invocation can still answer; undefined without a Lambda context. */
  deadline(): number | undefined;
  /** Who runs, for the history's log: `lambda:<function>`. */
  readonly actor: string;
  /** This invocation as Lambda reports it: its request id, and the alias or version it came through. */
  readonly invocation: Invocation;
  /** Waits, e.g. between two looks at a snapshot being made. */
  sleep(ms: number): Promise<void>;
}

interface Invocation {
  /** Lambda's request id: the same id CloudTrail records for the Invoke call, with its caller. */
  readonly requestId?: string;
  /** The alias (or version) in the ARN the caller invoked; undefined for the unqualified function. */
  readonly qualifier?: string;
}

/** The qualifier of an invoked function ARN (`arn:aws:lambda:<region>:<account>:function:<name>:<qualifier>`). */
export function qualifierOf(invokedFunctionArn: string | undefined): string | undefined {
  return invokedFunctionArn?.split(':')[7] || undefined;
}

/** The engine's logger interface on top of the function's structured logger. */
export function migrationLogger(logger: Logger): MigrationLogger {
  return {
    info: (message, details) => logger.info(message, { details }),
    warn: (message, details) => logger.warn(message, { details }),
  };
}
