/**
 * The props of `DatabaseMigrations`, their defaults, and their validation: every message names
 * the prop and what to give instead.
 */
import {
  Duration,
  type aws_ec2 as ec2,
  type aws_rds as rds,
  type aws_secretsmanager as secretsmanager,
  Token,
} from 'aws-cdk-lib';
import { RdsMigrateError } from '../engine/errors.ts';
import type { BackgroundMigrationsOptions } from './background.ts';
import type { MigrationLogsOptions } from './logs.ts';

/**
 * When a deploy snapshots the database (and waits for the snapshot) before migrating.
 * - `always`: whenever the deploy has something to apply.
 * - `when-risky`: only when a transaction cannot take the plan back whole: a migration outside
 *   a transaction, a TypeScript (data) migration, a drop or a column type change, TRUNCATE,
 *   DELETE or UPDATE, an irreversible migration, any down step. Other deploys rely on
 *   point-in-time recovery to their recorded restore point, and need automated backups.
 * - `never`: no snapshot; automated backups are the restore point, and must be on.
 */
export type SnapshotPolicy = 'always' | 'when-risky' | 'never';

/** Snapshot taken before a deploy applies migrations. */
export interface MigrationSnapshotOptions {
  /**
   * When to snapshot. A deploy with nothing to migrate never snapshots. Whatever the policy,
   * every deploy records its restore point (the time just before its first change).
   * @default 'always' ('never' when enabled is false)
   */
  readonly policy?: SnapshotPolicy;
  /**
   * Shorthand for `policy: 'never'` when false.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Keep only the newest N snapshots this tool made of this database; older ones are deleted
   * after a successful deploy. Snapshots made otherwise are never touched.
   * @default - keep every snapshot
   */
  readonly retain?: number;
}

/** How long a deploy may take, and how often it checks on a snapshot. */
export interface MigrationTimeouts {
  /**
   * The whole operation: snapshot, wait, migrate. The CloudFormation custom resource limit is
   * 1 hour, so that is also the maximum.
   * @default Duration.hours(1)
   */
  readonly total?: Duration;
  /**
   * Time between two checks on a pending snapshot. `total` must be a whole multiple of it.
   * @default Duration.seconds(30)
   */
  readonly queryInterval?: Duration;
  /**
   * Timeout of one invocation of the function (one migration run must fit in it). At most 14
   * minutes: the Provider framework's own Lambdas, which wait for each call, time out at 15, and
   * must outlive the function by a clear margin (a slow cold start included) to report its answer.
   * @default Duration.minutes(14)
   */
  readonly lambda?: Duration;
}

/** IAM database authentication instead of the secret's password. */
export interface IamAuthenticationOptions {
  /** The database user the function connects as; it must have the `rds_iam` role. */
  readonly username: string;
  /**
   * The database to migrate.
   * @default 'postgres'
   */
  readonly databaseName?: string;
}

/** What operators may do by invoking the function by hand. */
export interface ManualOperationsOptions {
  /**
   * Let operators change the database by hand: `up`, `down` and `stamp`, and `pause`, `resume`
   * and `cancel` of background migrations, each invoked through the function's `operate` alias
   * (`grantOperate`). Off, manual invokes only read: `status`, `history`, `show`, `heads`.
   * @default false
   */
  readonly writes?: boolean;
  /**
   * Let a manual `up` or `down` skip its snapshot (`"snapshot": false`). Only with `writes`.
   * @default false - every manual up and down that changes something snapshots first
   */
  readonly allowWithoutSnapshot?: boolean;
}

export interface DatabaseMigrationsProps {
  /**
   * The RDS PostgreSQL instance to migrate. Give exactly one of `database` and `cluster`.
   * @default - none; `cluster` must be given
   */
  readonly database?: rds.IDatabaseInstance;
  /**
   * The Aurora PostgreSQL cluster to migrate. Give exactly one of `database` and `cluster`.
   * @default - none; `database` must be given
   */
  readonly cluster?: rds.IDatabaseCluster;
  /**
   * The credentials secret RDS made (`username`, `password`, `host`, `port`, `dbname`). The
   * function may read this secret and no other.
   * @default - none; required unless `iamAuthentication` is set
   */
  readonly secret?: secretsmanager.ISecret;
  /** The database's VPC; the function runs in it. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the function.
   * @default - private subnets with egress if the VPC has them, else isolated subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Folder of the migrations to deploy (`.sql` and `.ts`), relative to the working directory. */
  readonly migrationsDir: string;
  /**
   * Snapshot before migrating, and snapshot retention.
   * @default - snapshot enabled, every snapshot kept
   */
  readonly snapshot?: MigrationSnapshotOptions;
  /**
   * Context arguments every migration receives as `ctx.args` (the CLI's `-x key=value`).
   * Values are CloudFormation properties: never put secrets here.
   * @default {}
   */
  readonly contextArgs?: Record<string, string>;
  /**
   * Time limits of a deploy.
   * @default - 1 hour in total, snapshot checks every 30 seconds, 14 minutes per invocation
   */
  readonly timeouts?: MigrationTimeouts;
  /**
   * Create interface endpoints for Secrets Manager, RDS and CloudFormation in the function's
   * subnets, for isolated subnets with no route to the AWS APIs. Leave off when the VPC already
   * has them (private DNS allows one endpoint per service and VPC).
   * @default false
   */
  readonly interfaceEndpoints?: boolean;
  /**
   * Connect with IAM database authentication (a token from `@aws-sdk/rds-signer`, TLS
   * required) instead of the secret's password.
   * @default - the password from `secret`
   */
  readonly iamAuthentication?: IamAuthenticationOptions;
  /**
   * How many times a migration that timed out waiting for a table lock (its `lock_timeout`) is
   * tried again, with jittered backoff (1 s doubling, at most 30 s) between, before the deploy
   * fails naming who held the lock. 0 fails at the first timeout.
   * @default 4
   */
  readonly lockRetries?: number;
  /**
   * Schema of the migration history tables in the database.
   * @default 'rds_migrate'
   */
  readonly historySchema?: string;
  /**
   * How background migrations (`background: true`) run: a Step Functions state machine the
   * construct makes splits each into key ranges and walks them beside the deploy.
   * @default - 8 ranges, 4 at once, a Distributed Map
   */
  readonly background?: BackgroundMigrationsOptions;
  /**
   * What `cdk synth` lints: with a git ref (e.g. 'origin/main'), only the migrations added or
   * changed since this branch left it (`rds-migrate check --static --since <ref>`), for a long
   * history whose old files predate today's rules. The graph is always checked whole, and synth
   * then needs a git checkout that has the ref.
   * @default - every migration of the folder
   */
  readonly checkSince?: string;
  /**
   * What a manual invoke of the function may do. `grantStatus` lets a role read; with
   * `writes`, `grantOperate` lets a role change the database through the `operate` alias.
   * @default - manual invokes only read (status, history, show, heads)
   */
  readonly operations?: ManualOperationsOptions;
  /**
   * Retention, encryption and removal of the log groups the construct makes: the function's,
   * the Provider framework's, and both state machines'.
   * @default - kept one year, CloudWatch Logs' own encryption, retained when the stack is deleted
   */
  readonly logs?: MigrationLogsOptions;
}

export const MAX_TOTAL_TIMEOUT = Duration.hours(1);
/** The Provider framework's own Lambdas (onEvent, isComplete) time out at 15 minutes (aws-cdk-lib). */
const FRAMEWORK_LAMBDA_TIMEOUT = Duration.minutes(15);
/** What the framework's Lambda keeps after the function's timeout: a cold start, the response. */
const FRAMEWORK_MARGIN = Duration.minutes(1);
const MAX_LAMBDA_TIMEOUT = Duration.seconds(
  FRAMEWORK_LAMBDA_TIMEOUT.toSeconds() - FRAMEWORK_MARGIN.toSeconds(),
);
const HISTORY_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const CONTEXT_ARG_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** A prop of `DatabaseMigrations` is missing, contradicts another, or is out of range. */
export class DatabaseMigrationsPropsError extends RdsMigrateError {
  override readonly name = 'DatabaseMigrationsPropsError';
  constructor(problem: string) {
    super(`DatabaseMigrations: ${problem}`);
  }
}

export function validateProps(props: DatabaseMigrationsProps): void {
  if (!props.iamAuthentication && !props.secret) {
    throw new DatabaseMigrationsPropsError(
      'secret is required: pass the database credentials secret, or set iamAuthentication to connect with IAM',
    );
  }
  if (props.iamAuthentication && props.secret) {
    throw new DatabaseMigrationsPropsError(
      'secret and iamAuthentication exclude each other: with IAM authentication the function never reads ' +
        'the secret, so leave secret out (or drop iamAuthentication to use its password)',
    );
  }
  if (props.iamAuthentication && !props.iamAuthentication.username) {
    throw new DatabaseMigrationsPropsError(
      'iamAuthentication.username must name the database user to connect as',
    );
  }
  const policy = props.snapshot?.policy;
  if (policy !== undefined && !['always', 'when-risky', 'never'].includes(policy)) {
    throw new DatabaseMigrationsPropsError(
      `snapshot.policy must be 'always', 'when-risky' or 'never'; got ${JSON.stringify(policy)}`,
    );
  }
  if (props.snapshot?.enabled === false && policy !== undefined && policy !== 'never') {
    throw new DatabaseMigrationsPropsError(
      `snapshot.enabled false and snapshot.policy '${policy}' contradict each other; give one of them`,
    );
  }
  if (props.lockRetries !== undefined && !(Number.isInteger(props.lockRetries) && props.lockRetries >= 0)) {
    throw new DatabaseMigrationsPropsError(
      `lockRetries must be a whole number, 0 or more; got ${props.lockRetries}`,
    );
  }
  const retain = props.snapshot?.retain;
  if (retain !== undefined && !(Number.isInteger(retain) && retain >= 1)) {
    throw new DatabaseMigrationsPropsError(
      `snapshot.retain must be a whole number of at least 1 (leave it out to keep every snapshot); got ${retain}`,
    );
  }
  if (props.historySchema !== undefined && !HISTORY_SCHEMA_PATTERN.test(props.historySchema)) {
    throw new DatabaseMigrationsPropsError(
      `historySchema '${props.historySchema}' is not a plain lower-case PostgreSQL identifier (a-z, 0-9, _)`,
    );
  }
  validateBackground(props.background);
  if (props.operations?.allowWithoutSnapshot && !props.operations.writes) {
    throw new DatabaseMigrationsPropsError(
      'operations.allowWithoutSnapshot only applies to manual writes, which are off: set operations.writes ' +
        'to true as well, or leave allowWithoutSnapshot out',
    );
  }
  for (const [key, value] of Object.entries(props.contextArgs ?? {})) {
    if (!CONTEXT_ARG_KEY.test(key)) {
      throw new DatabaseMigrationsPropsError(
        `contextArgs key '${key}' must be a word (letters, digits, _ . -)`,
      );
    }
    // The function takes a request's properties only with the fingerprint made here, at synth.
    if (Token.isUnresolved(value)) {
      throw new DatabaseMigrationsPropsError(
        `contextArgs.${key} is a token, resolved only at deploy; the function accepts a request only when ` +
          'its properties match the fingerprint the construct makes at synth, so give a value known at synth',
      );
    }
  }
}

export interface ResolvedTimeouts {
  readonly total: Duration;
  readonly queryInterval: Duration;
  readonly lambda: Duration;
}

export function resolveTimeouts(timeouts: MigrationTimeouts | undefined): ResolvedTimeouts {
  const resolved = {
    total: timeouts?.total ?? MAX_TOTAL_TIMEOUT,
    queryInterval: timeouts?.queryInterval ?? Duration.seconds(30),
    lambda: timeouts?.lambda ?? MAX_LAMBDA_TIMEOUT,
  };
  const seconds = (duration: Duration) => duration.toSeconds({ integral: false });
  const total = seconds(resolved.total);
  const interval = seconds(resolved.queryInterval);
  const lambdaTimeout = seconds(resolved.lambda);
  if (!Number.isInteger(total) || total < 1 || total > MAX_TOTAL_TIMEOUT.toSeconds()) {
    throw new DatabaseMigrationsPropsError(
      `timeouts.total must be whole seconds between 1 second and 1 hour (the CloudFormation custom resource limit); got ${resolved.total.toHumanString()}`,
    );
  }
  if (!Number.isInteger(interval) || interval < 1 || interval > total || total % interval !== 0) {
    throw new DatabaseMigrationsPropsError(
      `timeouts.queryInterval must divide timeouts.total (${resolved.total.toHumanString()}) into whole polls; ` +
        `got ${resolved.queryInterval.toHumanString()}`,
    );
  }
  if (
    !Number.isInteger(lambdaTimeout) ||
    lambdaTimeout < 1 ||
    lambdaTimeout > MAX_LAMBDA_TIMEOUT.toSeconds()
  ) {
    throw new DatabaseMigrationsPropsError(
      "timeouts.lambda must be whole seconds between 1 second and 14 minutes: the Provider framework's own " +
        `Lambdas time out at 15 and must outlive each call of the function; got ${resolved.lambda.toHumanString()}`,
    );
  }
  return resolved;
}

/** The snapshot settings a deploy runs with. */
export function resolveSnapshot(options: MigrationSnapshotOptions | undefined): {
  readonly policy: SnapshotPolicy;
  readonly enabled: boolean;
  readonly retain?: number;
} {
  const policy = options?.policy ?? (options?.enabled === false ? 'never' : 'always');
  return { policy, enabled: policy !== 'never', retain: options?.retain };
}

function validateBackground(background: BackgroundMigrationsOptions | undefined): void {
  if (!background) return;
  const { ranges, maxConcurrency, mapMode } = background;
  if (ranges !== undefined && !(Number.isInteger(ranges) && ranges >= 1 && ranges <= 10_000)) {
    throw new DatabaseMigrationsPropsError(
      `background.ranges must be a whole number from 1 to 10000; got ${ranges}`,
    );
  }
  if (maxConcurrency !== undefined && !(Number.isInteger(maxConcurrency) && maxConcurrency >= 1)) {
    throw new DatabaseMigrationsPropsError(
      `background.maxConcurrency must be a whole number of at least 1 (ranges walked at once); got ${maxConcurrency}`,
    );
  }
  if (mapMode !== undefined && mapMode !== 'distributed' && mapMode !== 'inline') {
    throw new DatabaseMigrationsPropsError(
      `background.mapMode must be 'distributed' or 'inline'; got ${JSON.stringify(mapMode)}`,
    );
  }
  if (mapMode === 'inline' && maxConcurrency !== undefined && maxConcurrency > 40) {
    throw new DatabaseMigrationsPropsError(
      `background.maxConcurrency ${maxConcurrency} is more than an inline Map runs at once (40); use mapMode 'distributed'`,
    );
  }
}
