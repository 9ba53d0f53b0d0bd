/**
 * What a fleet is, as the FleetMigrations construct writes it into the custom resource's
 * properties and the function reads it back: the targets (each with a stable name), the sources
 * resolved at deploy time, and the rollout's stages. CloudFormation delivers every leaf as a
 * string, so each is parsed here with a message naming the property.
 */
import { DB_KINDS, type DbKind } from '../../lib/engine/function-contract.ts';
import { ConfigError, isRecord, wholeNumberFrom } from '../config.ts';
import { shortText } from '../input.ts';

/** One database of the fleet: an instance or cluster, the secret to log in with, and the database in it. */
export interface FleetTarget {
  /** Stable, unique in the fleet: what status, errors and the console name it by. */
  readonly name: string;
  readonly kind: DbKind;
  /** The instance or cluster identifier: snapshots are of it. */
  readonly identifier: string;
  readonly secretArn: string;
  /** A database of the server other than the secret's dbname (a database per tenant). */
  readonly database?: string;
}

/** Targets found at deploy time: RDS instances or clusters carrying a tag. */
export interface TagSource {
  readonly type: 'tag';
  readonly key: string;
  readonly value: string;
}

/** Targets listed at deploy time in an SSM parameter, on servers matching the identifier patterns. */
export interface ParameterSource {
  readonly type: 'parameter';
  readonly name: string;
  readonly servers: readonly string[];
}

export type TargetSource = TagSource | ParameterSource;

export interface FleetStage {
  readonly name: string;
  /** How many targets the stage takes: a count, or a percentage of the fleet (rounded up); neither: the rest. */
  readonly count?: number;
  readonly percent?: number;
  /** Failures the stage tolerates before the rollout stops: the larger of the count and the percentage of the stage. */
  readonly toleratedFailures: number;
  readonly toleratedFailurePercent: number;
}

interface FleetSpec {
  readonly targets: readonly FleetTarget[];
  readonly sources: readonly TargetSource[];
  readonly stages: readonly FleetStage[];
}

/** Tags that refine a tagged target: its name in the fleet, its secret, the database in it. */
export const FLEET_TAG = {
  name: 'rds-migrate:target',
  secret: 'rds-migrate:secret',
  database: 'rds-migrate:database',
} as const;

/** A target's name: what status, errors and the console show. */
export const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}$/;

export function fleetSpecOf(properties: Readonly<Record<string, unknown>>): FleetSpec {
  const targets = listOf(properties.Targets, 'Targets').map((item, index) =>
    targetOf(item, `Targets[${index}]`),
  );
  const sources = listOf(properties.Sources, 'Sources').map((item, index) =>
    sourceOf(item, `Sources[${index}]`),
  );
  const rollout = isRecord(properties.Rollout) ? properties.Rollout : {};
  const stages = listOf(rollout.Stages, 'Rollout.Stages').map((item, index) =>
    stageOf(item, `Rollout.Stages[${index}]`),
  );
  if (stages.length === 0)
    throw new ConfigError('property Rollout.Stages is empty; the construct writes at least one stage');
  return { targets, sources, stages };
}

export function targetOf(value: unknown, what: string): FleetTarget {
  if (!isRecord(value))
    throw new ConfigError(`property ${what} must be an object {Name, Kind, Identifier, SecretArn}`);
  const name = text(value.Name, `${what}.Name`);
  if (!TARGET_NAME.test(name)) {
    throw new ConfigError(
      `property ${what}.Name ${shortText(name, 40)} must be 1-80 letters, digits or . _ : / - (starting with a letter or digit)`,
    );
  }
  const kind = text(value.Kind, `${what}.Kind`);
  if (!(DB_KINDS as readonly string[]).includes(kind)) {
    throw new ConfigError(
      `property ${what}.Kind must be ${DB_KINDS.join(' or ')} (got ${shortText(kind, 40)})`,
    );
  }
  const database =
    value.Database === undefined || value.Database === ''
      ? undefined
      : text(value.Database, `${what}.Database`);
  return {
    name,
    kind: kind as DbKind,
    identifier: text(value.Identifier, `${what}.Identifier`),
    secretArn: text(value.SecretArn, `${what}.SecretArn`),
    ...(database ? { database } : {}),
  };
}

function sourceOf(value: unknown, what: string): TargetSource {
  if (isRecord(value) && value.Type === 'tag')
    return { type: 'tag', key: text(value.Key, `${what}.Key`), value: text(value.Value, `${what}.Value`) };
  if (isRecord(value) && value.Type === 'parameter') {
    const servers = listOf(value.Servers, `${what}.Servers`).map((server, index) =>
      text(server, `${what}.Servers[${index}]`),
    );
    if (servers.length === 0) throw new ConfigError(`property ${what}.Servers is empty`);
    return { type: 'parameter', name: text(value.Name, `${what}.Name`), servers };
  }
  throw new ConfigError(
    `property ${what} must be {Type: "tag", Key, Value} or {Type: "parameter", Name, Servers}`,
  );
}

function stageOf(value: unknown, what: string): FleetStage {
  if (!isRecord(value))
    throw new ConfigError(`property ${what} must be an object {Name, Count | Percent, ...}`);
  const count = optionalWhole(value.Count, `${what}.Count`, 1, 100_000);
  const percent = optionalWhole(value.Percent, `${what}.Percent`, 1, 100);
  return {
    name: text(value.Name, `${what}.Name`),
    ...(count === undefined ? {} : { count }),
    ...(percent === undefined ? {} : { percent }),
    toleratedFailures: optionalWhole(value.ToleratedFailures, `${what}.ToleratedFailures`, 0, 100_000) ?? 0,
    toleratedFailurePercent:
      optionalWhole(value.ToleratedFailurePercent, `${what}.ToleratedFailurePercent`, 0, 100) ?? 0,
  };
}

function listOf(value: unknown, what: string): unknown[] {
  if (value === undefined || value === '') return [];
  if (!Array.isArray(value)) throw new ConfigError(`property ${what} must be a list`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || value.length > 2048) {
    throw new ConfigError(`property ${what} must be a non-empty string`);
  }
  return value;
}

function optionalWhole(value: unknown, what: string, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = wholeNumberFrom(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new ConfigError(
      `property ${what} must be a whole number from ${min} to ${max} (got ${shortText(value, 40)})`,
    );
  }
  return number;
}

/** A target in the shape the properties (and the rollout's execution input) carry it. */
export function targetProperty(target: FleetTarget): Record<string, string> {
  return {
    Name: target.name,
    Kind: target.kind,
    Identifier: target.identifier,
    SecretArn: target.secretArn,
    ...(target.database ? { Database: target.database } : {}),
  };
}

/** The fleet's target names must be unique: status, errors and the rollback name targets by them. */
export function assertUniqueNames(targets: readonly FleetTarget[]): void {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const target of targets) {
    if (seen.has(target.name)) twice.add(target.name);
    seen.add(target.name);
  }
  if (twice.size > 0) {
    throw new ConfigError(
      `fleet targets ${[...twice].join(', ')} are named twice (by two sources, or twice in one: a static target ` +
        "and a tagged one, two tagged ones, two entries of a parameter's list); names are how the rollout tracks " +
        `targets: give each its own name (tag ${FLEET_TAG.name}, or the list entry's "name")`,
    );
  }
}
