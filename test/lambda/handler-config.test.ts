import { DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { configFromEnv, parseProperties } from '../../lambda/config.ts';
import { messageOf, revisionsText } from '../../lambda/deploy/answers.ts';
import { DeployFailed, deployFailure, MAX_REASON_CHARS } from '../../lambda/failure.ts';
import { RdsSnapshots, stateOf } from '../../lambda/rds-snapshots.ts';
import { parseCredentials, readCredentials } from '../../lambda/secret.ts';
import { MigrationFailed } from '../../lib/engine/errors.ts';
import { pruneSnapshots, type SnapshotInfo, type SnapshotService } from '../../lib/engine/snapshot.ts';
import { cfnEvent, fakes, lambdaContext, REV, SECRET_ARN } from '../fixtures/handler/harness.ts';
import { recordingLogger } from '../fixtures/handler/log-lines.ts';

// No database is reached: every event here is refused before the function connects.
const aws = fakes('postgres://nobody:unused@127.0.0.1:1/nothing');

async function failureOf(event: unknown): Promise<string> {
  const error = await aws
    .handler('v1')(event, lambdaContext())
    .then(
      () => undefined,
      (e: Error) => e,
    );
  expect(error).toBeInstanceOf(DeployFailed);
  return (error as Error).message;
}

describe('malformed events', () => {
  it('fails a request without TargetRevision, saying who sets it', async () => {
    const event = cfnEvent('cfn-create');
    delete (event.ResourceProperties as Record<string, unknown>).TargetRevision;
    expect(await failureOf(event)).toContain(
      "property TargetRevision is missing; the construct sets it to the bundle's head",
    );
  });

  it('fails properties of the wrong type, naming the property', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ TargetRevision: 42 }, 'property TargetRevision must be a revision id'],
      [{ TargetRevision: 'Not A Revision' }, 'property TargetRevision must be a revision id'],
      [{ Snapshot: 'true' }, 'property Snapshot must be an object'],
      [{ Snapshot: { Enabled: 'yes' } }, 'property Snapshot.Enabled must be true or false (got "yes")'],
      [{ Snapshot: { Enabled: 'true', Retain: 'many' } }, 'property Snapshot.Retain must be a whole number'],
      [
        { Snapshot: { Enabled: 'true', Retain: '0' } },
        'property Snapshot.Retain must be a whole number from 1 to 1000',
      ],
      [
        { ContextArgs: { tenant: { name: 'acme' } } },
        'property ContextArgs.tenant must be a string (got an object)',
      ],
      [{ ContextArgs: ['a=b'] }, 'property ContextArgs must be an object of strings'],
    ];
    for (const [properties, message] of cases) {
      expect(await failureOf(cfnEvent('cfn-create', properties))).toContain(message);
    }
  });

  it('fails an unknown RequestType', async () => {
    const event = { ...cfnEvent('cfn-create'), RequestType: 'Replace' };
    expect(await failureOf(event)).toContain(
      "unknown RequestType 'Replace'; a custom resource event has Create, Update or Delete",
    );
  });

  it('fails an Update without a PhysicalResourceId', async () => {
    const event = cfnEvent('cfn-update');
    delete event.PhysicalResourceId;
    expect(await failureOf(event)).toContain('an Update event must carry the PhysicalResourceId');
  });

  it('answers Delete with success even when the environment is broken', async () => {
    const { logger, lines } = recordingLogger();
    const broken = fakes('postgres://nobody:unused@127.0.0.1:1/nothing', { DB_KIND: '' }).handler('v1', {
      logger,
    });
    const event = cfnEvent('cfn-delete');
    const result = (await broken(event, lambdaContext())) as unknown as Record<string, unknown>;
    expect(result).toEqual({
      PhysicalResourceId: event.PhysicalResourceId,
      Data: { Note: 'rds-migrate leaves the schema and data in place when the resource is deleted' },
      RdsMigrate: { phase: 'done', requestId: event.RequestId, target: '', from: [], plan: [] },
    });
    // The operator reads why no lease was claimed, and that the Delete went on regardless.
    expect(lines.slice(0, 2)).toEqual([
      {
        level: 'warn',
        message: 'did not claim the run lease on Delete; continuing',
        extra: { error: expect.stringContaining('DB_KIND') },
      },
      {
        level: 'info',
        message: 'delete: schema and data left in place',
        extra: { physicalResourceId: event.PhysicalResourceId, leaseClaimed: false },
      },
    ]);
    expect(await broken({ ...event, ...result }, lambdaContext())).toEqual({ IsComplete: true });
  });

  it('fails an isComplete poll whose marker is not what onEvent returns', async () => {
    const event = { ...cfnEvent('cfn-update'), RdsMigrate: { phase: 'dancing' } };
    expect(await failureOf(event)).toContain('RdsMigrate is not what onEvent returns');
  });

  it('reads the marker of a poll field by field, naming what is wrong', async () => {
    const event = cfnEvent('cfn-update');
    const poll = (marker: unknown) => failureOf({ ...event, RdsMigrate: marker });
    const marker = { phase: 'migrate', requestId: event.RequestId, target: REV.name, from: [], plan: [] };
    for (const notAMarker of ['done', null, { ...marker, phase: 7 }]) {
      expect(await poll(notAMarker)).toBe("the isComplete event's RdsMigrate is not what onEvent returns");
    }
    for (const requestId of [undefined, 42, 'r'.repeat(129)]) {
      expect(await poll({ ...marker, requestId })).toBe("the isComplete event's RdsMigrate names no request");
    }
    // 128 characters name a request, just not this poll's.
    expect(await poll({ ...marker, requestId: 'r'.repeat(128) })).toContain(
      "the poll's RdsMigrate marker names another request than its RequestId",
    );
    for (const phase of ['snapshot', 'snapshot-pending']) {
      expect(await poll({ ...marker, phase })).toBe("the isComplete event's RdsMigrate has no snapshotId");
    }
  });

  it('reads CloudFormation strings and native values alike', () => {
    const fromCloudFormation = parseProperties({
      TargetRevision: REV.name,
      Snapshot: { Enabled: 'false', Retain: '3' },
      ContextArgs: { batchSize: '500', dryRun: 'false' },
    });
    const native = parseProperties({
      TargetRevision: REV.name,
      Snapshot: { Enabled: false, Retain: 3 },
      ContextArgs: { batchSize: 500, dryRun: false },
    });
    expect(native).toEqual(fromCloudFormation);
    expect(fromCloudFormation).toMatchObject({
      snapshot: { enabled: false, retain: 3 },
      contextArgs: { batchSize: '500', dryRun: 'false' },
    });
    expect(
      parseProperties({ TargetRevision: 'base', Snapshot: { Enabled: 'true', Retain: 'false' } }).snapshot,
    ).toEqual({
      enabled: true,
      policy: 'always',
      retain: undefined,
    });
    expect(parseProperties({ TargetRevision: REV.name }).snapshot).toEqual({
      enabled: true,
      policy: 'always',
      retain: undefined,
    });
  });

  it('reads the snapshot policy, and gives properties without one (an older release) the policy Enabled says', () => {
    const policyOf = (Snapshot: Record<string, unknown>) =>
      parseProperties({ TargetRevision: REV.name, Snapshot }).snapshot.policy;
    expect(policyOf({ Policy: 'when-risky' })).toBe('when-risky');
    expect(policyOf({ Enabled: 'true', Policy: 'never' })).toBe('never');
    expect(policyOf({ Enabled: 'false' })).toBe('never');
    expect(policyOf({ Enabled: 'true' })).toBe('always');
    expect(() => policyOf({ Policy: 'sometimes' })).toThrow(
      /property Snapshot.Policy must be one of always, when-risky, never \(got "sometimes"\)/,
    );
  });
});

describe('environment', () => {
  const valid = { DB_KIND: 'instance', DB_IDENTIFIER: 'app-db', SECRET_ARN };

  it('defaults the migrations folder, auth mode and history schema', () => {
    expect(configFromEnv(valid)).toEqual({
      migrationsDir: '/var/task/migrations',
      kind: 'instance',
      identifier: 'app-db',
      auth: { mode: 'secret', secretArn: SECRET_ARN },
      historySchema: 'rds_migrate',
      region: undefined,
      deployTimeoutSeconds: 3600,
      background: { ranges: 8 },
      deployedBy: { stackId: undefined, resourceLogicalId: undefined, propertiesSha256: undefined },
      manual: { writes: false, withoutSnapshot: false, operateAlias: undefined },
    });
  });

  it('reads the background state machine and its ranges, and refuses ranges that are not a count', () => {
    const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:app-background';
    expect(
      configFromEnv({ ...valid, BACKGROUND_STATE_MACHINE_ARN: arn, BACKGROUND_RANGES: '16' }).background,
    ).toEqual({ stateMachineArn: arn, ranges: 16 });
    expect(() => configFromEnv({ ...valid, BACKGROUND_RANGES: 'eight' })).toThrow(
      /BACKGROUND_RANGES is 'eight'; set it to a whole number of key ranges/,
    );
  });

  it('reads IAM authentication settings', () => {
    const config = configFromEnv({
      DB_KIND: 'cluster',
      DB_IDENTIFIER: 'c',
      AUTH_MODE: 'iam',
      DB_USER: 'migrator',
      DB_HOST: 'h',
    });
    expect(config.auth).toEqual({
      mode: 'iam',
      user: 'migrator',
      host: 'h',
      port: 5432,
      database: 'postgres',
    });
  });

  it('names the variable that is missing or wrong', () => {
    expect(() => configFromEnv({ ...valid, DB_KIND: 'serverless' })).toThrow("DB_KIND is 'serverless'");
    expect(() => configFromEnv({ DB_KIND: 'instance', SECRET_ARN })).toThrow('DB_IDENTIFIER');
    expect(() => configFromEnv({ DB_KIND: 'instance', DB_IDENTIFIER: 'x' })).toThrow('SECRET_ARN');
    expect(() => configFromEnv({ ...valid, AUTH_MODE: 'kerberos' })).toThrow("AUTH_MODE is 'kerberos'");
    expect(() =>
      configFromEnv({ ...valid, AUTH_MODE: 'iam', DB_USER: 'u', DB_HOST: 'h', DB_PORT: 'x' }),
    ).toThrow('DB_PORT must be a port number');
  });
});

describe('secret', () => {
  const password = 'hunter2-Very-Secret-Value';

  it('reads the fields RDS stores, defaulting dbname', () => {
    const text = JSON.stringify({
      username: 'app',
      password,
      host: 'db.example',
      port: '5432',
      engine: 'postgres',
    });
    expect(parseCredentials(SECRET_ARN, text)).toEqual({
      username: 'app',
      password,
      host: 'db.example',
      port: 5432,
      dbname: 'postgres',
    });
  });

  it('names missing fields without quoting any value', () => {
    const text = JSON.stringify({ username: password, password: '', port: 'abc' });
    const error = (() => {
      try {
        parseCredentials(SECRET_ARN, text);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain('lacks valid password, host, port');
    expect(error?.message).not.toContain(password);
  });

  it('says a secret is not JSON without quoting it', () => {
    expect(() => parseCredentials(SECRET_ARN, `password=${password}`)).toThrow(/is not valid JSON/);
    expect(() => parseCredentials(SECRET_ARN, `password=${password}`)).not.toThrow(password);
  });

  it('explains a call that never reached Secrets Manager', async () => {
    const client = new SecretsManagerClient({ region: 'eu-west-1' });
    mockClient(client)
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('connect ETIMEDOUT 10.0.0.12:443'), { name: 'TimeoutError' }));
    await expect(readCredentials(client, SECRET_ARN)).rejects.toThrow(
      /cannot read secret .*ETIMEDOUT.*interface VPC endpoint for com\.amazonaws\.<region>\.secretsmanager/,
    );
  });
});

describe('RDS snapshots', () => {
  it('names snapshots within RDS rules', () => {
    const snapshots = new RdsSnapshots({
      client: new RDSClient({}),
      kind: 'instance',
      identifier: 'My_App.DB--prod',
    });
    expect(snapshots.nameAt(new Date('2026-11-25T10:30:05.123Z'))).toBe(
      'rds-migrate-my-app-db-prod-20261125103005',
    );
  });

  it('maps RDS statuses to wait, go on or stop', () => {
    expect(
      ['creating', 'copying', 'pending', 'available', 'failed', 'deleting', 'incompatible-restore'].map(
        stateOf,
      ),
    ).toEqual(['creating', 'creating', 'creating', 'available', 'failed', 'failed', 'failed']);
  });

  it('lists only managed snapshots, across pages, newest first', async () => {
    const client = new RDSClient({ region: 'eu-west-1' });
    const tags = [{ Key: 'rds-migrate:managed', Value: 'true' }];
    mockClient(client)
      .on(DescribeDBSnapshotsCommand, { Marker: undefined })
      .resolves({
        DBSnapshots: [
          {
            DBSnapshotIdentifier: 'old',
            Status: 'available',
            SnapshotCreateTime: new Date(1000),
            TagList: tags,
          },
        ],
        Marker: 'page2',
      })
      .on(DescribeDBSnapshotsCommand, { Marker: 'page2' })
      .resolves({
        DBSnapshots: [
          {
            DBSnapshotIdentifier: 'new',
            Status: 'available',
            SnapshotCreateTime: new Date(2000),
            TagList: tags,
          },
          {
            DBSnapshotIdentifier: 'theirs',
            Status: 'available',
            SnapshotCreateTime: new Date(3000),
            TagList: [],
          },
        ],
      });
    const snapshots = new RdsSnapshots({ client, kind: 'instance', identifier: 'app-db' });
    expect((await snapshots.list()).map((snapshot) => snapshot.id)).toEqual(['new', 'old']);
  });
});

describe('pruneSnapshots', () => {
  function memoryService(infos: SnapshotInfo[]): SnapshotService & { deleted: string[] } {
    const deleted: string[] = [];
    return {
      deleted,
      nameAt: () => 'x',
      create: async () => 'x',
      state: async () => 'available',
      list: async () => infos.filter((info) => !deleted.includes(info.id)),
      delete: async (id) => {
        deleted.push(id);
      },
    };
  }
  const at = (id: string, day: number, state: SnapshotInfo['state'] = 'available'): SnapshotInfo => ({
    id,
    createdAt: new Date(Date.UTC(2026, 10, day)),
    state,
    tags: {},
  });

  it('keeps the newest N and deletes the rest, oldest first, sparing one still being created', async () => {
    const service = memoryService([
      at('d5', 5),
      at('d4', 4),
      at('d3', 3, 'creating'),
      at('d2', 2),
      at('d1', 1),
    ]);
    const deleted = await pruneSnapshots(service, 2);
    expect(deleted.map((info) => info.id)).toEqual(['d1', 'd2']);
    expect(service.deleted).toEqual(['d1', 'd2']);
  });

  it('refuses a retention below one', async () => {
    await expect(pruneSnapshots(memoryService([]), 0)).rejects.toThrow('at least 1');
  });
});

describe('the words of the deploy answers', () => {
  it('names a database at several heads by all of them, joined by +, and one at none as base', () => {
    // PreviousRevision, the snapshot's rds-migrate:from tag and the failure messages all read so.
    expect(revisionsText(['a1b2c3d4e5f6', 'f6e5d4c3b2a1'])).toBe('a1b2c3d4e5f6+f6e5d4c3b2a1');
    expect(revisionsText([REV.name])).toBe(REV.name);
    expect(revisionsText([])).toBe('base');
  });

  it('logs a thrown error by its message, and anything else thrown as its text', () => {
    expect(messageOf(new Error('connection refused'))).toBe('connection refused');
    expect(messageOf('socket hang up')).toBe('socket hang up');
    expect(messageOf(undefined)).toBe('undefined');
  });
});

describe('failure reasons', () => {
  it('stay under the limit however long the PostgreSQL message', () => {
    const error = new MigrationFailed({
      revision: 'aaaa01',
      direction: 'up',
      source: 'x.sql',
      postgres: { code: '42601', message: 'e'.repeat(5000) },
      databaseLeftAt: [],
    });
    const failure = deployFailure(error, { snapshotId: 'rds-migrate-app-db-20261125103005', from: [] });
    expect(failure.message.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
    expect(failure.message).toContain('Snapshot rds-migrate-app-db-20261125103005');
    expect(failure.stack).toBe(`DeployFailed: ${failure.message}`);
  });

  it('say so when an earlier non-transactional step already committed', () => {
    const error = new MigrationFailed({
      revision: 'bbbb02',
      direction: 'up',
      source: 'y.sql',
      postgres: { code: '23505', message: 'duplicate key' },
      databaseLeftAt: ['aaaa01'],
    });
    expect(deployFailure(error, { from: [] }).message).toContain('The database is at aaaa01 (it was at base');
  });
});
