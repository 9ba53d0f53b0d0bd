/**
 * `FleetMigrations`: one bundle of migrations rolled out over many databases on `cdk deploy` (a
 * database per tenant, region or shard), in stages on a Step Functions state machine: a canary,
 * then waves, each with a concurrency and a failure tolerance. Each target is deployed by the
 * same code as a DatabaseMigrations (restore point by the snapshot policy, the lease and lock,
 * one transaction, lock-timeout retries, the history); a stack rollback reverts the targets that
 * moved. The rollout's state machine is in fleet/state-machine.ts, the target kinds in
 * fleet/targets.ts.
 */
import { resolve } from 'node:path';
import {
  CfnOutput,
  CustomResource,
  type custom_resources as cr,
  type aws_ec2 as ec2,
  aws_iam as iam,
  aws_lambda as lambda,
  Stack,
  type aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { functionEnvironment, runtimeEnvironment } from '../engine/function-contract.ts';
import { DEFAULT_HISTORY_SCHEMA } from '../engine/history.ts';
import { backgroundNames } from './background.ts';
import { ASSET_MIGRATIONS_FOLDER, describeMigrationsAtSynth, functionCode } from './bundling.ts';
import { acknowledgeFleetFindings } from './fleet/nag.ts';
import { fleetStateMachine, type ResolvedStage } from './fleet/state-machine.ts';
import { allowFunctionIn, type FleetTargets } from './fleet/targets.ts';
import { type MigrationLogsOptions, migrationLogGroups, resolveLogs } from './logs.ts';
import { acknowledgeProviderFindings } from './nag.ts';
import { defaultSubnets } from './networking.ts';
import { executionRole } from './permissions.ts';
import {
  DatabaseMigrationsPropsError,
  type MigrationSnapshotOptions,
  type MigrationTimeouts,
  resolveSnapshot,
  resolveTimeouts,
} from './props.ts';
import {
  addRequestEnvironment,
  customResourceTimeout,
  migrationsProvider,
  statusCommand,
} from './provider.ts';

/** One stage of a rollout. */
export interface FleetStageOptions {
  /** Shown in the console (the stage's Map state) and in errors: letters, digits, spaces, - and _. */
  readonly name: string;
  /**
   * How many targets the stage takes, in the fleet's order (static targets as listed, then tagged
   * ones by name). Give `targets` or `percent`; the last stage always takes every target left.
   */
  readonly targets?: number;
  /** The share of the whole fleet the stage takes, rounded up (1-100). */
  readonly percent?: number;
  /** Targets deployed at once (1-40: an inline Map's limit). @default 1 for the first stage, 10 after */
  readonly maxConcurrency?: number;
  /**
   * Failed targets the stage tolerates: with 0 the stage stops at its first failure (the targets
   * in flight finish, no other starts), otherwise it runs to its end and the rollout stops after
   * it when more failed. @default 0
   */
  readonly toleratedFailures?: number;
  /** The same as a percentage of the stage's targets (the larger of the two counts). @default 0 */
  readonly toleratedFailurePercent?: number;
}

export interface FleetRolloutOptions {
  /** @default a canary of one target, then every other target 10 at a time */
  readonly stages?: readonly FleetStageOptions[];
  /** Targets reverted at once when the stack rolls back (1-40). @default 10 */
  readonly revertConcurrency?: number;
}

export interface FleetMigrationsProps {
  /** The fleet: `FleetTargets.instance`, `.cluster`, `.databases` (a database per tenant), `.tagged`, `.fromParameter` (an SSM list). */
  readonly targets: readonly FleetTargets[];
  /** The VPC the function runs in: it must reach every target. */
  readonly vpc: ec2.IVpc;
  /** @default private subnets with egress, else isolated ones */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The migrations folder: every target is brought to its head. */
  readonly migrationsDir: string;
  /** Stages of the rollout. @default a canary of one, then the rest 10 at a time, stopping at the first failure */
  readonly rollout?: FleetRolloutOptions;
  /** Each target's restore point, as DatabaseMigrations' (databases sharing a server never snapshot it). @default { policy: 'always' } */
  readonly snapshot?: MigrationSnapshotOptions;
  /** Context arguments every migration gets, on every target. @default {} */
  readonly contextArgs?: Readonly<Record<string, string>>;
  /** Tries after a lock timeout, per target. @default the engine's */
  readonly lockRetries?: number;
  /** The deploy's time (at most one hour, CloudFormation's limit) and the function's. @default 1 hour; 14 min */
  readonly timeouts?: MigrationTimeouts;
  /** The schema of the history tables in every target. @default 'rds_migrate' */
  readonly historySchema?: string;
  /** @default one year, kept on stack deletion */
  readonly logs?: MigrationLogsOptions;
}

const DEFAULT_STAGES: readonly FleetStageOptions[] = [{ name: 'canary', targets: 1 }, { name: 'fleet' }];
const STAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9 _-]{0,39}$/;
/** An inline Map runs at most 40 iterations at once. */
const MAX_CONCURRENCY = 40;

/** Migrates every database of a fleet to the head of `migrationsDir` on each deploy, in stages. */
export class FleetMigrations extends Construct {
  /** The function: the custom resource handler, the rollout's tasks, and `aws lambda invoke` for status. */
  readonly function: lambda.Function;
  readonly provider: cr.Provider;
  readonly customResource: CustomResource;
  /** The rollout state machine (Standard): its executions are the fleet's deploys and reverts. */
  readonly stateMachine: sfn.StateMachine;
  /** The function's network: allow it into servers found by tag (`db.connections.allowDefaultPortFrom(fleet)`). */
  readonly connections: ec2.Connections;
  /** The head revision of `migrationsDir`, read at synth time. */
  readonly bundleHead: string;

  constructor(scope: Construct, id: string, props: FleetMigrationsProps) {
    super(scope, id);
    if (props.targets.length === 0) {
      throw new DatabaseMigrationsPropsError(
        `${this.node.path}: targets is empty; give the fleet at least one target`,
      );
    }
    const stages = resolveStages(props.rollout?.stages ?? DEFAULT_STAGES);
    const revertConcurrency = concurrency(
      props.rollout?.revertConcurrency ?? 10,
      'rollout.revertConcurrency',
    );
    const timeouts = resolveTimeouts(props.timeouts);
    const snapshot = resolveSnapshot(props.snapshot);
    const migrationsDir = resolve(props.migrationsDir);
    const logGroups = migrationLogGroups(this, resolveLogs(props.logs));
    const names = backgroundNames(this);
    const bundle = describeMigrationsAtSynth(migrationsDir, {});
    this.bundleHead = bundle.head;

    const handler = new lambda.Function(this, 'Function', {
      description:
        'rds-migrate fleet: rolls migrations out over the fleet on deploy; invoke by hand for status',
      code: functionCode(migrationsDir),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      memorySize: 512,
      timeout: timeouts.lambda,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? defaultSubnets(props.vpc),
      role: executionRole(this, 'FunctionRole', logGroups.function, {
        inVpc: true,
        description: 'rds-migrate fleet function: snapshots and migrates the databases of the fleet',
      }),
      logGroup: logGroups.function,
      environment: {
        ...runtimeEnvironment(),
        ...functionEnvironment({
          migrationsDir: `/var/task/${ASSET_MIGRATIONS_FOLDER}`,
          historySchema: props.historySchema ?? DEFAULT_HISTORY_SCHEMA,
          deployTimeoutSeconds: String(timeouts.total.toSeconds()),
          fleetStateMachineArn: names.stateMachineArn,
        }),
      },
    });
    this.function = handler;
    this.connections = handler.connections;

    const bound = props.targets.map((targets) => targets.bind(this, handler, { snapshot }));
    allowFunctionIn(
      bound.flatMap((part) => part.servers),
      handler,
    );
    // Each request is confirmed with CloudFormation (its own stack only) before anything changes.
    handler.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['cloudformation:DescribeStacks', 'cloudformation:DescribeStackResource'],
        resources: [Stack.of(this).stackId],
      }),
    );
    handler.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution', 'states:ListExecutions'],
        resources: [names.stateMachineArn],
      }),
    );
    handler.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StopExecution', 'states:DescribeExecution'],
        resources: [names.executionsArn],
      }),
    );
    this.stateMachine = fleetStateMachine(
      this,
      handler,
      names,
      stages,
      revertConcurrency,
      logGroups.background,
    );

    this.provider = migrationsProvider(this, handler, timeouts, logGroups, 'fleet function');

    const userStages = props.rollout?.stages ?? DEFAULT_STAGES;
    const properties = {
      TargetRevision: bundle.head,
      MigrationsHash: bundle.hash,
      Snapshot: { Enabled: snapshot.enabled, Policy: snapshot.policy, Retain: snapshot.retain },
      ContextArgs: props.contextArgs ?? {},
      ...(props.lockRetries === undefined ? {} : { LockRetries: props.lockRetries }),
      Targets: bound.flatMap((part) => part.targets),
      Sources: bound.flatMap((part) => part.sources),
      Rollout: {
        Stages: userStages.map((stage) => ({
          Name: stage.name,
          ...(stage.targets === undefined ? {} : { Count: stage.targets }),
          ...(stage.percent === undefined ? {} : { Percent: stage.percent }),
          ToleratedFailures: stage.toleratedFailures ?? 0,
          ToleratedFailurePercent: stage.toleratedFailurePercent ?? 0,
        })),
      },
    };
    this.customResource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::RdsMigrateFleet',
      serviceTimeout: customResourceTimeout(timeouts),
      properties,
    });
    addRequestEnvironment(handler, this.customResource, properties);
    this.customResource.node.addDependency(this.stateMachine);

    new CfnOutput(this, 'StatusCommand', {
      description: 'Prints every target of the fleet: revision, pending, ahead, drift, last run',
      value: statusCommand(handler),
    });

    acknowledgeFleetFindings(this, handler, this.stateMachine, names, logGroups.function, bound);
    acknowledgeProviderFindings(this, this.provider, handler, logGroups.provider);
  }

  /** Lets `grantee` invoke the function for the fleet's status. */
  grantStatus(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.function.functionArn],
    });
  }
}

function resolveStages(stages: readonly FleetStageOptions[]): ResolvedStage[] {
  if (stages.length === 0)
    throw new DatabaseMigrationsPropsError('rollout.stages is empty; give at least one stage');
  const seen = new Set<string>();
  return stages.map((stage, index) => {
    const what = `rollout.stages[${index}]`;
    if (!STAGE_NAME.test(stage.name)) {
      throw new DatabaseMigrationsPropsError(
        `${what}.name '${stage.name}' must be 1-40 letters, digits, spaces, - or _ (it names the stage's states)`,
      );
    }
    if (seen.has(stage.name))
      throw new DatabaseMigrationsPropsError(`${what}.name '${stage.name}' is used twice`);
    seen.add(stage.name);
    const last = index === stages.length - 1;
    if (stage.targets !== undefined && stage.percent !== undefined) {
      throw new DatabaseMigrationsPropsError(`${what}: give targets or percent, not both`);
    }
    if (!last && stage.targets === undefined && stage.percent === undefined) {
      throw new DatabaseMigrationsPropsError(
        `${what} (${stage.name}) has neither targets nor percent; only the last stage takes the rest of the fleet`,
      );
    }
    if (stage.targets !== undefined && !(Number.isInteger(stage.targets) && stage.targets >= 1)) {
      throw new DatabaseMigrationsPropsError(`${what}.targets must be a whole number of targets, at least 1`);
    }
    if (
      stage.percent !== undefined &&
      !(Number.isInteger(stage.percent) && stage.percent >= 1 && stage.percent <= 100)
    ) {
      throw new DatabaseMigrationsPropsError(`${what}.percent must be a whole percentage from 1 to 100`);
    }
    const failures = stage.toleratedFailures ?? 0;
    const percent = stage.toleratedFailurePercent ?? 0;
    if (
      !(Number.isInteger(failures) && failures >= 0) ||
      !(Number.isInteger(percent) && percent >= 0 && percent <= 100)
    ) {
      throw new DatabaseMigrationsPropsError(
        `${what}: toleratedFailures must be a whole number from 0, toleratedFailurePercent from 0 to 100`,
      );
    }
    return {
      name: stage.name,
      maxConcurrency: concurrency(stage.maxConcurrency ?? (index === 0 ? 1 : 10), `${what}.maxConcurrency`),
      tolerant: failures > 0 || percent > 0,
    };
  });
}

function concurrency(value: number, what: string): number {
  if (!(Number.isInteger(value) && value >= 1 && value <= MAX_CONCURRENCY)) {
    throw new DatabaseMigrationsPropsError(
      `${what} must be a whole number from 1 to ${MAX_CONCURRENCY} (an inline Map's limit); got ${value}`,
    );
  }
  return value;
}
