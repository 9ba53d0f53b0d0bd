/**
 * The CDK app `cdk.json` runs: an example stack with a PostgreSQL 16 instance in isolated
 * subnets and the `DatabaseMigrations` construct deploying ./migrations, checked by cdk-nag.
 * Environment-agnostic and free of lookups, so `npx cdk synth` works offline on a fresh clone.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  App,
  type AppProps,
  aws_ec2 as ec2,
  aws_rds as rds,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { DatabaseMigrations } from '../lib/construct/index.ts';

export interface RdsMigrateExampleStackProps extends StackProps {
  /**
   * Folder of the migrations to deploy.
   * @default './migrations'
   */
  readonly migrationsDir?: string;
}

/**
 * VPC with isolated subnets only (no NAT, no internet route): the database and the migrations
 * function live there, and the construct adds the interface endpoints the function needs.
 */
export class RdsMigrateExampleStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly database: rds.DatabaseInstance;
  readonly migrations: DatabaseMigrations;

  constructor(scope: Construct, id: string, props: RdsMigrateExampleStackProps = {}) {
    super(scope, id, props);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });

    this.database = new rds.DatabaseInstance(this, 'Database', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_18 }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE4_GRAVITON, ec2.InstanceSize.MICRO),
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      credentials: rds.Credentials.fromGeneratedSecret('postgres'),
      storageEncrypted: true,
    });
    Validations.of(this.database).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-RDS3',
        reason: 'Example database: one AZ keeps it cheap; set multiAz for production',
      },
      {
        id: 'AwsSolutions::AwsSolutions-RDS10',
        reason:
          'Example database: must be removable with cdk destroy; enable deletionProtection for production',
      },
      {
        id: 'AwsSolutions::AwsSolutions-RDS11',
        reason: 'A non-default port hides nothing: the security group only admits the migrations function',
      },
      {
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason:
          'Example database: no rotation schedule; production stacks add database.addRotationSingleUser(), ' +
          'which the migrations function follows because it reads the secret from Secrets Manager',
      },
    );

    this.migrations = new DatabaseMigrations(this, 'Migrations', {
      database: this.database,
      secret: this.database.secret,
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      interfaceEndpoints: true,
      migrationsDir: props.migrationsDir ?? 'migrations',
      // A snapshot before every deploy that changes something; keep the newest five.
      snapshot: { policy: 'always', retain: 5 },
    });
  }
}

export interface ExampleAppOptions extends AppProps {
  /** @default './migrations' */
  readonly migrationsDir?: string;
}

/** The example app with the cdk-nag AwsSolutions pack: any unacknowledged finding fails synth. */
export function createExampleApp(options: ExampleAppOptions = {}): {
  app: App;
  stack: RdsMigrateExampleStack;
} {
  const { migrationsDir, ...appProps } = options;
  const app = new App(appProps);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new RdsMigrateExampleStack(app, 'RdsMigrateExample', {
    description: 'rds-migrate example: PostgreSQL 16 migrated on deploy by the DatabaseMigrations construct',
    migrationsDir,
  });
  return { app, stack };
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  createExampleApp().app.synth();
}
