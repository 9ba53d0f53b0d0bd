/**
 * FleetMigrations synthesized: the rollout state machine (stages in order, each Map with its
 * concurrency, a gate only after a stage that tolerates failures, the revert branch), the custom
 * resource's fleet properties, the function's least privileges per target kind, and cdk-nag.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  App,
  aws_ec2 as ec2,
  type aws_iam as iam,
  aws_rds as rds,
  Stack,
  type aws_secretsmanager as secretsmanager,
  aws_ssm as ssm,
  Validations,
} from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetMigrations, type FleetMigrationsProps, FleetTargets } from '../../lib/construct/index.ts';
import { flattenCfnReference } from '../../lib/construct/nag.ts';

const V1 = join(import.meta.dirname, '..', 'fixtures', 'fleet', 'v1');
const TAGGED_SECRETS = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-*';
const LISTED_SECRETS = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants/*';

// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template and ASL read back as JSON
type Json = Record<string, any>;

interface Synthesized {
  readonly template: Template;
  readonly stack: Stack;
  readonly fleet: FleetMigrations;
  readonly outdir: string;
}

function synth(overrides: Partial<FleetMigrationsProps> = {}, nag = false): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'rds-migrate-fleet-'));
  const app = new App({
    outdir,
    context: { 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Fleet', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 });
  const own = new rds.DatabaseInstance(stack, 'TenantA', { engine, vpc, instanceIdentifier: 'tenant-a' });
  const shared = new rds.DatabaseInstance(stack, 'Shared', { engine, vpc, instanceIdentifier: 'shared' });
  const fleet = new FleetMigrations(stack, 'Fleet', {
    vpc,
    migrationsDir: V1,
    targets: [
      FleetTargets.instance('tenant-a', { instance: own, secret: own.secret as secretsmanager.ISecret }),
      FleetTargets.databases({
        instance: shared,
        secret: shared.secret as secretsmanager.ISecret,
        databases: ['tenant_b', 'tenant_c'],
      }),
      FleetTargets.tagged({ key: 'fleet', value: 'prod', secrets: [TAGGED_SECRETS] }),
      FleetTargets.fromParameter({
        parameter: ssm.StringParameter.fromStringParameterName(stack, 'TenantList', '/fleet/tenants'),
        secrets: [LISTED_SECRETS],
        servers: ['Tenants-*'],
      }),
    ],
    rollout: {
      stages: [
        { name: 'canary', targets: 1 },
        { name: 'wave', percent: 50, maxConcurrency: 5 },
        { name: 'rest', maxConcurrency: 20, toleratedFailurePercent: 10 },
      ],
    },
    ...overrides,
  });
  if (nag) {
    // The stand-in VPC, databases and secrets are the test's, not the construct's: only the fleet is judged.
    for (const scope of [vpc, own, shared]) {
      for (const rule of ['VPC7', 'SMG4', 'RDS2', 'RDS3', 'RDS10', 'RDS11']) {
        Validations.of(scope).acknowledge({
          id: `AwsSolutions::AwsSolutions-${rule}`,
          reason: 'a stand-in of the test stack',
        });
      }
    }
  }
  app.synth();
  return { template: Template.fromStack(stack), stack, fleet, outdir };
}

let main: Synthesized;
beforeAll(() => {
  main = synth({}, true);
}, 60_000);
afterAll(() => {
  if (main) rmSync(main.outdir, { recursive: true, force: true });
});

function definitionOf(template: Template): Json {
  const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).find(
    (resource) => (resource as Json).Properties.StateMachineName,
  ) as Json;
  const text = (machine.Properties.DefinitionString['Fn::Join'][1] as unknown[])
    .map((part) => (typeof part === 'string' ? part : '"ARN"'))
    .join('');
  return JSON.parse(text.replace(/""ARN""/g, '"ARN"'));
}

function functionGrants(template: Template, fleet: FleetMigrations): string[] {
  const roleId = Stack.of(fleet).getLogicalId((fleet.function.role as iam.Role).node.defaultChild as never);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
    JSON.stringify((policy as Json).Properties.Roles).includes(roleId),
  );
  const grants: string[] = [];
  for (const policy of policies) {
    for (const statement of (policy as Json).Properties.PolicyDocument.Statement) {
      const condition = statement.Condition ? ` if ${JSON.stringify(statement.Condition)}` : '';
      for (const action of [statement.Action].flat())
        for (const resource of [statement.Resource].flat())
          grants.push(`${action} ${flattenCfnReference(resource)}${condition}`);
    }
  }
  return grants;
}

describe('FleetMigrations', () => {
  it('passes cdk-nag AwsSolutions with every finding acknowledged with a reason', () => {
    const report = JSON.parse(readFileSync(join(main.outdir, 'validation-report.json'), 'utf8'));
    const aws = report.pluginReports.find((plugin: Json) => plugin.pluginName === 'AwsSolutions');
    expect(aws.violations).toEqual([]);
    expect(aws.conclusion).toBe('success');
    for (const suppressed of aws.suppressedViolations) {
      if (suppressed.reason !== 'a stand-in of the test stack')
        expect(suppressed.reason.length).toBeGreaterThan(30);
    }
  });

  it('rolls the stages out in order, each a Map with its concurrency, gating only the stage that tolerates failures', () => {
    const definition = definitionOf(main.template);
    const states = definition.States as Json;
    expect(definition.StartAt).toBe('Deploy or revert?');
    expect(states['Deploy or revert?'].Default).toBe('Stage canary');
    expect(states['Stage canary']).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 1,
      ItemsPath: '$.stages[0]',
      Next: 'Stage wave',
    });
    expect(states['Stage wave']).toMatchObject({
      MaxConcurrency: 5,
      ItemsPath: '$.stages[1]',
      Next: 'Stage rest',
    });
    expect(states['Stage rest']).toMatchObject({
      MaxConcurrency: 20,
      ItemsPath: '$.stages[2]',
      Next: 'Gate rest',
    });
    expect(states['Gate rest'].Next).toBe('Rolled out');
    // A stage tolerating nothing has no Catch: its first failure fails the Map and the rollout.
    const canary = states['Stage canary'].ItemProcessor.States;
    expect(canary['canary: start target'].Catch).toBeUndefined();
    // A call that died without an answer is made again (its target joins the request it recorded).
    for (const state of ['canary: start target', 'canary: poll target']) {
      expect(canary[state].Retry).toContainEqual(
        expect.objectContaining({ ErrorEquals: ['Lambda.Unknown'], MaxAttempts: 3 }),
      );
    }
    const rest = states['Stage rest'].ItemProcessor.States;
    expect(rest['rest: start target'].Catch[0].Next).toBe('rest: target failed');
    expect(rest['rest: poll target'].Catch[0].Next).toBe('rest: target failed');
    expect(states['Revert targets']).toMatchObject({
      ItemsPath: '$.targets',
      MaxConcurrency: 10,
      Next: 'Report revert',
    });
  });

  it('writes the fleet into the custom resource: targets with stable names, the tag source, the stages', () => {
    const resource = Object.values(main.template.findResources('Custom::RdsMigrateFleet'))[0] as Json;
    const properties = resource.Properties;
    expect(properties.TargetRevision).toBe('f1ee70000001');
    expect(
      properties.Targets.map((target: Json) => [target.Name, target.Kind, target.Database ?? null]),
    ).toEqual([
      ['tenant-a', 'instance', null],
      ['tenant_b', 'instance', 'tenant_b'],
      ['tenant_c', 'instance', 'tenant_c'],
    ]);
    expect(properties.Sources).toEqual([
      { Type: 'tag', Key: 'fleet', Value: 'prod' },
      { Type: 'parameter', Name: '/fleet/tenants', Servers: ['Tenants-*'] },
    ]);
    expect(properties.Rollout.Stages.map((stage: Json) => stage.Name)).toEqual(['canary', 'wave', 'rest']);
  });

  it('lets the function snapshot the instances it owns and tagged servers only, and read only the fleet’s secrets', () => {
    const grants = functionGrants(main.template, main.fleet);
    const snapshots = grants.filter((grant) => grant.startsWith('rds:CreateDBSnapshot'));
    // tenant-a's instance; never the shared server of the per-tenant databases; tagged servers only with the tag.
    expect(snapshots.some((grant) => grant.includes(':db:<TenantA'))).toBe(true);
    expect(snapshots.some((grant) => grant.includes(':db:<Shared'))).toBe(false);
    expect(snapshots.filter((grant) => grant.includes(':db:*'))).toEqual([
      expect.stringContaining('{"StringEquals":{"aws:ResourceTag/fleet":"prod"}}'),
    ]);
    const secrets = grants.filter((grant) => grant.startsWith('secretsmanager:GetSecretValue'));
    expect(secrets).toHaveLength(4);
    expect(secrets).toContain(`secretsmanager:GetSecretValue ${TAGGED_SECRETS}`);
    const states = grants.filter((grant) => grant.startsWith('states:'));
    expect(states.every((grant) => grant.includes(':stateMachine:') || grant.includes(':execution:'))).toBe(
      true,
    );
  });

  it('lets the function read the list’s parameter only, and migrate and snapshot only the servers it may name', () => {
    const grants = functionGrants(main.template, main.fleet);
    expect(grants.filter((grant) => grant.startsWith('ssm:'))).toEqual(
      ['DescribeParameters', 'GetParameters', 'GetParameter', 'GetParameterHistory'].map(
        (action) => `ssm:${action} arn:<AWS::Partition>:ssm:eu-west-1:123456789012:parameter/fleet/tenants`,
      ),
    );
    expect(grants).toContain(`secretsmanager:GetSecretValue ${LISTED_SECRETS}`);
    const rdsArn = (resource: string) => `arn:<AWS::Partition>:rds:eu-west-1:123456789012:${resource}`;
    // Unconditioned grants on servers reach only the listed identifiers' patterns (the tagged ones carry the tag condition).
    const onServers = grants.filter(
      (grant) => /:(db|cluster):/.test(grant) && !grant.includes(':db:<') && !grant.includes(' if '),
    );
    expect(
      onServers.every((grant) => grant.includes(':db:Tenants-*') || grant.includes(':cluster:Tenants-*')),
    ).toBe(true);
    expect(grants).toContain(`rds:CreateDBSnapshot ${rdsArn('db:Tenants-*')}`);
    expect(grants).toContain(`rds:CreateDBClusterSnapshot ${rdsArn('cluster:Tenants-*')}`);
    expect(grants).toContain(`rds:CreateDBSnapshot ${rdsArn('snapshot:rds-migrate-tenants-*-*')}`);
    const tagging = `rds:AddTagsToResource ${rdsArn('snapshot:rds-migrate-tenants-*-*')} if {"ForAllValues:StringEquals"`;
    expect(grants.some((grant) => grant.startsWith(tagging))).toBe(true);
  });

  it('refuses a parameter source without the secrets or servers it may use, naming the prop', () => {
    const stack = new Stack();
    const parameter = ssm.StringParameter.fromStringParameterName(stack, 'List', '/fleet/tenants');
    expect(() => FleetTargets.fromParameter({ parameter, secrets: [], servers: ['t-*'] })).toThrow(
      /fromParameter: secrets is empty/,
    );
    expect(() => FleetTargets.fromParameter({ parameter, secrets: [LISTED_SECRETS], servers: [] })).toThrow(
      /fromParameter: servers is empty; name the instances and clusters the list may name/,
    );
    expect(() =>
      FleetTargets.fromParameter({ parameter, secrets: [LISTED_SECRETS], servers: ['arn:aws:rds:db:x'] }),
    ).toThrow(/servers entry 'arn:aws:rds:db:x' must be an RDS identifier/);
  });

  it('refuses stage settings the rollout cannot follow, naming the prop', () => {
    const stages = (stages: Json[]) => () => synth({ rollout: { stages: stages as never } });
    expect(stages([{ name: 'wave' }, { name: 'rest' }])).toThrow(
      /rollout.stages\[0\] \(wave\) has neither targets nor percent/,
    );
    expect(stages([{ name: 'all', maxConcurrency: 41 }])).toThrow(
      /rollout.stages\[0\].maxConcurrency must be a whole number from 1 to 40/,
    );
    expect(stages([{ name: 'a', targets: 1 }, { name: 'a' }])).toThrow(/'a' is used twice/);
  });
});
