/**
 * `DatabaseMigrations`: the CDK construct that migrates a PostgreSQL database on `cdk deploy`.
 * A custom resource (CDK Provider framework, onEvent + isComplete on one function) carries the
 * bundle's head revision and content hash, so a deploy with new migrations is an Update that
 * snapshots, then migrates; a stack rollback sends the old properties back and downgrades.
 */
import { resolve } from 'node:path';
import {
  ArnFormat,
  CfnOutput,
  CustomResource,
  custom_resources as cr,
  Duration,
  aws_ec2 as ec2,
  aws_iam as iam,
  aws_lambda as lambda,
  type aws_rds as rds,
  Stack,
  type aws_secretsmanager as secretsmanager,
  Token,
} from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';
import { ASSET_MIGRATIONS_FOLDER, describeMigrationsAtSynth, functionCode } from './construct-bundling.ts';
import { acknowledge, nagReference } from './construct-nag.ts';
import { RdsMigrateError } from './errors.ts';

/** Snapshot taken before a deploy applies migrations. */
export interface MigrationSnapshotOptions {
  /**
   * Whether to snapshot the database (and wait for the snapshot) before migrating. A deploy
   * with nothing to migrate never snapshots.
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
   * Timeout of one invocation of the function (one migration run must fit in it).
   * @default Duration.minutes(15)
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
   * @default - 1 hour in total, snapshot checks every 30 seconds, 15 minutes per invocation
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
   * Schema of the migration history tables in the database.
   * @default 'rds_migrate'
   */
  readonly historySchema?: string;
}

const MAX_TOTAL_TIMEOUT = Duration.hours(1);
const MAX_LAMBDA_TIMEOUT = Duration.minutes(15);
const HISTORY_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const CONTEXT_ARG_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/** Tag the handler puts on its snapshots; only snapshots carrying it may be deleted. */
export const MANAGED_SNAPSHOT_TAG = 'rds-migrate:managed';

/** The database as the function sees it: instance or Aurora cluster. */
interface MigrationTarget {
  readonly kind: 'instance' | 'cluster';
  readonly identifier: string;
  /** ARN of the instance or cluster as IAM sees it (RDS identifiers are lower case). */
  readonly arn: string;
  readonly connections: ec2.Connections;
  readonly snapshotResourceType: 'snapshot' | 'cluster-snapshot';
  readonly createSnapshotAction: string;
  readonly describeSnapshotsAction: string;
  readonly deleteSnapshotAction: string;
  readonly endpoint: { readonly hostname: string; readonly port: string };
  grantConnect(grantee: iam.IGrantable, username: string): iam.Grant;
}

/**
 * Migrates a PostgreSQL database (RDS instance or Aurora cluster) to the head of
 * `migrationsDir` on every deploy: snapshot first, then one transaction; a failed deploy rolls
 * the schema back with the stack.
 */
export class DatabaseMigrations extends Construct {
  /** The function: the custom resource handler, and `aws lambda invoke` for status by hand. */
  readonly function: lambda.IFunction;
  readonly provider: cr.Provider;
  readonly customResource: CustomResource;
  /** The revision the database is at after the deploy (a token). */
  readonly revision: string;
  /** The head revision of `migrationsDir`, read at synth time. */
  readonly bundleHead: string;
  /** Hash of every (revision, checksum) in `migrationsDir`, read at synth time. */
  readonly bundleHash: string;

  constructor(scope: Construct, id: string, props: DatabaseMigrationsProps) {
    super(scope, id);
    const target = migrationTarget(props);
    validateProps(props);
    const timeouts = resolveTimeouts(props.timeouts);
    const snapshot = { enabled: props.snapshot?.enabled ?? true, retain: props.snapshot?.retain };
    const migrationsDir = resolve(props.migrationsDir);

    const bundle = describeMigrationsAtSynth(migrationsDir);
    this.bundleHead = bundle.head;
    this.bundleHash = bundle.hash;

    const vpcSubnets = props.vpcSubnets ?? defaultSubnets(props.vpc);
    const handler = new lambda.Function(this, 'Function', {
      description: `rds-migrate: migrates ${target.kind} ${target.identifier} on deploy; invoke by hand for status`,
      code: functionCode(migrationsDir),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      memorySize: 512,
      timeout: timeouts.lambda,
      vpc: props.vpc,
      vpcSubnets,
      environment: this.environment(props, target),
    });
    this.function = handler;

    target.connections.allowDefaultPortFrom(handler, 'rds-migrate function');
    this.grantDatabaseAccess(handler, props, target, snapshot);
    if (props.interfaceEndpoints) this.addInterfaceEndpoints(props, vpcSubnets);

    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: handler,
      isCompleteHandler: handler,
      totalTimeout: timeouts.total,
      queryInterval: timeouts.queryInterval,
    });

    this.customResource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::RdsMigrate',
      // CloudFormation's own limit for the whole operation (at most 1 hour): the provider's total
      // timeout plus one invocation, so the framework reports its own "timed out" first.
      serviceTimeout: Duration.seconds(
        Math.min(MAX_TOTAL_TIMEOUT.toSeconds(), timeouts.total.toSeconds() + timeouts.lambda.toSeconds()),
      ),
      properties: {
        TargetRevision: bundle.head,
        MigrationsHash: bundle.hash,
        Snapshot: { Enabled: snapshot.enabled, Retain: snapshot.retain },
        ContextArgs: props.contextArgs ?? {},
        DatabaseIdentifier: target.identifier,
      },
    });
    this.revision = this.customResource.getAttString('Revision');

    new CfnOutput(this, 'FunctionName', {
      description: 'rds-migrate function: invoke it for status, history or a manual migration',
      value: handler.functionName,
    });
    new CfnOutput(this, 'StatusCommand', {
      description: 'Prints the database revision, pending migrations, history and snapshots',
      value: `aws lambda invoke --function-name ${handler.functionName} --cli-binary-format raw-in-base64-out --payload '{"action":"status"}' out.json`,
    });

    this.acknowledgeFindings(handler, target, snapshot.enabled);
  }

  /** Lets `grantee` invoke the function (for `rds-migrate invoke` or `aws lambda invoke`). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.function.grantInvoke(grantee);
  }

  private environment(props: DatabaseMigrationsProps, target: MigrationTarget): Record<string, string> {
    const common = {
      MIGRATIONS_DIR: `/var/task/${ASSET_MIGRATIONS_FOLDER}`,
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      NODE_OPTIONS: '--enable-source-maps',
      DB_KIND: target.kind,
      DB_IDENTIFIER: target.identifier,
      HISTORY_SCHEMA: props.historySchema ?? 'rds_migrate',
      POWERTOOLS_SERVICE_NAME: 'rds-migrate',
      LOG_LEVEL: 'INFO',
    };
    if (props.iamAuthentication) {
      return {
        ...common,
        AUTH_MODE: 'iam',
        DB_USER: props.iamAuthentication.username,
        DB_HOST: target.endpoint.hostname,
        DB_PORT: target.endpoint.port,
        DB_NAME: props.iamAuthentication.databaseName ?? 'postgres',
      };
    }
    return { ...common, AUTH_MODE: 'secret', SECRET_ARN: (props.secret as secretsmanager.ISecret).secretArn };
  }

  private grantDatabaseAccess(
    fn: lambda.IFunction,
    props: DatabaseMigrationsProps,
    target: MigrationTarget,
    snapshot: { enabled: boolean; retain?: number },
  ): void {
    if (props.iamAuthentication) target.grantConnect(fn, props.iamAuthentication.username);
    else props.secret?.grantRead(fn);

    const snapshotArn = (name: string) => this.snapshotArn(target, name);
    const ownSnapshots = snapshotArn(ownSnapshotPattern(target));

    // Listing snapshots is authorized against the wildcard snapshot ARN, not a name pattern.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [target.describeSnapshotsAction],
        resources: [target.arn, snapshotArn('*')],
      }),
    );
    if (snapshot.enabled) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [target.createSnapshotAction],
          resources: [target.arn, ownSnapshots],
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['rds:AddTagsToResource'], resources: [ownSnapshots] }),
      );
    }
    if (snapshot.enabled && snapshot.retain !== undefined) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [target.deleteSnapshotAction],
          resources: [ownSnapshots],
          conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_SNAPSHOT_TAG}`]: 'true' } },
        }),
      );
    }
    // The handler reads its own stack's status to tell a rollback Update from a forward one.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['cloudformation:DescribeStacks'],
        resources: [Stack.of(this).stackId],
      }),
    );
  }

  private addInterfaceEndpoints(props: DatabaseMigrationsProps, vpcSubnets: ec2.SubnetSelection): void {
    // Secrets Manager only when the function reads the secret; IAM authentication signs locally.
    const services = new Map<string, ec2.InterfaceVpcEndpointAwsService>();
    if (!props.iamAuthentication) {
      services.set('SecretsManagerEndpoint', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
    }
    services.set('RdsEndpoint', ec2.InterfaceVpcEndpointAwsService.RDS);
    services.set('CloudFormationEndpoint', ec2.InterfaceVpcEndpointAwsService.CLOUDFORMATION);
    for (const [id, service] of services) {
      // Open to the VPC's CIDR: with private DNS the endpoint serves the whole VPC, and other
      // workloads there must not lose the service because this construct added it.
      const endpoint = new ec2.InterfaceVpcEndpoint(this, id, {
        vpc: props.vpc,
        service,
        subnets: { ...vpcSubnets, onePerAz: true },
        privateDnsEnabled: true,
        open: true,
      });
      acknowledge(endpoint, [
        'EC23',
        'Ingress on 443 from the VPC CIDR only (a token cdk-nag cannot evaluate); the endpoint serves the VPC ' +
          'through private DNS and every call through it still needs IAM permission',
      ]);
    }
  }

  /**
   * cdk-nag (AwsSolutions pack) findings this construct accepts, each by its full id with the
   * reason. Only what this construct creates; the database, VPC and secret are the user's.
   */
  private acknowledgeFindings(fn: lambda.Function, target: MigrationTarget, snapshotEnabled: boolean): void {
    const role = fn.role as iam.Role;
    const arnOf = (value: string) => nagReference(this, value);
    acknowledge(
      role,
      [
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'AWS managed policy of every Lambda function: CloudWatch Logs writes for its own log group only',
      ],
      [
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        'AWS managed policy Lambda needs to attach the function to the database VPC (ENI create/describe/delete, ' +
          'which IAM cannot scope to one function)',
      ],
      [
        `IAM5[Resource::${arnOf(this.snapshotArn(target, '*'))}]`,
        `${target.describeSnapshotsAction} lists snapshots (status, retention); RDS authorizes a list against the ` +
          'account wildcard snapshot ARN, so a name pattern would deny it. Read-only metadata.',
      ],
    );
    if (snapshotEnabled) {
      acknowledge(role, [
        `IAM5[Resource::${arnOf(this.snapshotArn(target, ownSnapshotPattern(target)))}]`,
        'Snapshots this construct makes of this one database, named rds-migrate-<identifier>-<timestamp>: a new ' +
          'name every deploy, so a name pattern; deletion additionally requires the rds-migrate:managed=true tag',
      ]);
    }
    acknowledge(fn, [
      'L1',
      'Node.js 22 on purpose: the bundle is built for node22 and the handler is tested on it; the runtime moves ' +
        'with a release of rds-migrate, not with whatever Lambda calls latest',
    ]);

    const invokeOwnFunction =
      'Provider framework (aws-cdk-lib) grants lambda:InvokeFunction on the function and its versions/aliases ' +
      "(<arn>:*); the function is this construct's own";
    for (const name of ['framework-onEvent', 'framework-isComplete', 'framework-onTimeout']) {
      const frameworkFunction = this.provider.node.findChild(name) as lambda.Function;
      acknowledge(
        frameworkFunction.role as iam.Role,
        [
          'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          'Provider framework (aws-cdk-lib) function role: AWS managed policy for CloudWatch Logs writes only',
        ],
        [`IAM5[Resource::${arnOf(`${fn.functionArn}:*`)}]`, invokeOwnFunction],
      );
    }
    const waiter = this.provider.node.findChild('waiter-state-machine');
    const frameworkArn = (name: string) =>
      arnOf(`${(this.provider.node.findChild(name) as lambda.Function).functionArn}:*`);
    acknowledge(
      waiter,
      [
        `IAM5[Resource::${frameworkArn('framework-isComplete')}]`,
        'Provider framework (aws-cdk-lib) waiter may invoke its own isComplete function, versions and aliases',
      ],
      [
        `IAM5[Resource::${frameworkArn('framework-onTimeout')}]`,
        'Provider framework (aws-cdk-lib) waiter may invoke its own onTimeout function, versions and aliases',
      ],
      [
        'SF1',
        'Provider framework waiter only polls isComplete; each poll logs (request id, snapshot state, timings) in ' +
          "the migration function's log group and executions stay visible in Step Functions",
      ],
      [
        'SF2',
        'Provider framework waiter is a two-state polling loop; the migration function logs the request id and ' +
          'timings of every step, which is what tracing would show',
      ],
    );
  }

  private snapshotArn(target: MigrationTarget, name: string): string {
    return Stack.of(this).formatArn({
      service: 'rds',
      resource: target.snapshotResourceType,
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }
}

/**
 * RDS stores identifiers in lower case and IAM compares ARNs case-sensitively, so an imported
 * database named `App-DB` must be granted as `db:app-db`. Identifiers that are tokens (made in
 * this app) are lower case already.
 */
function lowerCaseArn(
  scope: IConstruct,
  resource: 'db' | 'cluster',
  identifier: string,
  arn: string,
): string {
  if (Token.isUnresolved(identifier) || identifier === identifier.toLowerCase()) return arn;
  return Stack.of(scope).formatArn({
    service: 'rds',
    resource,
    resourceName: identifier.toLowerCase(),
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * Names of the snapshots the handler makes: `rds-migrate-<identifier>-<yyyymmddHHMMss>`, with the
 * identifier in lower case as RDS stores it (IAM compares ARNs case-sensitively).
 */
function ownSnapshotPattern(target: MigrationTarget): string {
  const identifier = Token.isUnresolved(target.identifier)
    ? target.identifier
    : target.identifier.toLowerCase();
  return `rds-migrate-${identifier}-*`;
}

function migrationTarget(props: DatabaseMigrationsProps): MigrationTarget {
  if (props.database && props.cluster) {
    throw new DatabaseMigrationsPropsError('give either database or cluster, not both');
  }
  if (props.database) {
    const database = props.database;
    return {
      kind: 'instance',
      identifier: database.instanceIdentifier,
      arn: lowerCaseArn(database, 'db', database.instanceIdentifier, database.instanceArn),
      connections: database.connections,
      snapshotResourceType: 'snapshot',
      createSnapshotAction: 'rds:CreateDBSnapshot',
      describeSnapshotsAction: 'rds:DescribeDBSnapshots',
      deleteSnapshotAction: 'rds:DeleteDBSnapshot',
      endpoint: { hostname: database.dbInstanceEndpointAddress, port: database.dbInstanceEndpointPort },
      grantConnect: (grantee, username) => database.grantConnect(grantee, username),
    };
  }
  if (props.cluster) {
    const cluster = props.cluster;
    return {
      kind: 'cluster',
      identifier: cluster.clusterIdentifier,
      arn: lowerCaseArn(cluster, 'cluster', cluster.clusterIdentifier, cluster.clusterArn),
      connections: cluster.connections,
      snapshotResourceType: 'cluster-snapshot',
      createSnapshotAction: 'rds:CreateDBClusterSnapshot',
      describeSnapshotsAction: 'rds:DescribeDBClusterSnapshots',
      deleteSnapshotAction: 'rds:DeleteDBClusterSnapshot',
      endpoint: {
        hostname: cluster.clusterEndpoint.hostname,
        port: Token.asString(cluster.clusterEndpoint.port),
      },
      grantConnect: (grantee, username) => cluster.grantConnect(grantee, username),
    };
  }
  throw new DatabaseMigrationsPropsError('give database (an RDS instance) or cluster (an Aurora cluster)');
}

/** A prop of `DatabaseMigrations` is missing, contradicts another, or is out of range. */
export class DatabaseMigrationsPropsError extends RdsMigrateError {
  override readonly name = 'DatabaseMigrationsPropsError';
  constructor(problem: string) {
    super(`DatabaseMigrations: ${problem}`);
  }
}

function validateProps(props: DatabaseMigrationsProps): void {
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
  for (const key of Object.keys(props.contextArgs ?? {})) {
    if (!CONTEXT_ARG_KEY.test(key)) {
      throw new DatabaseMigrationsPropsError(
        `contextArgs key '${key}' must be a word (letters, digits, _ . -)`,
      );
    }
  }
}

interface ResolvedTimeouts {
  readonly total: Duration;
  readonly queryInterval: Duration;
  readonly lambda: Duration;
}

function resolveTimeouts(timeouts: MigrationTimeouts | undefined): ResolvedTimeouts {
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
      `timeouts.lambda must be whole seconds between 1 second and 15 minutes (the Lambda limit); got ${resolved.lambda.toHumanString()}`,
    );
  }
  return resolved;
}

function defaultSubnets(vpc: ec2.IVpc): ec2.SubnetSelection {
  if (vpc.privateSubnets.length > 0) return { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  if (vpc.isolatedSubnets.length > 0) return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  throw new DatabaseMigrationsPropsError(
    'vpc has no private or isolated subnets; pass vpcSubnets to say where the function runs',
  );
}
