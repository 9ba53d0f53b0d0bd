/**
 * The fleet's pure parts and its AWS-only parts, without a database: the stages a fleet is cut
 * into, the tagged servers and the parameter's list found at deploy time (RDS and SSM faked), a target not started when the
 * deploy's time is short, and the gate and report that stop a rollout or name what a revert left.
 */
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { discoverTargets } from '../../lambda/fleet/discover.ts';
import type { FleetStage, FleetTarget } from '../../lambda/fleet/model.ts';
import { planStages } from '../../lambda/fleet/rollout.ts';
import { fleetTask } from '../../lambda/fleet/tasks.ts';

const target = (name: string): FleetTarget => ({
  name,
  kind: 'instance',
  identifier: name,
  secretArn: 'arn',
});
/** Discovery over a faked RDS; SSM must not be asked unless a test gives it. */
const clients = (rds: RDSClient, ssm?: SSMClient) => ({
  rds,
  ssm: () => {
    if (!ssm) throw new Error('SSM was asked, with no parameter source');
    return ssm;
  },
});
const stage = (name: string, size: Partial<FleetStage> = {}): FleetStage => ({
  name,
  toleratedFailures: 0,
  toleratedFailurePercent: 0,
  ...size,
});

describe('the rollout plan', () => {
  it('takes a canary, then waves by percentage of the fleet (rounded up), and gives the last stage the rest', () => {
    const fleet = Array.from({ length: 10 }, (_, index) => target(`t${index}`));
    const plan = planStages(fleet, [
      stage('canary', { count: 1 }),
      stage('wave', { percent: 25 }),
      stage('rest'),
    ]);
    expect(plan.map((part) => [part.name, part.targets.map((item) => item.name)])).toEqual([
      ['canary', ['t0']],
      ['wave', ['t1', 't2', 't3']],
      ['rest', ['t4', 't5', 't6', 't7', 't8', 't9']],
    ]);
  });

  it('tolerates the larger of the count and the percentage of the stage, never more than the stage holds', () => {
    const fleet = Array.from({ length: 5 }, (_, index) => target(`t${index}`));
    const plan = planStages(fleet, [
      stage('canary', { count: 1, toleratedFailures: 3 }),
      stage('rest', { toleratedFailures: 1, toleratedFailurePercent: 50 }),
    ]);
    expect(plan.map((part) => part.tolerated)).toEqual([1, 2]);
  });

  it('leaves later stages empty when the fleet is smaller than the stages', () => {
    const plan = planStages([target('only')], [stage('canary', { count: 2 }), stage('rest')]);
    expect(plan.map((part) => part.targets.length)).toEqual([1, 0]);
  });
});

describe('targets found by tag', () => {
  it('finds tagged PostgreSQL instances and clusters, named and logged in by their tags or RDS-managed secrets', async () => {
    const rds = new RDSClient({ region: 'eu-west-1' });
    const mock = mockClient(rds);
    const tag = { Key: 'fleet', Value: 'prod' };
    mock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({
        DBInstances: [
          { DBInstanceIdentifier: 'eu-1', TagList: [tag], MasterUserSecret: { SecretArn: 'arn:eu-1' } },
          {
            DBInstanceIdentifier: 'dev-1',
            TagList: [{ Key: 'fleet', Value: 'dev' }],
            MasterUserSecret: { SecretArn: 'x' },
          },
          { DBInstanceIdentifier: 'aurora-1', DBClusterIdentifier: 'us', TagList: [tag] },
        ],
        Marker: 'next',
      })
      .resolvesOnce({
        DBInstances: [
          {
            DBInstanceIdentifier: 'ap-1',
            TagList: [
              tag,
              { Key: 'rds-migrate:target', Value: 'asia' },
              { Key: 'rds-migrate:secret', Value: 'arn:ap' },
              { Key: 'rds-migrate:database', Value: 'app' },
            ],
          },
        ],
      });
    mock.on(DescribeDBClustersCommand).resolves({
      DBClusters: [{ DBClusterIdentifier: 'us', TagList: [tag], MasterUserSecret: { SecretArn: 'arn:us' } }],
    });
    const found = await discoverTargets(clients(rds), [{ type: 'tag', key: 'fleet', value: 'prod' }]);
    expect(found).toEqual([
      { name: 'asia', kind: 'instance', identifier: 'ap-1', secretArn: 'arn:ap', database: 'app' },
      { name: 'eu-1', kind: 'instance', identifier: 'eu-1', secretArn: 'arn:eu-1' },
      { name: 'us', kind: 'cluster', identifier: 'us', secretArn: 'arn:us' },
    ]);
  });

  it('refuses a tagged server with no secret to log in with, saying how to give it one', async () => {
    const rds = new RDSClient({ region: 'eu-west-1' });
    const mock = mockClient(rds);
    mock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceIdentifier: 'eu-1', TagList: [{ Key: 'fleet', Value: 'prod' }] }],
    });
    mock.on(DescribeDBClustersCommand).resolves({ DBClusters: [] });
    await expect(
      discoverTargets(clients(rds), [{ type: 'tag', key: 'fleet', value: 'prod' }]),
    ).rejects.toThrow(/instance eu-1 carries the fleet's tag but has no secret.*rds-migrate:secret/);
  });
});

describe('targets listed in an SSM parameter', () => {
  const NAME = '/fleet/tenants';
  const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants/shared-AbCdEf';
  const source = { type: 'parameter' as const, name: NAME, servers: ['tenants-*', 'eu-cluster'] };
  const ssm = new SSMClient({ region: 'eu-west-1' });
  const mock = mockClient(ssm);
  const listing = (value: unknown) => {
    mock.reset();
    mock
      .on(GetParameterCommand, { Name: NAME, WithDecryption: true })
      .resolves({ Parameter: { Value: typeof value === 'string' ? value : JSON.stringify(value) } });
  };
  const discover = () => discoverTargets(clients(new RDSClient({ region: 'eu-west-1' }), ssm), [source]);

  it('reads the list when the stack deploys, in its order: the first entry is the canary', async () => {
    listing([
      { name: 'globex', instance: 'tenants-1', database: 'globex', secret: SECRET },
      { name: 'acme', instance: 'TENANTS-2', secret: SECRET },
      { name: 'eu', cluster: 'eu-cluster', secret: SECRET },
    ]);
    expect(await discover()).toEqual([
      { name: 'globex', kind: 'instance', identifier: 'tenants-1', secretArn: SECRET, database: 'globex' },
      { name: 'acme', kind: 'instance', identifier: 'TENANTS-2', secretArn: SECRET },
      { name: 'eu', kind: 'cluster', identifier: 'eu-cluster', secretArn: SECRET },
    ]);
    listing([]);
    expect(await discover()).toEqual([]);
  });

  it('refuses a malformed list before anything runs, naming the entry and what to write', async () => {
    const refused = async (value: unknown, message: RegExp) => {
      listing(value);
      await expect(discover()).rejects.toThrow(message);
    };
    const entry = { name: 'acme', instance: 'tenants-1', secret: SECRET };
    await refused(
      '[{"name": "acme", "password": "hunter2"',
      /SSM parameter \/fleet\/tenants, is not valid JSON: write a JSON list of \{"name"/,
    );
    await refused(entry, /must be a JSON list of .*not a single value; nothing was migrated$/);
    await refused(['acme'], /entry 0 is not an object: write \{"name"/);
    await refused([entry, { ...entry, name: '' }], /entry 1 has no valid "name"/);
    await refused(
      [{ ...entry, cluster: 'eu-cluster' }],
      /entry 0 \(acme\) must give "instance" or "cluster".*one of the two/,
    );
    await refused([{ name: 'acme', secret: SECRET }], /entry 0 \(acme\) must give "instance" or "cluster"/);
    await refused([{ ...entry, secret: 'tenants/shared' }], /entry 0 \(acme\) has no "secret": the ARN/);
    await refused([{ ...entry, password: 'x' }], /entry 0 has field password, which a target does not take/);
    await refused(
      [{ ...entry, database: 7 }],
      /entry 0 \(acme\) has a "database" that is not a database name/,
    );
    await refused(
      [{ ...entry, instance: 'billing-db' }],
      /entry 0 \(acme\) names instance billing-db, which is not among the servers this fleet may migrate \(tenants-\*, eu-cluster\): add it to FleetTargets.fromParameter's servers/,
    );
  });

  it('never repeats a SecureString list in its errors', async () => {
    listing('{"name": "acme", "password": "hunter2"');
    await expect(discover()).rejects.toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });

  it('says when the parameter does not exist, and what to put in it', async () => {
    mock.reset();
    mock
      .on(GetParameterCommand)
      .rejects(
        Object.assign(new Error('Parameter /fleet/tenants not found.'), { name: 'ParameterNotFound' }),
      );
    await expect(discover()).rejects.toThrow(
      /SSM parameter \/fleet\/tenants, does not exist in this account and region: create it with a JSON list of/,
    );
  });
});

describe('the rollout tasks', () => {
  const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:fleet';
  const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:fleet:r-1';
  const sfn = new SFNClient({ region: 'eu-west-1' });
  const deps = {
    env: {},
    sfn,
    stateMachineArn: STATE_MACHINE,
    now: () => Date.UTC(2026, 11, 3, 12, 0, 0),
    makeHandler: () => {
      throw new Error('no target may be started');
    },
  };
  const request = {
    RequestType: 'Update',
    RequestId: 'r-1',
    StackId: 'arn:stack',
    LogicalResourceId: 'Fleet',
  };
  const target = { Name: 'tenant-z', Kind: 'instance', Identifier: 'z', SecretArn: 'arn:z' };
  const properties = { TargetRevision: 'f1ee70000001' };
  const rollout = { request, properties, stages: [[target]], targets: [] };
  mockClient(sfn)
    .on(DescribeExecutionCommand, { executionArn: EXECUTION })
    .resolves({ status: 'RUNNING', input: JSON.stringify(rollout) });
  const start = (overrides: Record<string, unknown>) => ({
    RdsMigrateFleet: { task: 'start', target, request, properties, execution: EXECUTION, ...overrides },
  });

  it("starts no target with less than three minutes of the deploy's time left, and says it is untouched", async () => {
    await expect(fleetTask(start({ deadline: deps.now() + 120_000 }), deps)).rejects.toThrow(
      /target tenant-z was not started: 120 s were left.*it is untouched/,
    );
  });

  it('refuses a task that is not its rollout’s own: another execution, another target, another revision', async () => {
    const later = deps.now() + 3_600_000;
    await expect(
      fleetTask(start({ deadline: later, execution: `${EXECUTION}-forged` }), deps),
    ).rejects.toThrow(/request refused.*only the fleet's state machine deploys a target/);
    const other = { ...target, Name: 'tenant-y' };
    await expect(fleetTask(start({ deadline: later, target: other }), deps)).rejects.toThrow(
      /target tenant-y with these properties is not part of rollout/,
    );
    await expect(
      fleetTask(start({ deadline: later, properties: { TargetRevision: 'base' } }), deps),
    ).rejects.toThrow(/target tenant-z with these properties is not part of rollout/);
  });

  it('stops the rollout after a stage with more failures than it tolerates, naming them', async () => {
    const results = [
      { name: 'a', from: 'base', to: 'x', applied: 1, reverted: 0 },
      {
        name: 'b',
        failed: true,
        cause: '{"errorType":"DeployFailed","errorMessage":"target b: lock timeout"}',
      },
      { name: 'c', failed: true, cause: 'target c: connection refused' },
    ];
    await expect(
      fleetTask({ RdsMigrateFleet: { task: 'gate', stage: 'wave', tolerated: 1, results } }, deps),
    ).rejects.toThrow(
      'stage wave: 2 of 3 targets failed, more than the 1 it tolerates, so the rollout stopped after it: target b: lock timeout; target c: connection refused',
    );
    await expect(
      fleetTask({ RdsMigrateFleet: { task: 'gate', stage: 'wave', tolerated: 2, results } }, deps),
    ).resolves.toEqual({
      tolerated: ['b', 'c'],
    });
  });

  it('fails a revert naming the targets it could not revert, after reverting the others', async () => {
    const results = [
      { name: 'a', from: 'x', to: 'base', applied: 0, reverted: 1 },
      { name: 'b', failed: true, cause: 'target b: unknown revision' },
    ];
    await expect(fleetTask({ RdsMigrateFleet: { task: 'report', results } }, deps)).rejects.toThrow(
      /1 of 2 targets could not be reverted \(the others were\): target b: unknown revision/,
    );
  });
});
