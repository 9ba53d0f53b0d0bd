/**
 * The targets of a FleetMigrations: RDS instances and Aurora clusters listed in the app, many
 * databases on one server (a database per tenant), and instances or clusters found at deploy time
 * by a tag or listed in an SSM parameter. Each kind writes its part of the custom resource's properties and grants the fleet's
 * function what it needs for it, and nothing more.
 */
import {
  ArnFormat,
  type aws_ec2 as ec2,
  aws_iam as iam,
  type aws_lambda as lambda,
  type aws_rds as rds,
  Stack,
  type aws_secretsmanager as secretsmanager,
  type aws_ssm as ssm,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { MANAGED_SNAPSHOT_TAG_KEYS } from '../../engine/function-contract.ts';
import { grantDatabaseAccess } from '../permissions.ts';
import { DatabaseMigrationsPropsError } from '../props.ts';
import { type MigrationTarget, migrationTarget } from '../target.ts';

/** A target as the custom resource's properties carry it. */
interface FleetTargetProperty {
  readonly Name: string;
  readonly Kind: 'instance' | 'cluster';
  readonly Identifier: string;
  readonly SecretArn: string;
  readonly Database?: string;
}

type FleetSourceProperty =
  | { readonly Type: 'tag'; readonly Key: string; readonly Value: string }
  | { readonly Type: 'parameter'; readonly Name: string; readonly Servers: readonly string[] };

/** What a target source adds to the fleet once bound to its function. */
export interface BoundTargets {
  readonly targets: readonly FleetTargetProperty[];
  readonly sources: readonly FleetSourceProperty[];
  /** Static servers, for the network: the function is let in on their port. */
  readonly servers: readonly MigrationTarget[];
  /** True when the targets take snapshots (instances and clusters of their own, by the fleet's policy). */
  readonly snapshots: boolean;
  /** Resources granted by pattern (targets found at deploy time), for the cdk-nag acknowledgments. */
  readonly patterns: readonly string[];
  /** Why those patterns are as narrow as IAM allows: the acknowledgment's reason. */
  readonly patternsReason?: string;
}

interface BindOptions {
  readonly snapshot: { readonly enabled: boolean; readonly retain?: number };
}

/** One or more targets of a fleet. Make them with the static methods. */
export abstract class FleetTargets {
  /**
   * An RDS PostgreSQL instance, logged into with `secret` (the one RDS made, or any with
   * username, password, host, port, dbname). Snapshots by the fleet's policy are of it.
   */
  static instance(
    name: string,
    options: {
      readonly instance: rds.IDatabaseInstance;
      readonly secret: secretsmanager.ISecret;
      readonly databaseName?: string;
    },
  ): FleetTargets {
    return new StaticTargets([{ name, server: migrationTarget({ database: options.instance }), ...options }]);
  }

  /** An Aurora PostgreSQL cluster, as `instance`. */
  static cluster(
    name: string,
    options: {
      readonly cluster: rds.IDatabaseCluster;
      readonly secret: secretsmanager.ISecret;
      readonly databaseName?: string;
    },
  ): FleetTargets {
    return new StaticTargets([{ name, server: migrationTarget({ cluster: options.cluster }), ...options }]);
  }

  /**
   * Many databases on one server (a database per tenant): one target per database, named
   * `<namePrefix><database>`. They share the server, so no target snapshots it: each target's
   * restore point is the server's point-in-time recovery at the time its deploy records (a
   * deploy is refused while automated backups are off).
   */
  static databases(options: {
    readonly instance?: rds.IDatabaseInstance;
    readonly cluster?: rds.IDatabaseCluster;
    readonly secret: secretsmanager.ISecret;
    readonly databases: readonly string[];
    /** @default '' (targets are named by their database) */
    readonly namePrefix?: string;
  }): FleetTargets {
    if (options.databases.length === 0) {
      throw new DatabaseMigrationsPropsError(
        'FleetTargets.databases: databases is empty; list the databases to migrate',
      );
    }
    const server = migrationTarget({ database: options.instance, cluster: options.cluster });
    return new StaticTargets(
      options.databases.map((database) => ({
        name: `${options.namePrefix ?? ''}${database}`,
        server,
        secret: options.secret,
        databaseName: database,
        shared: true,
      })),
    );
  }

  /**
   * Every RDS PostgreSQL instance and Aurora cluster carrying the tag `key`=`value` when the stack
   * deploys (and when it rolls back). A tagged server is named by its `rds-migrate:target` tag
   * (else its identifier), logs in with the secret its `rds-migrate:secret` tag names (else the
   * master secret RDS manages), and migrates the database its `rds-migrate:database` tag names.
   * The function may read only `secrets`, and snapshot only servers carrying the tag; let it
   * reach them on the network with `fleet.connections`.
   */
  static tagged(options: {
    readonly key: string;
    readonly value: string;
    /** The secrets the tagged servers log in with (ISecret, or ARN patterns such as `arn:...:secret:rds!db-*`). */
    readonly secrets: readonly (secretsmanager.ISecret | string)[];
  }): FleetTargets {
    return new TaggedTargets(options.key, options.value, options.secrets);
  }

  /**
   * The targets listed in an SSM parameter (String, or SecureString), read when the stack deploys
   * (and when it rolls back): a JSON list, in rollout order, of
   * `{"name": "acme", "instance": "tenants-1", "database": "acme", "secret": "arn:aws:secretsmanager:..."}`
   * (`cluster` for an Aurora cluster; `database` for a database of a shared server, which is never
   * snapshotted: its restore point is the server's point-in-time recovery). The function may read
   * only this parameter and `secrets`, and migrate and snapshot only the servers whose identifiers
   * match `servers`: a list naming another is refused before anything runs. Let the function reach
   * them on the network with `fleet.connections`.
   */
  static fromParameter(options: {
    readonly parameter: ssm.IStringParameter;
    /** The secrets the listed targets log in with (ISecret, or ARN patterns such as `arn:...:secret:tenants/*`). */
    readonly secrets: readonly (secretsmanager.ISecret | string)[];
    /** Identifiers (or patterns with `*`, such as `tenants-*`) of the instances and clusters the list may name. */
    readonly servers: readonly string[];
  }): FleetTargets {
    return new ParameterTargets(options.parameter, options.secrets, options.servers);
  }

  abstract bind(scope: Construct, fn: lambda.IFunction, options: BindOptions): BoundTargets;
}

interface StaticTarget {
  readonly name: string;
  readonly server: MigrationTarget;
  readonly secret: secretsmanager.ISecret;
  readonly databaseName?: string;
  /** One of many databases on a server: no snapshot of the server per target. */
  readonly shared?: boolean;
}

class StaticTargets extends FleetTargets {
  constructor(private readonly list: readonly StaticTarget[]) {
    super();
  }

  bind(scope: Construct, fn: lambda.IFunction, options: BindOptions): BoundTargets {
    for (const target of this.list) {
      const snapshot = target.shared ? { enabled: false } : options.snapshot;
      grantDatabaseAccess(scope, fn, { secret: target.secret }, target.server, snapshot);
    }
    return {
      targets: this.list.map((target) => ({
        Name: target.name,
        Kind: target.server.kind,
        Identifier: target.server.identifier,
        SecretArn: target.secret.secretArn,
        ...(target.databaseName ? { Database: target.databaseName } : {}),
      })),
      sources: [],
      servers: this.list.map((target) => target.server),
      snapshots: this.list.some((target) => !target.shared) && options.snapshot.enabled,
      patterns: [],
    };
  }
}

class TaggedTargets extends FleetTargets {
  constructor(
    private readonly key: string,
    private readonly value: string,
    private readonly secrets: readonly (secretsmanager.ISecret | string)[],
  ) {
    super();
    if (secrets.length === 0) {
      throw new DatabaseMigrationsPropsError(
        `FleetTargets.tagged(${key}=${value}): secrets is empty; name the secrets the tagged servers log in with`,
      );
    }
  }

  bind(scope: Construct, fn: lambda.IFunction, options: BindOptions): BoundTargets {
    const servers = [rdsArn(scope, 'db', '*'), rdsArn(scope, 'cluster', '*')];
    const secretPatterns = grantSecrets(fn, this.secrets);
    // Finding the tagged servers: RDS lists instances and clusters only on the account's wildcard.
    grantDescribe(fn, ['*']);
    // A snapshot of a server carrying the tag only.
    const snapshots = options.snapshot.enabled
      ? grantSnapshots(scope, fn, servers, ['*'], {
          StringEquals: { [`aws:ResourceTag/${this.key}`]: this.value },
        })
      : [];
    return {
      targets: [],
      sources: [{ Type: 'tag', Key: this.key, Value: this.value }],
      servers: [],
      snapshots: options.snapshot.enabled,
      patterns: [...secretPatterns, ...(options.snapshot.enabled ? [...servers, ...snapshots] : []), '*'],
      patternsReason:
        'Targets found by tag at deploy time: RDS lists instances, clusters and snapshots only on the account ' +
        'wildcard; snapshots are created only of servers carrying the fleet tag (aws:ResourceTag condition), named ' +
        "by the tool's prefix and tagged only with the tool's tag keys; secrets only by the patterns the app gives",
    };
  }
}

class ParameterTargets extends FleetTargets {
  constructor(
    private readonly parameter: ssm.IStringParameter,
    private readonly secrets: readonly (secretsmanager.ISecret | string)[],
    private readonly servers: readonly string[],
  ) {
    super();
    if (secrets.length === 0) {
      throw new DatabaseMigrationsPropsError(
        'FleetTargets.fromParameter: secrets is empty; name the secrets the listed targets log in with',
      );
    }
    if (servers.length === 0) {
      throw new DatabaseMigrationsPropsError(
        'FleetTargets.fromParameter: servers is empty; name the instances and clusters the list may name ' +
          "(identifiers, or patterns such as 'tenants-*')",
      );
    }
    for (const server of servers) {
      if (!SERVER_PATTERN.test(server)) {
        throw new DatabaseMigrationsPropsError(
          `FleetTargets.fromParameter: servers entry '${server}' must be an RDS identifier (letters, digits, -) ` +
            'with * for any characters',
        );
      }
    }
  }

  bind(scope: Construct, fn: lambda.IFunction, options: BindOptions): BoundTargets {
    this.parameter.grantRead(fn);
    const secretPatterns = grantSecrets(fn, this.secrets);
    const servers = this.servers.flatMap((server) => [
      rdsArn(scope, 'db', server),
      rdsArn(scope, 'cluster', server),
    ]);
    // Status, backup retention and snapshots of the listed servers only; listing snapshots is
    // authorized against the wildcard snapshot ARN, not a name pattern.
    grantDescribe(fn, [...servers, rdsArn(scope, 'snapshot', '*'), rdsArn(scope, 'cluster-snapshot', '*')]);
    const snapshots = options.snapshot.enabled
      ? grantSnapshots(
          scope,
          fn,
          servers,
          this.servers.map((server) => `${server.toLowerCase()}-*`),
        )
      : [];
    return {
      targets: [],
      sources: [{ Type: 'parameter', Name: this.parameter.parameterName, Servers: [...this.servers] }],
      servers: [],
      snapshots: options.snapshot.enabled,
      patterns: [
        ...secretPatterns,
        ...servers.filter((arn) => arn.includes('*')),
        rdsArn(scope, 'snapshot', '*'),
        rdsArn(scope, 'cluster-snapshot', '*'),
        ...snapshots,
      ],
      patternsReason:
        'Targets listed in an SSM parameter at deploy time: only the servers matching the identifier patterns the ' +
        "app gives (the function refuses a list naming another); snapshots named by the tool's prefix and those " +
        'patterns, tagged only with its tag keys; listing snapshots is authorized only on the account wildcard ' +
        'snapshot ARN; secrets only by the patterns the app gives',
    };
  }
}

/** An instance or cluster identifier, or a pattern of them. */
const SERVER_PATTERN = /^[A-Za-z*][A-Za-z0-9*-]{0,62}$/;

function rdsArn(scope: Construct, resource: string, resourceName: string): string {
  return Stack.of(scope).formatArn({
    service: 'rds',
    resource,
    resourceName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** The servers' status and backup retention, and their snapshots. */
function grantDescribe(fn: lambda.IFunction, resources: readonly string[]): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [
        'rds:DescribeDBInstances',
        'rds:DescribeDBClusters',
        'rds:DescribeDBSnapshots',
        'rds:DescribeDBClusterSnapshots',
      ],
      resources: [...resources],
    }),
  );
}

/** Read on the secrets targets found at deploy time log in with; the ARN patterns among them. */
function grantSecrets(fn: lambda.IFunction, secrets: readonly (secretsmanager.ISecret | string)[]): string[] {
  for (const secret of secrets) {
    if (typeof secret === 'string') {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret] }),
      );
    } else secret.grantRead(fn);
  }
  return secrets.filter((secret): secret is string => typeof secret === 'string' && secret.includes('*'));
}

/**
 * Snapshots of `servers` (under `condition`), named by the tool's prefix and the `names` patterns
 * after it, tagged only with the tool's tag keys. The snapshot ARNs granted.
 */
function grantSnapshots(
  scope: Construct,
  fn: lambda.IFunction,
  servers: readonly string[],
  names: readonly string[],
  condition?: Record<string, unknown>,
): string[] {
  const snapshots = names.flatMap((name) => [
    rdsArn(scope, 'snapshot', `rds-migrate-${name}`),
    rdsArn(scope, 'cluster-snapshot', `rds-migrate-${name}`),
  ]);
  const create = ['rds:CreateDBSnapshot', 'rds:CreateDBClusterSnapshot'];
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: create,
      resources: [...servers],
      ...(condition ? { conditions: condition } : {}),
    }),
  );
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: create, resources: snapshots }));
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['rds:AddTagsToResource'],
      resources: snapshots,
      conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [...MANAGED_SNAPSHOT_TAG_KEYS] } },
    }),
  );
  return snapshots;
}

/** The connections of the static servers, for the function's security group. */
export function allowFunctionIn(servers: readonly MigrationTarget[], fn: ec2.IConnectable): void {
  const seen = new Set<ec2.Connections>();
  for (const server of servers) {
    if (seen.has(server.connections)) continue;
    seen.add(server.connections);
    server.connections.allowDefaultPortFrom(fn, 'rds-migrate fleet function');
  }
}
