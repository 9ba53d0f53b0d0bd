/**
 * What the CDK integration tests deploy: one stack, `rds-migrate-integ-lifecycle`, as bin/app.ts
 * builds the example (PostgreSQL 16 in isolated subnets, the construct's interface endpoints),
 * deployed once per step of a database's life with that step's migrations. Every step is its own
 * Stack construct with the same stack name, so deploying the next step is a CloudFormation update
 * of the same stack, with the same database. No step depends on another: a dependency would make
 * `cdk deploy` of a step deploy the earlier one first.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CfnElement,
  CfnWaitCondition,
  CfnWaitConditionHandle,
  Duration,
  aws_ec2 as ec2,
  aws_logs as logs,
  RemovalPolicy,
  aws_rds as rds,
  type Stack,
  type StackProps,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DatabaseMigrations } from '../../lib/construct/index.ts';

export const LIFECYCLE_STACK_NAME = 'rds-migrate-integ-lifecycle';
/** Fixed, so the snapshots can be found once the instance is gone. */
export const INSTANCE_IDENTIFIER = 'rds-migrate-integ-lifecycle';

/** The revisions of test/integ/migrations. */
export const REVISION = {
  createAccounts: '5e1f0a7c2b01',
  addEmailNormalized: '5e1f0a7c2b02',
  backfillEmailNormalized: '5e1f0a7c2b03',
  addPlan: '5e1f0a7c2b04',
} as const;

const MIGRATIONS = join(import.meta.dirname, 'migrations');

/** The migrations folder of each step: the files of test/integ/migrations it deploys. */
export const STEP_MIGRATIONS = {
  firstDeploy: ['202612010900_create_accounts.sql', '202612010930_add_email_normalized.sql'],
  /** Adds one migration, a background one: the deploy starts it, Step Functions runs it. */
  update: [
    '202612010900_create_accounts.sql',
    '202612010930_add_email_normalized.sql',
    '202612020900_backfill_email_normalized.ts',
  ],
  failingUpdate: [
    '202612010900_create_accounts.sql',
    '202612010930_add_email_normalized.sql',
    '202612020900_backfill_email_normalized.ts',
    '202612030900_add_plan.sql',
  ],
} as const satisfies Record<string, readonly string[]>;

export type Step = keyof typeof STEP_MIGRATIONS;

const folders: string[] = [];
process.on('exit', () => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A migrations folder holding `files` of test/integ/migrations (removed when the process exits). */
export function migrationsFolder(files: readonly string[]): string {
  const folder = mkdtempSync(join(tmpdir(), 'rds-migrate-integ-'));
  folders.push(folder);
  for (const file of files) cpSync(join(MIGRATIONS, file), join(folder, file));
  return folder;
}

export interface LifecycleOptions {
  readonly step: Step;
  /**
   * Adds a resource that CloudFormation creates after the migrations and that fails, so the
   * update rolls back.
   * @default false
   */
  readonly failAfterMigrations?: boolean;
}

/** The props every step's stack has: the one stack name, so each step updates the same stack. */
export function lifecycleStackProps(step: Step): StackProps {
  return { stackName: LIFECYCLE_STACK_NAME, description: `rds-migrate integration test, step ${step}` };
}

/** The database and its migrations, as one step of the lifecycle deploys them. */
export class Lifecycle {
  readonly database: rds.DatabaseInstance;
  readonly migrations: DatabaseMigrations;

  constructor(
    readonly stack: Stack,
    options: LifecycleOptions,
  ) {
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    });
    this.database = new rds.DatabaseInstance(stack, 'Database', {
      instanceIdentifier: INSTANCE_IDENTIFIER,
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE4_GRAVITON, ec2.InstanceSize.MICRO),
      allocatedStorage: 20,
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      credentials: rds.Credentials.fromGeneratedSecret('postgres'),
      storageEncrypted: true,
      // What destroy must leave: the data, in a final snapshot.
      removalPolicy: RemovalPolicy.SNAPSHOT,
      deletionProtection: false,
    });
    this.migrations = new DatabaseMigrations(stack, 'Migrations', {
      database: this.database,
      secret: this.database.secret,
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      interfaceEndpoints: true,
      migrationsDir: migrationsFolder(STEP_MIGRATIONS[options.step]),
      // Keep only the newest of the tool's snapshots, so a run leaves two behind (with the final one).
      snapshot: { policy: 'always', retain: 1 },
      timeouts: { total: Duration.minutes(30), queryInterval: Duration.seconds(15) },
      logs: { retention: logs.RetentionDays.ONE_WEEK, removalPolicy: RemovalPolicy.DESTROY },
    });
    if (options.failAfterMigrations) this.failAfterMigrations();
  }

  /** The logical id of one of this step's resources, to look it up in the deployed stack. */
  logicalIdOf(construct: Construct): string {
    return this.stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
  }

  /**
   * A wait condition nobody signals, created once the custom resource has migrated: it times out
   * after a second and CloudFormation rolls the whole update back, the migrations included.
   */
  private failAfterMigrations(): void {
    const handle = new CfnWaitConditionHandle(this.stack, 'FailOnPurposeHandle');
    const failure = new CfnWaitCondition(this.stack, 'FailOnPurpose', {
      handle: handle.ref,
      timeout: '1',
      count: 1,
    });
    failure.node.addDependency(this.migrations.customResource);
  }
}
