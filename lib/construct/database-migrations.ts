/**
 * `DatabaseMigrations`: the CDK construct that migrates a PostgreSQL database on `cdk deploy`.
 * A custom resource (CDK Provider framework, onEvent + isComplete on one function) carries the
 * bundle's head revision and content hash, so a deploy with new migrations is an Update that
 * snapshots, then migrates; a stack rollback sends the old properties back and downgrades.
 * The wiring is here; the props, the target database, IAM, log groups, networking and cdk-nag
 * acknowledgments each have a module of their own beside it.
 */
import { resolve } from 'node:path';
import {
  CfnOutput,
  CustomResource,
  type custom_resources as cr,
  aws_iam as iam,
  aws_lambda as lambda,
  RemovalPolicy,
  type aws_secretsmanager as secretsmanager,
  type aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  type AuthMode,
  FUNCTION_ENV,
  functionEnvironment,
  MANUAL_WITHOUT_SNAPSHOT_ALLOWED,
  MANUAL_WRITES_ON,
  OPERATE_ALIAS_NAME,
  runtimeEnvironment,
} from '../engine/function-contract.ts';
import { DEFAULT_HISTORY_SCHEMA } from '../engine/history.ts';
import {
  type BackgroundNames,
  backgroundNames,
  backgroundStateMachine,
  grantBackgroundExecutions,
  type ResolvedBackground,
  resolveBackground,
} from './background.ts';
import { ASSET_MIGRATIONS_FOLDER, describeMigrationsAtSynth, functionCode } from './bundling.ts';
import { migrationLogGroups, resolveLogs } from './logs.ts';
import {
  acknowledgeBackgroundFindings,
  acknowledgeFunctionFindings,
  acknowledgeProviderFindings,
} from './nag.ts';
import { addInterfaceEndpoints, defaultSubnets } from './networking.ts';
import { executionRole, grantDatabaseAccess } from './permissions.ts';
import {
  type DatabaseMigrationsProps,
  DatabaseMigrationsPropsError,
  type ResolvedTimeouts,
  resolveSnapshot,
  resolveTimeouts,
  validateProps,
} from './props.ts';
import {
  addRequestEnvironment,
  customResourceTimeout,
  migrationsProvider,
  statusCommand,
} from './provider.ts';
import { claimDatabase, type MigrationTarget, migrationTarget } from './target.ts';

/**
 * Migrates a PostgreSQL database (RDS instance or Aurora cluster) to the head of
 * `migrationsDir` on every deploy: snapshot first, then one transaction; a failed deploy rolls
 * the schema back with the stack.
 */
export class DatabaseMigrations extends Construct {
  /** The function: the custom resource handler, and `aws lambda invoke` for status by hand. */
  readonly function: lambda.IFunction;
  /**
   * The alias manual writes are invoked through (`grantOperate`), on the function's current
   * version; only with `operations: { writes: true }`.
   */
  readonly operateAlias?: lambda.IAlias;
  readonly provider: cr.Provider;
  readonly customResource: CustomResource;
  /** The Step Functions state machine (Standard) that runs background migrations beside the deploy. */
  readonly backgroundStateMachine: sfn.StateMachine;
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
    claimDatabase(this, target, props.historySchema ?? DEFAULT_HISTORY_SCHEMA);
    const timeouts = resolveTimeouts(props.timeouts);
    const snapshot = resolveSnapshot(props.snapshot);
    const migrationsDir = resolve(props.migrationsDir);
    const background = resolveBackground(props.background);
    const names = backgroundNames(this);
    const writes = props.operations?.writes === true;
    const logGroups = migrationLogGroups(this, resolveLogs(props.logs));

    const bundle = describeMigrationsAtSynth(migrationsDir, { checkSince: props.checkSince });
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
      role: executionRole(this, 'FunctionRole', logGroups.function, {
        inVpc: true,
        description: 'rds-migrate migrations function: snapshots and migrates one database',
      }),
      logGroup: logGroups.function,
      environment: this.environment(props, target, timeouts, names, background),
      // Each deploy publishes a version for the operate alias; the one it replaced goes.
      ...(writes ? { currentVersionOptions: { removalPolicy: RemovalPolicy.DESTROY } } : {}),
    });
    this.function = handler;

    target.connections.allowDefaultPortFrom(handler, 'rds-migrate function');
    grantDatabaseAccess(this, handler, props, target, snapshot);
    if (props.interfaceEndpoints) addInterfaceEndpoints(this, props, vpcSubnets);
    this.backgroundStateMachine = backgroundStateMachine(
      this,
      handler,
      names,
      background,
      logGroups.background,
    );
    grantBackgroundExecutions(handler, names);

    this.provider = migrationsProvider(this, handler, timeouts, logGroups, 'migrations function');

    const properties = {
      TargetRevision: bundle.head,
      MigrationsHash: bundle.hash,
      Snapshot: { Enabled: snapshot.enabled, Policy: snapshot.policy, Retain: snapshot.retain },
      ContextArgs: props.contextArgs ?? {},
      DatabaseIdentifier: target.identifier,
      ...(props.lockRetries === undefined ? {} : { LockRetries: props.lockRetries }),
    };
    this.customResource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::RdsMigrate',
      serviceTimeout: customResourceTimeout(timeouts),
      properties,
    });
    addRequestEnvironment(handler, this.customResource, properties);
    // A deploy starts the background runs it applied: the state machine must be there first.
    this.customResource.node.addDependency(this.backgroundStateMachine);
    this.revision = this.customResource.getAttString('Revision');

    new CfnOutput(this, 'FunctionName', {
      description: 'rds-migrate function: invoke it for status, history or a manual migration',
      value: handler.functionName,
    });
    new CfnOutput(this, 'StatusCommand', {
      description: 'Prints the database revision, pending migrations, history and snapshots',
      value: statusCommand(handler),
    });
    if (writes) {
      const alias = new lambda.Alias(this, 'OperateAlias', {
        aliasName: OPERATE_ALIAS_NAME,
        version: handler.currentVersion,
        description: 'rds-migrate manual writes (up, down, stamp, background controls): grantOperate',
      });
      this.operateAlias = alias;
      new CfnOutput(this, 'OperateAliasArn', {
        description:
          'rds-migrate function alias for manual writes (up, down, stamp): invoke it with the role grantOperate gave',
        value: alias.functionArn,
      });
    }

    acknowledgeFunctionFindings(this, handler, target, logGroups.function);
    acknowledgeProviderFindings(this, this.provider, handler, logGroups.provider);
    acknowledgeBackgroundFindings(
      this,
      this.backgroundStateMachine,
      handler,
      names,
      background.mapMode === 'distributed',
    );
  }

  /**
   * Lets `grantee` (a principal of this account) invoke the function's unqualified ARN: the
   * manual reads (status, history, show, heads). In IAM an unqualified function ARN covers no
   * version or alias, so this never reaches the operate alias, which `grantOperate` grants.
   */
  grantStatus(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.function.functionArn],
    });
  }

  /**
   * Lets `grantee` (a principal of this account) invoke the operate alias, and nothing else:
   * the manual writes (up, down, stamp, pause, resume, cancel). Needs `operations: { writes: true }`.
   */
  grantOperate(grantee: iam.IGrantable): iam.Grant {
    if (!this.operateAlias) {
      throw new DatabaseMigrationsPropsError(
        `grantOperate: ${this.node.path} has manual writes off, so there is no operate alias to grant; set ` +
          'operations: { writes: true } to allow them (or grantStatus to let the role read)',
      );
    }
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.operateAlias.functionArn],
    });
  }

  /**
   * Lets `grantee` invoke the function for manual reads.
   * @deprecated use `grantStatus`, the same grant; `grantOperate` grants manual writes.
   */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.grantStatus(grantee);
  }

  private environment(
    props: DatabaseMigrationsProps,
    target: MigrationTarget,
    timeouts: ResolvedTimeouts,
    names: BackgroundNames,
    background: ResolvedBackground,
  ): Record<string, string> {
    const common = {
      ...runtimeEnvironment(),
      ...functionEnvironment({
        migrationsDir: `/var/task/${ASSET_MIGRATIONS_FOLDER}`,
        dbKind: target.kind,
        dbIdentifier: target.identifier,
        historySchema: props.historySchema ?? DEFAULT_HISTORY_SCHEMA,
        deployTimeoutSeconds: String(timeouts.total.toSeconds()),
        backgroundStateMachineArn: names.stateMachineArn,
        backgroundRanges: String(background.ranges),
      }),
      ...manualOperationsEnvironment(props),
    };
    if (props.iamAuthentication) {
      return {
        ...common,
        ...functionEnvironment({
          authMode: 'iam' satisfies AuthMode,
          dbUser: props.iamAuthentication.username,
          dbHost: target.endpoint.hostname,
          dbPort: target.endpoint.port,
          dbName: props.iamAuthentication.databaseName ?? 'postgres',
        }),
      };
    }
    return {
      ...common,
      ...functionEnvironment({
        authMode: 'secret' satisfies AuthMode,
        secretArn: (props.secret as secretsmanager.ISecret).secretArn,
      }),
    };
  }
}

/** Manual writes, when the construct allows them, and the alias they must come through. */
function manualOperationsEnvironment(props: DatabaseMigrationsProps): Record<string, string> {
  if (!props.operations?.writes) return {};
  return {
    [FUNCTION_ENV.manualWrites]: MANUAL_WRITES_ON,
    [FUNCTION_ENV.operateAlias]: OPERATE_ALIAS_NAME,
    ...(props.operations.allowWithoutSnapshot
      ? { [FUNCTION_ENV.manualWithoutSnapshot]: MANUAL_WITHOUT_SNAPSHOT_ALLOWED }
      : {}),
  };
}
