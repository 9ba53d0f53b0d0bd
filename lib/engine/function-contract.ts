/**
 * What the DatabaseMigrations construct and the deployed function must agree on: the names of
 * the environment variables the construct sets and the function reads, the values they take,
 * and the fingerprint of the custom resource's properties. One module both import, so the
 * coupling is checked by the compiler, as the CDK Provider framework does for its own names.
 * Pure data and one hash: nothing here knows AWS.
 */
import { createHash } from 'node:crypto';

/** Environment variables the construct sets on the function. */
export const FUNCTION_ENV = {
  /** Where the asset's migrations are, in the function's file system. */
  migrationsDir: 'MIGRATIONS_DIR',
  /** {@link DB_KINDS}: what `dbIdentifier` names. */
  dbKind: 'DB_KIND',
  /** The DB instance or cluster identifier the function snapshots. */
  dbIdentifier: 'DB_IDENTIFIER',
  /** The schema of the history tables. */
  historySchema: 'HISTORY_SCHEMA',
  /** Whole seconds a deploy may take in all (the Provider framework's total timeout). */
  deployTimeoutSeconds: 'DEPLOY_TIMEOUT_SECONDS',
  /** The state machine that runs background migrations. */
  backgroundStateMachineArn: 'BACKGROUND_STATE_MACHINE_ARN',
  /** Key ranges a background migration is split into. */
  backgroundRanges: 'BACKGROUND_RANGES',
  /** {@link AUTH_MODES}: how the function logs in. */
  authMode: 'AUTH_MODE',
  /** With `secret`: the ARN of the credentials secret. */
  secretArn: 'SECRET_ARN',
  /**
   * With `iam`: the user, endpoint host and port, and database. With `secret`, DB_NAME (when set)
   * replaces the secret's dbname: one tenant database of a fleet's server.
   */
  dbUser: 'DB_USER',
  dbHost: 'DB_HOST',
  dbPort: 'DB_PORT',
  dbName: 'DB_NAME',
  /** The ARN of the stack the function belongs to: it serves requests of this stack only. */
  stackId: 'STACK_ID',
  /** The logical id of the custom resource: it serves requests for this resource only. */
  resourceLogicalId: 'RESOURCE_LOGICAL_ID',
  /** {@link propertiesFingerprint} of the properties the construct gave the custom resource. */
  propertiesSha256: 'PROPERTIES_SHA256',
  /** `on` when the construct lets operators change the database by hand (up, down, stamp, ...). */
  manualWrites: 'MANUAL_WRITES',
  /** `allowed` when a manual write may skip its snapshot (`"snapshot": false`). */
  manualWithoutSnapshot: 'MANUAL_WITHOUT_SNAPSHOT',
  /** The alias through which manual writes must be invoked (the one `grantOperate` grants). */
  operateAlias: 'OPERATE_ALIAS',
  /** A PEM file of CAs that replaces the pinned RDS ones, for a database behind another CA. */
  caBundle: 'DB_CA_BUNDLE',
  /** Set on a FleetMigrations function: the state machine that rolls a deploy out over the fleet. */
  fleetStateMachineArn: 'FLEET_STATE_MACHINE_ARN',
} as const;

type FunctionEnvKey = keyof typeof FUNCTION_ENV;

/**
 * The Lambda runtime's and Powertools' own variables (their names, not ours), which the
 * constructs set on every function they create and the function's logger reads.
 */
export const RUNTIME_ENV = {
  nodeOptions: 'NODE_OPTIONS',
  /** The service the function's logs name. */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  logLevel: 'LOG_LEVEL',
} as const;

/** The service name the function logs under, set by the construct and the function's default. */
export const SERVICE_NAME = 'rds-migrate';

/** {@link RUNTIME_ENV} as the constructs set it on the function. */
export function runtimeEnvironment(): Record<string, string> {
  return {
    [RUNTIME_ENV.nodeOptions]: '--enable-source-maps',
    [RUNTIME_ENV.serviceName]: SERVICE_NAME,
    [RUNTIME_ENV.logLevel]: 'INFO',
  };
}

/** What DB_KIND may be. */
export const DB_KINDS = ['instance', 'cluster'] as const;
export type DbKind = (typeof DB_KINDS)[number];

/** What AUTH_MODE may be. */
export const AUTH_MODES = ['secret', 'iam'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/**
 * The function's environment from values named by contract key, so the construct cannot write a
 * name the function does not read. Values left undefined are left out.
 */
export function functionEnvironment(
  values: { readonly [Key in FunctionEnvKey]?: string },
): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) environment[FUNCTION_ENV[key as FunctionEnvKey]] = value;
  }
  return environment;
}

/**
 * What a manual invocation of the function may ask (`rds-migrate invoke <action>`, or `aws lambda
 * invoke` with `{"action": ...}`): reads, and writes, which the function runs only when confirmed
 * and allowed.
 */
const READ_ACTIONS = ['status', 'history', 'show', 'heads'] as const;
export const WRITE_ACTIONS = ['up', 'down', 'stamp', 'pause', 'resume', 'cancel'] as const;
export const MANUAL_ACTIONS = [...READ_ACTIONS, ...WRITE_ACTIONS] as const;
export type ManualAction = (typeof MANUAL_ACTIONS)[number];

export function isManualAction(value: unknown): value is ManualAction {
  return typeof value === 'string' && (MANUAL_ACTIONS as readonly string[]).includes(value);
}

/** The key of a fleet state machine task's event: `{"RdsMigrateFleet": {"task": ...}}`. */
export const FLEET_TASK_KEY = 'RdsMigrateFleet';

export const MANUAL_WRITES_ON = 'on';
export const MANUAL_WITHOUT_SNAPSHOT_ALLOWED = 'allowed';
/** The name of the function alias for manual writes. */
export const OPERATE_ALIAS_NAME = 'operate';

/**
 * Tags the function puts on the snapshots it takes: `managed` marks them as this tool's (only
 * those are listed, pruned and deletable), the others say which stack, revisions, request or
 * person made them. The construct lets the function add these tag keys and no other.
 */
export const SNAPSHOT_TAG = {
  managed: 'rds-migrate:managed',
  stack: 'rds-migrate:stack',
  from: 'rds-migrate:from',
  to: 'rds-migrate:to',
  request: 'rds-migrate:request',
  by: 'rds-migrate:by',
} as const;

/** Every tag key of {@link SNAPSHOT_TAG}: the `aws:TagKeys` the function's role may add. */
export const MANAGED_SNAPSHOT_TAG_KEYS: readonly string[] = Object.values(SNAPSHOT_TAG);

/**
 * Properties that are not compared: the framework's service token, CloudFormation's own
 * ServiceTimeout (written by CDK, not by the construct's properties; whether CloudFormation
 * forwards it in ResourceProperties is not documented), and the database id (a token at synth).
 */
const UNCOMPARED = new Set(['ServiceToken', 'ServiceTimeout', 'DatabaseIdentifier']);

/**
 * A hash of the custom resource's properties as CloudFormation delivers them: every leaf a
 * string (CloudFormation sends numbers and booleans as strings), keys in order, absent values
 * dropped. The construct computes it over what it writes into the template, the function over
 * what it receives, so a request whose properties are not the stack's is told apart.
 */
export function propertiesFingerprint(properties: Readonly<Record<string, unknown>>): string {
  const kept = Object.fromEntries(Object.entries(properties).filter(([key]) => !UNCOMPARED.has(key)));
  return createHash('sha256')
    .update(JSON.stringify(canonical(kept)))
    .digest('hex');
}

function canonical(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .map(([key, item]) => [key, canonical(item)] as const)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries);
  }
  return String(value);
}
