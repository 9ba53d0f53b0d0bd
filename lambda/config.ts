/**
 * What the function is told: its environment (set by the DatabaseMigrations construct) and the
 * custom resource's properties. CloudFormation sends every property value as a string, also
 * numbers and booleans inside nested objects, so each is parsed here, with a message naming the
 * property when it is malformed; that message becomes the FAILED reason.
 */
import { RdsMigrateError } from '../lib/engine/errors.ts';
import {
  AUTH_MODES,
  DB_KINDS,
  type DbKind,
  FUNCTION_ENV,
  MANUAL_WITHOUT_SNAPSHOT_ALLOWED,
  MANUAL_WRITES_ON,
} from '../lib/engine/function-contract.ts';
import { DEFAULT_HISTORY_SCHEMA } from '../lib/engine/history.ts';
import { BASE } from '../lib/engine/migration.ts';
import { shortText } from './input.ts';

export type DatabaseKind = DbKind;

type AuthConfig =
  | {
      readonly mode: 'secret';
      readonly secretArn: string;
      /** Replaces the secret's dbname (a fleet's tenant database on a shared server). */
      readonly database?: string;
    }
  | {
      readonly mode: 'iam';
      readonly user: string;
      readonly host: string;
      readonly port: number;
      readonly database: string;
    };

export interface FunctionConfig {
  readonly migrationsDir: string;
  readonly kind: DatabaseKind;
  /** The DB instance or cluster identifier: snapshots are of it. */
  readonly identifier: string;
  readonly auth: AuthConfig;
  readonly historySchema: string;
  readonly region?: string;
  /**
   * How long a deploy may take in all (the Provider framework's total timeout, which the
   * construct sets): a snapshot the database keeps refusing fails the deploy before it runs out.
   */
  readonly deployTimeoutSeconds: number;
  /** Background migrations: the state machine that runs them, and how many key ranges each gets. */
  readonly background: BackgroundConfig;
  /** What the construct deployed the function for: lifecycle requests are checked against it. */
  readonly deployedBy: DeployedBy;
  /** What a manual invoke may change. */
  readonly manual: ManualPermissions;
  /** A PEM file that replaces the pinned RDS CAs for the database's TLS. */
  readonly caBundle?: string;
}

/** The stack, resource and properties the construct deployed the function for (absent: not deployed by it). */
interface DeployedBy {
  readonly stackId?: string;
  readonly resourceLogicalId?: string;
  readonly propertiesSha256?: string;
}

/** Manual invokes are read-only unless the construct turned writes on. */
interface ManualPermissions {
  /** up, down, stamp, pause, resume and cancel by hand. @default false */
  readonly writes: boolean;
  /** A manual write may skip its snapshot (`"snapshot": false`). @default false */
  readonly withoutSnapshot: boolean;
  /** The alias a manual write must come through (the one grantOperate grants). */
  readonly operateAlias?: string;
}

interface BackgroundConfig {
  /** Absent on a function deployed without one (an older construct): runs then wait, pending. */
  readonly stateMachineArn?: string;
  /** Key ranges per run. @default 8 */
  readonly ranges: number;
}

/**
 * When a deploy takes a snapshot: `always` (whenever it has something to apply), `when-risky`
 * (only for a plan a transaction cannot take back whole: see lib/engine/risk.ts), `never`.
 */
export type SnapshotPolicy = 'always' | 'when-risky' | 'never';
const SNAPSHOT_POLICIES: readonly SnapshotPolicy[] = ['always', 'when-risky', 'never'];

interface SnapshotSettings {
  /** False when the policy is `never`. */
  readonly enabled: boolean;
  /** @default 'always' (or 'never' when Enabled is false) */
  readonly policy: SnapshotPolicy;
  /** Keep this many of the tool's snapshots; undefined keeps all. */
  readonly retain?: number;
}

export interface DeployProperties {
  readonly targetRevision: string;
  readonly migrationsHash?: string;
  readonly snapshot: SnapshotSettings;
  readonly contextArgs: Readonly<Record<string, string>>;
  readonly databaseIdentifier?: string;
  /** Tries after a lock timeout; undefined leaves the engine's default. */
  readonly lockRetries?: number;
}

export type RequestType = 'Create' | 'Update' | 'Delete';

/** A custom resource request as the CDK Provider framework hands it to onEvent and isComplete. */
export interface LifecycleRequest {
  readonly requestType: RequestType;
  readonly requestId: string;
  readonly stackId: string;
  readonly logicalResourceId: string;
  /** Absent on Create. */
  readonly physicalResourceId?: string;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly oldProperties?: Readonly<Record<string, unknown>>;
}

/** The function's environment or an event is not what the construct sends. */
export class ConfigError extends RdsMigrateError {
  override readonly name = 'ConfigError';
}

const DEFAULT_MIGRATIONS_DIR = '/var/task/migrations';
const REQUEST_TYPES: readonly RequestType[] = ['Create', 'Update', 'Delete'];
const REVISION = /^[0-9a-z_]{4,64}$/;
/** CloudFormation's request ids are UUIDs; the bound keeps room for other forms without echoing a blob. */
const REQUEST_ID = /^[A-Za-z0-9-]{1,128}$/;
const STACK_ARN =
  /^arn:[a-z-]+:cloudformation:[a-z0-9-]+:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]{0,127}\/[A-Za-z0-9-]{1,64}$/;
const LOGICAL_ID = /^[A-Za-z0-9]{1,255}$/;
/** The most retries after a lock timeout a deploy may ask for. */
const MAX_LOCK_RETRIES = 100;
/** The most snapshots a retention may keep. */
const MAX_RETAIN = 1000;
const MAX_CONTEXT_ARGS = 100;
const MAX_CONTEXT_KEY_CHARS = 128;
const MAX_CONTEXT_VALUE_CHARS = 4096;

export function configFromEnv(env: Readonly<Record<string, string | undefined>>): FunctionConfig {
  const kind = env[FUNCTION_ENV.dbKind] ?? '';
  if (!(DB_KINDS as readonly string[]).includes(kind)) {
    throw new ConfigError(
      `environment variable ${FUNCTION_ENV.dbKind} is '${kind}'; set it to ${DB_KINDS.join(' or ')}`,
    );
  }
  return {
    migrationsDir: env[FUNCTION_ENV.migrationsDir] || DEFAULT_MIGRATIONS_DIR,
    kind: kind as DbKind,
    identifier: required(env, FUNCTION_ENV.dbIdentifier, 'the DB instance or cluster identifier'),
    auth: authFromEnv(env),
    historySchema: env[FUNCTION_ENV.historySchema] || DEFAULT_HISTORY_SCHEMA,
    region: env.AWS_REGION || undefined,
    deployTimeoutSeconds: deployTimeoutFrom(env[FUNCTION_ENV.deployTimeoutSeconds]),
    background: backgroundFrom(env),
    deployedBy: {
      stackId: env[FUNCTION_ENV.stackId] || undefined,
      resourceLogicalId: env[FUNCTION_ENV.resourceLogicalId] || undefined,
      propertiesSha256: env[FUNCTION_ENV.propertiesSha256] || undefined,
    },
    ...(env[FUNCTION_ENV.caBundle] ? { caBundle: env[FUNCTION_ENV.caBundle] } : {}),
    manual: {
      writes: env[FUNCTION_ENV.manualWrites] === MANUAL_WRITES_ON,
      withoutSnapshot: env[FUNCTION_ENV.manualWithoutSnapshot] === MANUAL_WITHOUT_SNAPSHOT_ALLOWED,
      operateAlias: env[FUNCTION_ENV.operateAlias] || undefined,
    },
  };
}

function backgroundFrom(env: Readonly<Record<string, string | undefined>>): BackgroundConfig {
  const text = env[FUNCTION_ENV.backgroundRanges];
  const ranges = text === undefined || text === '' ? 8 : wholeNumberFrom(text);
  if (!Number.isInteger(ranges) || ranges < 1 || ranges > 10_000) {
    throw new ConfigError(
      `environment variable ${FUNCTION_ENV.backgroundRanges} is '${text}'; set it to a whole number of key ranges (1 to 10000)`,
    );
  }
  const stateMachineArn = env[FUNCTION_ENV.backgroundStateMachineArn];
  return { ranges, ...(stateMachineArn ? { stateMachineArn } : {}) };
}

/** One hour (CloudFormation's limit for a custom resource) unless the construct says less. */
function deployTimeoutFrom(value: string | undefined): number {
  if (value === undefined || value === '') return 3600;
  const seconds = wholeNumberFrom(value);
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new ConfigError(
      `environment variable ${FUNCTION_ENV.deployTimeoutSeconds} is '${value}'; set it to whole seconds`,
    );
  }
  return seconds;
}

function authFromEnv(env: Readonly<Record<string, string | undefined>>): AuthConfig {
  const mode = env[FUNCTION_ENV.authMode] || 'secret';
  if (mode === 'secret') {
    return {
      mode,
      secretArn: required(env, FUNCTION_ENV.secretArn, 'the ARN of the database credentials secret'),
      ...(env[FUNCTION_ENV.dbName] ? { database: env[FUNCTION_ENV.dbName] } : {}),
    };
  }
  if (mode !== 'iam') {
    throw new ConfigError(
      `environment variable ${FUNCTION_ENV.authMode} is '${mode}'; set it to ${AUTH_MODES.join(' or ')}`,
    );
  }
  return {
    mode,
    user: required(env, FUNCTION_ENV.dbUser, 'the database user IAM authentication logs in as'),
    host: required(env, FUNCTION_ENV.dbHost, 'the database endpoint'),
    port: portFrom(env[FUNCTION_ENV.dbPort] || '5432', `environment variable ${FUNCTION_ENV.dbPort}`),
    database: env[FUNCTION_ENV.dbName] || 'postgres',
  };
}

function required(env: Readonly<Record<string, string | undefined>>, name: string, what: string): string {
  const value = env[name];
  if (!value)
    throw new ConfigError(`environment variable ${name} (${what}) is not set; the construct sets it`);
  return value;
}

/** A number, or a string of digits as CloudFormation sends numbers; NaN for anything else. */
export function wholeNumberFrom(value: unknown): number {
  if (typeof value === 'number') return value;
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
}

function portFrom(value: unknown, what: string): number {
  const port = wholeNumberFrom(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`${what} must be a port number (1-65535)`);
  }
  return port;
}

// ---------- events ----------

/** The key of a background state machine task's event: `{"RdsMigrateBackground": {"task": ...}}`. */
export const BACKGROUND_TASK_KEY = 'RdsMigrateBackground';

/** True for a manual `aws lambda invoke` payload: no RequestType, and not a state machine task. */
export function isManualInvoke(event: unknown): boolean {
  return isRecord(event) && !('RequestType' in event) && !(BACKGROUND_TASK_KEY in event);
}

/** True for a task of the background state machine. */
export function isBackgroundTask(event: unknown): boolean {
  return isRecord(event) && BACKGROUND_TASK_KEY in event;
}

export function parseLifecycleRequest(event: unknown): LifecycleRequest {
  if (!isRecord(event)) throw new ConfigError('the event is not a JSON object');
  const requestType = event.RequestType;
  if (typeof requestType !== 'string' || !REQUEST_TYPES.includes(requestType as RequestType)) {
    throw new ConfigError(
      `unknown RequestType '${String(requestType)}'; a custom resource event has Create, Update or Delete ` +
        '(a manual invoke has no RequestType, only an action)',
    );
  }
  const type = requestType as RequestType;
  const physicalResourceId = optionalString(event.PhysicalResourceId, 'PhysicalResourceId');
  if (type === 'Update' && !physicalResourceId) {
    throw new ConfigError('an Update event must carry the PhysicalResourceId of the resource');
  }
  if (!isRecord(event.ResourceProperties))
    throw new ConfigError('the event has no ResourceProperties object');
  if (event.OldResourceProperties !== undefined && !isRecord(event.OldResourceProperties)) {
    throw new ConfigError('OldResourceProperties is not an object');
  }
  if (physicalResourceId !== undefined && physicalResourceId.length > 1024) {
    throw new ConfigError('PhysicalResourceId is longer than the 1024 characters CloudFormation allows');
  }
  return {
    requestType: type,
    requestId: matchingString(event.RequestId, 'RequestId', REQUEST_ID),
    stackId: matchingString(event.StackId, 'StackId', STACK_ARN),
    logicalResourceId: matchingString(event.LogicalResourceId, 'LogicalResourceId', LOGICAL_ID),
    physicalResourceId,
    properties: event.ResourceProperties,
    oldProperties: isRecord(event.OldResourceProperties) ? event.OldResourceProperties : undefined,
  };
}

/** The custom resource's properties; unknown ones are ignored, so newer templates work with older code. */
export function parseProperties(properties: Readonly<Record<string, unknown>>): DeployProperties {
  return {
    targetRevision: targetRevisionFrom(properties.TargetRevision),
    migrationsHash: boundedOptional(properties.MigrationsHash, 'property MigrationsHash', 128),
    snapshot: snapshotFrom(properties.Snapshot),
    contextArgs: contextArgsFrom(properties.ContextArgs),
    databaseIdentifier: boundedOptional(properties.DatabaseIdentifier, 'property DatabaseIdentifier', 255),
    ...(properties.LockRetries === undefined ? {} : { lockRetries: lockRetriesFrom(properties.LockRetries) }),
  };
}

function targetRevisionFrom(value: unknown): string {
  if (value === undefined || value === '') {
    throw new ConfigError(
      "property TargetRevision is missing; the construct sets it to the bundle's head revision (or 'base')",
    );
  }
  if (typeof value !== 'string' || (value !== BASE && !REVISION.test(value))) {
    throw new ConfigError(`property TargetRevision must be a revision id or 'base' (got ${describe(value)})`);
  }
  return value;
}

function snapshotFrom(value: unknown): SnapshotSettings {
  if (value === undefined) return { enabled: true, policy: 'always' };
  if (!isRecord(value))
    throw new ConfigError(
      `property Snapshot must be an object {Enabled, Policy, Retain} (got ${describe(value)})`,
    );
  const enabled =
    value.Enabled === undefined ? true : booleanFrom(value.Enabled, 'property Snapshot.Enabled');
  // Properties of a release before policies (a stack rollback sends them back) have Enabled only.
  const policy = value.Policy === undefined ? (enabled ? 'always' : 'never') : policyFrom(value.Policy);
  return { enabled: policy !== 'never', policy, retain: retainFrom(value.Retain) };
}

function policyFrom(value: unknown): SnapshotPolicy {
  if (typeof value === 'string' && (SNAPSHOT_POLICIES as readonly string[]).includes(value)) {
    return value as SnapshotPolicy;
  }
  throw new ConfigError(
    `property Snapshot.Policy must be one of ${SNAPSHOT_POLICIES.join(', ')} (got ${describe(value)})`,
  );
}

function lockRetriesFrom(value: unknown): number {
  const retries = wholeNumberFrom(value);
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_LOCK_RETRIES) {
    throw new ConfigError(
      `property LockRetries must be a whole number from 0 to ${MAX_LOCK_RETRIES} (got ${describe(value)})`,
    );
  }
  return retries;
}

function retainFrom(value: unknown): number | undefined {
  if (value === undefined || value === 'false' || value === false || value === '') return undefined;
  const count = wholeNumberFrom(value);
  if (!Number.isInteger(count) || count < 1 || count > MAX_RETAIN) {
    throw new ConfigError(
      `property Snapshot.Retain must be a whole number from 1 to ${MAX_RETAIN}, or false to keep every snapshot (got ${describe(value)})`,
    );
  }
  return count;
}

function booleanFrom(value: unknown, what: string): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError(`${what} must be true or false (got ${describe(value)})`);
}

function contextArgsFrom(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value))
    throw new ConfigError(`property ContextArgs must be an object of strings (got ${describe(value)})`);
  const entries = Object.entries(value);
  if (entries.length > MAX_CONTEXT_ARGS) {
    throw new ConfigError(
      `property ContextArgs has ${entries.length} keys; at most ${MAX_CONTEXT_ARGS} are taken`,
    );
  }
  const args: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (key.length > MAX_CONTEXT_KEY_CHARS || String(item).length > MAX_CONTEXT_VALUE_CHARS) {
      throw new ConfigError(
        `property ContextArgs.${shortText(key, 40)}: keys are at most ${MAX_CONTEXT_KEY_CHARS} characters and ` +
          `values at most ${MAX_CONTEXT_VALUE_CHARS}`,
      );
    }
    if (typeof item === 'string') args[key] = item;
    else if (typeof item === 'number' || typeof item === 'boolean') args[key] = String(item);
    else
      throw new ConfigError(
        `property ContextArgs.${shortText(key, 40)} must be a string (got ${describe(item)})`,
      );
  }
  return args;
}

function matchingString(value: unknown, what: string, pattern: RegExp): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(`the event has no ${what}`);
  if (!pattern.test(value)) {
    throw new ConfigError(`the event's ${what} is not one CloudFormation sends (got ${describe(value)})`);
  }
  return value;
}

function boundedOptional(value: unknown, what: string, max: number): string | undefined {
  const text = optionalString(value, what);
  if (text !== undefined && text.length > max) {
    throw new ConfigError(`${what} is longer than ${max} characters (got ${describe(value)})`);
  }
  return text;
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ConfigError(`${what} must be a string (got ${describe(value)})`);
  return value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value for an error message: its type and a short form, never a long blob. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  // A string keeps its quotes (JSON escapes its control characters); at most 40 characters of it.
  return shortText(typeof value === 'string' ? JSON.stringify(value.slice(0, 200)) : value, 40);
}

/** The stack's name from its ARN (`arn:aws:cloudformation:...:stack/<name>/<uuid>`). */
export function stackNameOf(stackId: string): string {
  return /:stack\/([^/]+)\//.exec(stackId)?.[1] ?? stackId;
}
