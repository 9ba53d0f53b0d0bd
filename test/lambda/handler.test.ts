import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
} from '@aws-sdk/client-rds';
import {
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundRuns } from '../../lib/engine/background-runs.ts';
import { schemaSnapshot } from '../../lib/engine/catalog.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { Deploys } from '../../lib/engine/deploys.ts';
import { History } from '../../lib/engine/history.ts';
import {
  BACKGROUND_DIR,
  BACKGROUND_REV,
  type BackgroundBundle,
  TRIM_REV,
} from '../fixtures/handler/background-bundles.ts';
import {
  cfnEvent,
  DB_IDENTIFIER,
  type Fakes,
  fakes,
  lambdaContext,
  REV,
  runProvider,
  SECRET_ARN,
  STACK_ID,
} from '../fixtures/handler/harness.ts';
import { recordingLogger } from '../fixtures/handler/log-lines.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

type Json = Record<string, unknown>;

let database: TestDatabase;
let connection: Connection;
let aws: Fakes;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('test-inspector');
  aws = fakes(database.url);
});
afterEach(async () => {
  await database.drop();
});

async function heads(): Promise<readonly string[]> {
  return (await new History().read(connection.db)).heads;
}

async function tables(): Promise<string[]> {
  const result = await connection.db.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
  );
  return result.rows.map((row) => row.name);
}

async function logRows(): Promise<string[]> {
  return (await new History().log(connection.db)).map((row) => `${row.direction} ${row.revision}`);
}

/** The database as the v1 deploy leaves it. */
async function deployedV1(): Promise<void> {
  const outcome = await runProvider(aws.handler('v1'), cfnEvent('cfn-create', { TargetRevision: REV.name }));
  expect(outcome.status).toBe('SUCCESS');
  aws.rdsMock.resetHistory();
}

/** The database as the v2 deploy (an Update on top of v1) leaves it. */
async function deployedV2(): Promise<void> {
  await deployedV1();
  const outcome = await runProvider(
    aws.handler('v2'),
    cfnEvent('cfn-update', { TargetRevision: REV.tenant }, { TargetRevision: REV.name }),
  );
  expect(outcome.status).toBe('SUCCESS');
  aws.rdsMock.resetHistory();
  aws.cloudformationMock.resetHistory();
}

/** The rollback Update: ResourceProperties are v1's again, OldResourceProperties v2's. */
function rollbackEvent(): Record<string, unknown> {
  return cfnEvent('cfn-rollback-update', { TargetRevision: REV.name }, { TargetRevision: REV.tenant });
}

describe('Create', () => {
  it('snapshots, then migrates an empty database to the target, with a stable physical id', async () => {
    const event = cfnEvent('cfn-create', { TargetRevision: REV.name });
    const { logger, lines } = recordingLogger();
    const outcome = await runProvider(aws.handler('v1', { logger }), event);
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.physicalResourceId).toBe(`rds-migrate/${DB_IDENTIFIER}`);
    // What the operator reads of onEvent: the request against the bundle, the snapshot decision, the plan.
    const logged = (message: string) => lines.find((line) => line.message === message)?.extra;
    expect(logged('request')).toEqual({
      target: REV.name,
      migrationsHash: (event.ResourceProperties as Json).MigrationsHash,
      bundleHeads: [REV.name],
      bundleRevisions: 2,
      snapshot: { enabled: true, policy: 'always' },
    });
    expect(logged('snapshot decision')).toEqual({ take: true, reason: 'policy always', retentionDays: 7 });
    expect(logged('planned')).toEqual({
      from: [],
      target: REV.name,
      plan: [`up ${REV.customers}`, `up ${REV.name}`],
      fromHistory: false,
      durationMs: expect.any(Number),
    });
    expect(logged('planned')?.durationMs).toBeLessThan(60_000);
    // And of the poll that migrated: each step (as the runner logs it), then the run's report.
    const migrated = lines.filter((line) => line.message === 'migrated').map((line) => line.extra);
    expect(migrated.map((extra) => (extra.details as Json | undefined)?.revision)).toEqual([
      REV.customers,
      REV.name,
      undefined,
    ]);
    expect(migrated.at(-1)).toEqual({
      status: 'applied',
      from: [],
      to: [REV.name],
      steps: [
        expect.objectContaining({ revision: REV.customers, direction: 'up' }),
        expect.objectContaining({ revision: REV.name, direction: 'up' }),
      ],
      remaining: 0,
      durationMs: expect.any(Number),
    });
    // onEvent's answer: the marker every poll carries back, naming the snapshot it asked for.
    expect(outcome.responses[0]).toEqual({
      PhysicalResourceId: `rds-migrate/${DB_IDENTIFIER}`,
      RdsMigrate: {
        phase: 'snapshot',
        requestId: event.RequestId,
        target: REV.name,
        from: [],
        plan: [`up ${REV.customers}`, `up ${REV.name}`],
        snapshotId: 'rds-migrate-app-db-20261125103005',
      },
    });
    expect(outcome.data).toEqual({
      Revision: REV.name,
      PreviousRevision: 'base',
      Applied: '2',
      Reverted: '0',
      SnapshotId: 'rds-migrate-app-db-20261125103005',
      SnapshotPolicy: 'always',
      SnapshotReason: 'policy always',
      RestorePoint: expect.stringMatching(/^2026-11-25T10:30:\d\d\.000Z$/),
      BackupRetentionDays: '7',
    });
    expect(await heads()).toEqual([REV.name]);
    expect(await tables()).toEqual(['app_settings', 'customers']);
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(1);
    // Nothing to warn of: no Retain, so no pruning to fail.
    expect(lines.filter((line) => line.level !== 'info')).toEqual([]);
  });

  it('takes the physical id from the DatabaseIdentifier property when there is one', async () => {
    const event = cfnEvent('cfn-create', { TargetRevision: REV.name, DatabaseIdentifier: 'orders-db' });
    // A Create names its resource itself, whatever id the event carries.
    event.PhysicalResourceId = 'rds-migrate/from-the-event';
    const outcome = await runProvider(aws.handler('v1'), event);
    expect(outcome.physicalResourceId).toBe('rds-migrate/orders-db');
  });

  it('migrates in the first poll, without a snapshot, when snapshots are disabled', async () => {
    const event = cfnEvent('cfn-create', { TargetRevision: REV.name, Snapshot: { Enabled: 'false' } });
    const outcome = await runProvider(aws.handler('v1'), event);
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.responses).toHaveLength(2);
    expect(outcome.data).toMatchObject({ Revision: REV.name, SnapshotId: '', Applied: '2' });
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
    expect(await heads()).toEqual([REV.name]);
  });
});

describe('Update', () => {
  it('snapshots with a findable name and tags, waits for it, then applies the new migrations', async () => {
    await deployedV1();
    const event = cfnEvent('cfn-update', { TargetRevision: REV.tenant }, { TargetRevision: REV.name });
    const outcome = await runProvider(aws.handler('v2'), event);

    expect(outcome.status).toBe('SUCCESS');
    const create = aws.rdsMock.commandCalls(CreateDBSnapshotCommand);
    expect(create).toHaveLength(1);
    const input = create[0]?.args[0].input;
    expect(input?.DBInstanceIdentifier).toBe(DB_IDENTIFIER);
    expect(input?.DBSnapshotIdentifier).toMatch(/^rds-migrate-app-db-\d{14}$/);
    expect(input?.Tags).toEqual([
      { Key: 'rds-migrate:managed', Value: 'true' },
      { Key: 'rds-migrate:stack', Value: 'MyAppStack' },
      { Key: 'rds-migrate:from', Value: REV.name },
      { Key: 'rds-migrate:to', Value: REV.tenant },
      { Key: 'rds-migrate:request', Value: event.RequestId as string },
    ]);
    // onEvent, a poll while the snapshot is creating, the poll that migrates.
    expect(outcome.responses.map((response) => response.IsComplete)).toEqual([undefined, false, true]);
    expect(outcome.data).toMatchObject({
      Revision: REV.tenant,
      PreviousRevision: REV.name,
      SnapshotId: input?.DBSnapshotIdentifier,
      Applied: '2',
    });
    expect(await heads()).toEqual([REV.tenant]);
    // ContextArgs reach the code migration.
    const settings = await connection.db.query(`SELECT value FROM app_settings WHERE key = 'tenant'`);
    expect(settings.rows).toEqual([{ value: 'acme' }]);
    const actors = (await new History().log(connection.db)).map((row) => row.actor);
    expect(actors[0]).toBe('lambda:MyAppStack-DbMigrationsHandler:MyAppStack');
  });

  it('succeeds at once without a snapshot when there is nothing new', async () => {
    await deployedV1();
    const event = cfnEvent('cfn-update', { TargetRevision: REV.name, ContextArgs: { tenant: 'other' } });
    const { logger, lines } = recordingLogger();
    const outcome = await runProvider(aws.handler('v1', { logger }), event);
    expect(lines.map((line) => line.message)).not.toContain('snapshot decision');
    const record = await new Deploys(new History()).find(connection.db, event.RequestId as string);
    expect(record).toMatchObject({ phase: 'done', finishedAt: record?.startedAt });
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.responses).toHaveLength(2);
    expect(outcome.responses[1]).toEqual({ IsComplete: true });
    // Everything in onEvent's answer: the poll has nothing to add.
    expect(outcome.responses[0]).toEqual({
      PhysicalResourceId: event.PhysicalResourceId,
      Data: {
        Revision: REV.name,
        PreviousRevision: REV.name,
        SnapshotId: '',
        Applied: '0',
        Reverted: '0',
        SnapshotPolicy: 'always',
        SnapshotReason: 'nothing to apply',
        Note: 'already at the target revision',
      },
      RdsMigrate: { phase: 'done', requestId: event.RequestId, target: REV.name, from: [REV.name], plan: [] },
    });
    // Nor any other call to RDS: no backup retention to read for a plan of nothing.
    expect(aws.rdsMock.calls()).toHaveLength(0);
  });

  it('treats the same request delivered twice as one deploy', async () => {
    await deployedV1();
    const event = cfnEvent('cfn-update', { TargetRevision: REV.tenant });
    const { logger, lines } = recordingLogger();
    const handler = aws.handler('v2', { logger });
    expect((await runProvider(handler, event)).status).toBe('SUCCESS');
    const again = await runProvider(handler, event);
    expect(lines.filter((line) => line.message.startsWith('joining'))).toEqual([
      {
        level: 'info',
        message: 'joining the first delivery of this request',
        extra: { phase: 'done', snapshotId: again.data.SnapshotId },
      },
    ]);
    expect(again.status).toBe('SUCCESS');
    // The answer describes the deploy, not the delivery: the two migrations it applied.
    expect(again.data).toMatchObject({ Applied: '2', SnapshotId: expect.stringMatching(/^rds-migrate-/) });
    expect(again.data).not.toHaveProperty('Note');
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(1);
    expect((await logRows()).filter((row) => row === `up ${REV.tenant}`)).toHaveLength(1);
  });

  it('answers a late poll of a finished deploy as the poll that finished it did, migrating nothing', async () => {
    await deployedV1();
    const event = cfnEvent('cfn-update', { TargetRevision: REV.tenant });
    const handler = aws.handler('v2');
    const outcome = await runProvider(handler, event);
    expect(outcome.status).toBe('SUCCESS');
    const deploys = new Deploys(new History());
    const finished = await deploys.find(connection.db, event.RequestId as string);
    const logBefore = await logRows();
    // A waiter whose earlier poll timed out asks again, with onEvent's marker (phase snapshot).
    const late = await handler({ ...event, ...outcome.responses[0] }, lambdaContext());
    expect(late).toEqual(outcome.responses.at(-1));
    expect(await logRows()).toEqual(logBefore);
    expect(await deploys.find(connection.db, event.RequestId as string)).toEqual(finished);
  });

  it('fails with the revision, PostgreSQL code and message and the snapshot id, leaving the database unchanged', async () => {
    await deployedV1();
    const schemaBefore = await schemaSnapshot(connection.db);
    const logBefore = await logRows();
    const event = cfnEvent('cfn-update', { TargetRevision: REV.broken });
    const { logger, lines } = recordingLogger();
    const outcome = await runProvider(aws.handler('broken', { logger }), event);

    expect(outcome.status).toBe('FAILED');
    // The function's log has the whole PostgreSQL error, for the operator.
    expect(lines.find((line) => line.message === 'migration failed')).toEqual({
      level: 'error',
      message: 'migration failed',
      extra: {
        revision: REV.broken,
        direction: 'up',
        code: '42701',
        message: 'column "email" of relation "customers" already exists',
        detail: undefined,
      },
    });
    const snapshotId =
      aws.rdsMock.commandCalls(CreateDBSnapshotCommand)[0]?.args[0].input.DBSnapshotIdentifier;
    expect(outcome.reason).toContain(`migration ${REV.broken}`);
    expect(outcome.reason).toContain('[42701]');
    expect(outcome.reason).toContain('column "email" of relation "customers" already exists');
    expect(outcome.reason).toContain(`Snapshot ${snapshotId} holds the state before the deploy`);
    expect(outcome.reason).toContain(`unchanged, at ${REV.name}`);
    expect(outcome.reason?.length).toBeLessThan(1000);
    expect(await schemaSnapshot(connection.db)).toEqual(schemaBefore);
    expect(await logRows()).toEqual(logBefore);
    expect(await heads()).toEqual([REV.name]);
  });

  it('keeps the failure reason short with the stack trace the framework appends', async () => {
    await deployedV1();
    const handler = aws.handler('broken');
    const event = cfnEvent('cfn-update', { TargetRevision: REV.broken, Snapshot: { Enabled: 'false' } });
    const onEventResult = await handler(event);
    const error = (await handler({ ...event, ...onEventResult }).catch((e) => e)) as Error;
    expect(error.stack?.split('\n')).toHaveLength(1);
    expect(error.message).toContain('No snapshot was taken');
    expect(Buffer.byteLength(error.stack ?? '')).toBeLessThan(1100);
  });

  it('fails the deploy without migrating when the snapshot fails', async () => {
    await deployedV1();
    aws.rds.finalStatus = 'failed';
    const outcome = await runProvider(
      aws.handler('v2'),
      cfnEvent('cfn-update', { TargetRevision: REV.tenant }),
    );
    expect(outcome.status).toBe('FAILED');
    const snapshotId =
      aws.rdsMock.commandCalls(CreateDBSnapshotCommand)[0]?.args[0].input.DBSnapshotIdentifier;
    expect(outcome.reason).toBe(
      `snapshot ${snapshotId} failed, so nothing was migrated: the database is still at ${REV.name}. ` +
        'See the RDS events of app-db, then deploy again.',
    );
    expect(await heads()).toEqual([REV.name]);
  });

  it('goes on in the next poll when an invocation runs out of time before migrating', async () => {
    await deployedV1();
    const handler = aws.handler('v2');
    const event = cfnEvent('cfn-update', { TargetRevision: REV.tenant, Snapshot: { Enabled: 'false' } });
    const poll = { ...event, ...(await handler(event, lambdaContext())) };
    const nearlyOut = { ...lambdaContext(), getRemainingTimeInMillis: () => 1_000 };
    expect(await handler(poll, nearlyOut)).toEqual({ IsComplete: false });
    expect(await heads()).toEqual([REV.name]);
    // The restore point is that poll's: nothing had changed yet, and the next poll keeps it.
    const stopped = await new Deploys(new History()).find(connection.db, event.RequestId as string);
    expect(stopped?.restorePointAt).toBeInstanceOf(Date);
    expect(await handler(poll, lambdaContext())).toMatchObject({
      IsComplete: true,
      Data: { Applied: '2', RestorePoint: stopped?.restorePointAt?.toISOString() },
    });
    expect(await heads()).toEqual([REV.tenant]);
  });

  it('retries a migration that times out on a lock as many times as LockRetries says, then fails naming the holder', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'rds-migrate-lock-retries-'));
    writeFileSync(
      join(folder, '202611250900_accounts.sql'),
      '-- revision: aaaa00000001\n-- down_revision: none\n\n-- migrate:up\n' +
        'CREATE TABLE accounts (id int PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE accounts;\n',
    );
    writeFileSync(
      join(folder, '202611250930_email.sql'),
      '-- revision: aaaa00000002\n-- down_revision: aaaa00000001\n-- lock_timeout: 200ms\n\n-- migrate:up\n' +
        'ALTER TABLE accounts ADD COLUMN email text;\n\n-- migrate:down\nALTER TABLE accounts DROP COLUMN email;\n',
    );
    const handler = aws.handler('v1', { migrationsDir: folder });
    const noSnapshot = { Enabled: 'false' };
    const created = cfnEvent('cfn-create', { TargetRevision: 'aaaa00000001', Snapshot: noSnapshot });
    expect((await runProvider(handler, created)).status).toBe('SUCCESS');
    const holder = await database.connect('nightly report');
    await holder.db.query('BEGIN');
    await holder.db.query('SELECT * FROM accounts');
    const outcome = await runProvider(
      handler,
      cfnEvent('cfn-update', { TargetRevision: 'aaaa00000002', Snapshot: noSnapshot, LockRetries: '1' }),
    );
    await holder.db.query('ROLLBACK');
    rmSync(folder, { recursive: true });
    expect(outcome.status).toBe('FAILED');
    // One retry after the first attempt (the default is 4).
    expect(outcome.reason).toMatch(/timed out waiting for a lock 2 times/);
    expect(outcome.reason).toContain("app 'nightly report', idle in transaction: SELECT * FROM accounts");
    expect(await heads()).toEqual(['aaaa00000001']);
  });

  it('downgrades when the target is an ancestor of the current revision', async () => {
    await deployedV2();
    const outcome = await runProvider(
      aws.handler('v2'),
      cfnEvent('cfn-update', { TargetRevision: REV.customers }),
    );
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data).toMatchObject({ Revision: REV.customers, Reverted: '3', Applied: '0' });
    expect(await heads()).toEqual([REV.customers]);
    // base, which no bundle names as a migration, takes every migration back.
    const toBase = await runProvider(aws.handler('v2'), cfnEvent('cfn-update', { TargetRevision: 'base' }));
    expect(toBase.reason).toBeUndefined();
    expect(toBase.data).toMatchObject({ Revision: 'base', PreviousRevision: REV.customers, Reverted: '1' });
    expect(await tables()).toEqual([]);
  });

  it('refuses an applied migration that was edited since, naming it', async () => {
    await deployedV1();
    await connection.db.query(`UPDATE rds_migrate.log SET checksum = 'edited' WHERE revision = $1`, [
      REV.customers,
    ]);
    const outcome = await runProvider(
      aws.handler('v2'),
      cfnEvent('cfn-update', { TargetRevision: REV.tenant }),
    );
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toContain(`migration ${REV.customers}`);
    expect(outcome.reason).toContain('changed after it was applied');
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
  });

  it('refuses a target the bundle does not have', async () => {
    const outcome = await runProvider(
      aws.handler('v1'),
      cfnEvent('cfn-create', { TargetRevision: REV.tenant }),
    );
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toContain(
      `TargetRevision ${REV.tenant} is not among this function's migrations (its heads: ${REV.name}); ` +
        'the template and the function code come from different builds: deploy them together',
    );
    // A function built with no migrations at all says so.
    const empty = mkdtempSync(join(tmpdir(), 'rds-migrate-empty-bundle-'));
    const none = await runProvider(
      aws.handler('v1', { migrationsDir: empty }),
      cfnEvent('cfn-create', { TargetRevision: REV.tenant }),
    );
    rmSync(empty, { recursive: true });
    expect(none.reason).toContain(
      `TargetRevision ${REV.tenant} is not among this function's migrations (its heads: none)`,
    );
  });
});

describe('stack rollback', () => {
  it('reverts with the recorded down steps when the OLD code handles it', async () => {
    await deployedV2();
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const event = rollbackEvent();
    const outcome = await runProvider(aws.handler('v1'), event);

    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.responses[0]?.RdsMigrate).toEqual({
      phase: 'snapshot',
      requestId: event.RequestId,
      target: REV.name,
      from: [REV.tenant],
      plan: [`down ${REV.tenant}`, `down ${REV.orders}`],
      snapshotId: expect.stringMatching(/^rds-migrate-app-db-\d{14}$/),
      revertsFromHistory: true,
    });
    expect(outcome.data).toMatchObject({ Revision: REV.name, PreviousRevision: REV.tenant, Reverted: '2' });
    expect(await heads()).toEqual([REV.name]);
    expect(await tables()).toEqual(['app_settings', 'customers']);
    // The TS migration's recorded module ran its down step.
    const settings = await connection.db.query(`SELECT 1 FROM app_settings WHERE key = 'tenant'`);
    expect(settings.rows).toEqual([]);
    const describe = aws.cloudformationMock.commandCalls(DescribeStacksCommand);
    expect(describe[0]?.args[0].input).toEqual({ StackName: STACK_ID });
    expect(
      (await new History().log(connection.db)).slice(0, 2).map((row) => `${row.direction} ${row.source}`),
    ).toEqual(['down history:202611020900_create_orders.sql', 'down history:202611020930_record_tenant.ts']);
  });

  it('refuses to revert a revision the history holds no record of, naming it', async () => {
    await deployedV2();
    // As a history written before down steps were recorded leaves it.
    await connection.db.query(`DELETE FROM rds_migrate.log WHERE revision = $1 AND direction = 'up'`, [
      REV.tenant,
    ]);
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const outcome = await runProvider(aws.handler('v1'), rollbackEvent());
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toContain(
      `revision ${REV.tenant} is applied but the history has no record of how it was applied, so it cannot be reverted here`,
    );
    expect(await heads()).toEqual([REV.tenant]);
  });

  it('reverts with its own migrations when the NEW code handles it', async () => {
    await deployedV2();
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const outcome = await runProvider(aws.handler('v2'), rollbackEvent());
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.responses[0]?.RdsMigrate).not.toHaveProperty('revertsFromHistory');
    expect(outcome.data).toMatchObject({ Revision: REV.name, Reverted: '2' });
    expect(await heads()).toEqual([REV.name]);
    // One look at the stack: onEvent's confirmation that CloudFormation sends this request.
    expect(aws.cloudformationMock.commandCalls(DescribeStacksCommand)).toHaveLength(1);
  });

  it('refuses revisions the code lacks when the stack is not rolling back, naming them', async () => {
    await deployedV2();
    aws.stackStatus = 'UPDATE_IN_PROGRESS';
    const schemaBefore = await schemaSnapshot(connection.db);
    const outcome = await runProvider(aws.handler('v1'), rollbackEvent());
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toContain(`the database is at revision ${REV.tenant}`);
    expect(outcome.reason).toContain('UPDATE_IN_PROGRESS, not rolling back');
    expect(outcome.reason).toContain(`Deploy the code that contains ${REV.tenant}`);
    expect(await heads()).toEqual([REV.tenant]);
    expect(await schemaSnapshot(connection.db)).toEqual(schemaBefore);
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
  });

  it('fails a late poll of the abandoned forward update without migrating once the rollback claimed the database', async () => {
    await deployedV1();
    const forward = cfnEvent('cfn-update', { TargetRevision: REV.tenant }, { TargetRevision: REV.name });
    const onEventResult = await aws.handler('v2')(forward);
    // CloudFormation gives up on the forward update and sends the rollback (nothing to revert yet).
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const rollback = await runProvider(aws.handler('v1'), rollbackEvent());
    expect(rollback.status).toBe('SUCCESS');
    // The forward waiter still polls: its snapshot is still being made, yet it fails at once,
    // migrating nothing, rather than waiting on a request CloudFormation gave up on.
    const late = aws.handler('v2');
    const poll = { ...forward, ...onEventResult };
    await expect(late(poll)).rejects.toThrow(/superseded by request .*this request migrated nothing/);
    expect(await heads()).toEqual([REV.name]);
  });
});

describe('Delete', () => {
  it('leaves the schema and data in place, echoing the physical id', async () => {
    await deployedV1();
    await connection.db.query(`INSERT INTO customers (email) VALUES ('a@example.com')`);
    const schemaBefore = await schemaSnapshot(connection.db);
    const event = cfnEvent('cfn-delete', { TargetRevision: REV.name });
    const outcome = await runProvider(aws.handler('v1'), event);
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.physicalResourceId).toBe(event.PhysicalResourceId);
    expect(outcome.data.Note).toContain('leaves the schema and data in place');
    expect(await schemaSnapshot(connection.db)).toEqual(schemaBefore);
    expect(await heads()).toEqual([REV.name]);
    expect((await connection.db.query('SELECT count(*)::int AS n FROM customers')).rows).toEqual([{ n: 1 }]);
    expect(aws.rdsMock.calls()).toHaveLength(0);
  });

  it('claims the database from a deploy CloudFormation gave up on, whose late poll then migrates nothing', async () => {
    const { logger, lines } = recordingLogger();
    const create = cfnEvent('cfn-create', { TargetRevision: REV.name });
    const onEventResult = (await aws.handler('v1', { logger })(create, lambdaContext())) as Json;
    const deploys = new Deploys(new History());
    expect(await deploys.find(connection.db, create.RequestId as string)).toMatchObject({
      phase: 'snapshot',
      finishedAt: undefined,
    });
    // The create failed elsewhere; CloudFormation deletes the resource before the snapshot is done.
    const event = cfnEvent('cfn-delete', { TargetRevision: REV.name });
    const answer = await aws.handler('v1', { logger })(event, lambdaContext());
    expect(answer).toEqual({
      PhysicalResourceId: event.PhysicalResourceId,
      Data: { Note: 'rds-migrate leaves the schema and data in place when the resource is deleted' },
      RdsMigrate: { phase: 'done', requestId: event.RequestId, target: '', from: [], plan: [] },
    });
    expect(lines.filter((line) => line.message.startsWith('delete'))).toEqual([
      {
        level: 'info',
        message: 'delete: schema and data left in place',
        extra: { physicalResourceId: event.PhysicalResourceId, leaseClaimed: true },
      },
    ]);
    await expect(
      aws.handler('v1', { logger })({ ...create, ...onEventResult }, lambdaContext()),
    ).rejects.toThrow(
      `superseded by request ${event.RequestId}, which claimed this database while this one waited; this request migrated nothing`,
    );
    expect(lines.filter((line) => line.message.startsWith('superseded'))).toEqual([
      {
        level: 'warn',
        message: 'superseded: a newer request claimed the database; not migrating',
        extra: { requestId: create.RequestId, supersededBy: event.RequestId },
      },
    ]);
    expect(await heads()).toEqual([]);
    expect(await tables()).toEqual([]);
  });
});

describe('a newer request claiming the database during a poll', () => {
  it('fails the poll without migrating when a Delete claims the database while the poll looks at its snapshot', async () => {
    const handler = aws.handler('v1');
    const create = cfnEvent('cfn-create', { TargetRevision: REV.name });
    const poll = { ...create, ...((await handler(create, lambdaContext())) as Json) };
    // The create failed elsewhere: CloudFormation deletes the resource while the poll asks RDS
    // about its snapshot, which RDS then reports available.
    const deleted = cfnEvent('cfn-delete', { TargetRevision: REV.name });
    let deleteAnswered = false;
    aws.rdsMock.on(DescribeDBSnapshotsCommand).callsFake(async (input) => {
      if (!deleteAnswered) await aws.handler('v1')(deleted, lambdaContext());
      deleteAnswered = true;
      return {
        DBSnapshots: [
          {
            DBSnapshotIdentifier: input.DBSnapshotIdentifier,
            DBInstanceIdentifier: DB_IDENTIFIER,
            Status: 'available',
          },
        ],
      };
    });
    await expect(handler(poll, lambdaContext())).rejects.toThrow(
      `superseded by request ${deleted.RequestId}, which claimed this database while this one waited; this request migrated nothing`,
    );
    expect(deleteAnswered).toBe(true);
    expect(await heads()).toEqual([]);
    expect(await tables()).toEqual([]);
    expect(await logRows()).toEqual([]);
  });
});

describe('Aurora', () => {
  it('takes and polls DB cluster snapshots of the cluster', async () => {
    aws = fakes(database.url, { DB_KIND: 'cluster', DB_IDENTIFIER: 'app-cluster' });
    const outcome = await runProvider(
      aws.handler('v1'),
      cfnEvent('cfn-create', { TargetRevision: REV.name }),
    );
    expect(outcome.status).toBe('SUCCESS');
    const create = aws.rdsMock.commandCalls(CreateDBClusterSnapshotCommand);
    expect(create[0]?.args[0].input).toMatchObject({
      DBClusterIdentifier: 'app-cluster',
      DBClusterSnapshotIdentifier: 'rds-migrate-app-cluster-20261125103005',
    });
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
    expect(aws.rdsMock.commandCalls(DescribeDBClusterSnapshotsCommand).length).toBeGreaterThanOrEqual(2);
    expect(await heads()).toEqual([REV.name]);
  });
});

describe('snapshot retention', () => {
  it("keeps the newest N of this tool's snapshots and deletes the rest, never others' snapshots", async () => {
    aws.rds.seed('instance', 'rds-migrate-app-db-20261101000000', new Date('2026-11-01T00:00:00Z'), true);
    aws.rds.seed('instance', 'rds-migrate-app-db-20261102000000', new Date('2026-11-02T00:00:00Z'), true);
    aws.rds.seed('instance', 'rds-migrate-app-db-20261103000000', new Date('2026-11-03T00:00:00Z'), true);
    aws.rds.seed('instance', 'manual-before-upgrade', new Date('2026-10-01T00:00:00Z'), false);
    const event = cfnEvent('cfn-create', {
      TargetRevision: REV.name,
      Snapshot: { Enabled: 'true', Retain: '2' },
    });
    const { logger, lines } = recordingLogger();
    const outcome = await runProvider(aws.handler('v1', { logger }), event);

    expect(outcome.status).toBe('SUCCESS');
    const deleted = aws.rdsMock
      .commandCalls(DeleteDBSnapshotCommand)
      .map((call) => call.args[0].input.DBSnapshotIdentifier);
    expect(deleted).toEqual(['rds-migrate-app-db-20261101000000', 'rds-migrate-app-db-20261102000000']);
    expect([...aws.rds.snapshots.keys()].sort()).toEqual([
      'manual-before-upgrade',
      'rds-migrate-app-db-20261103000000',
      outcome.data.SnapshotId,
    ]);
    expect(outcome.data.Note).toBe(
      'pruned rds-migrate-app-db-20261101000000, rds-migrate-app-db-20261102000000',
    );
    expect(lines.filter((line) => line.message.includes('prune'))).toEqual([
      {
        level: 'info',
        message: 'pruned snapshots',
        extra: { deleted: ['rds-migrate-app-db-20261101000000', 'rds-migrate-app-db-20261102000000'] },
      },
    ]);
  });

  it('deletes nothing and says nothing while the snapshots are within Retain', async () => {
    aws.rds.seed('instance', 'rds-migrate-app-db-20261101000000', new Date('2026-11-01T00:00:00Z'), true);
    const { logger, lines } = recordingLogger();
    const event = cfnEvent('cfn-create', { TargetRevision: REV.name, Snapshot: { Retain: '2' } });
    const outcome = await runProvider(aws.handler('v1', { logger }), event);
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data).not.toHaveProperty('Note');
    expect(aws.rdsMock.commandCalls(DeleteDBSnapshotCommand)).toHaveLength(0);
    expect(lines.filter((line) => line.message.includes('prune'))).toEqual([]);
  });

  it('succeeds when pruning fails, the migration being done, and says why in the log', async () => {
    aws.rds.seed('instance', 'rds-migrate-app-db-20261101000000', new Date('2026-11-01T00:00:00Z'), true);
    aws.rdsMock.on(DeleteDBSnapshotCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: rds:DeleteDBSnapshot'), {
        name: 'AccessDenied',
      }),
    );
    const { logger, lines } = recordingLogger();
    const event = cfnEvent('cfn-create', { TargetRevision: REV.name, Snapshot: { Retain: '1' } });
    const outcome = await runProvider(aws.handler('v1', { logger }), event);
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data).not.toHaveProperty('Note');
    expect(await heads()).toEqual([REV.name]);
    expect(lines.filter((line) => line.message.includes('prune'))).toEqual([
      {
        level: 'warn',
        message: 'could not prune old snapshots',
        extra: { error: expect.stringContaining('not authorized to perform: rds:DeleteDBSnapshot') },
      },
    ]);
  });
});

describe('a background migration in a deploy', () => {
  const stateMachineArn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:MyAppStack-Background';

  /** Step Functions faked: executions start and stop, and nothing runs in them. */
  function stepFunctions() {
    const client = new SFNClient({ region: 'eu-west-1' });
    const mock = mockClient(client);
    mock.on(StartExecutionCommand).callsFake((input) => ({
      executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`,
      startDate: new Date(),
    }));
    mock.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    mock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    return { client, mock };
  }

  function handlerFor(bundle: BackgroundBundle, sfn: SFNClient) {
    return aws.handler('v1', {
      migrationsDir: join(BACKGROUND_DIR, bundle),
      sfn,
      env: {
        SECRET_ARN,
        DB_KIND: 'instance',
        DB_IDENTIFIER,
        AUTH_MODE: 'secret',
        BACKGROUND_STATE_MACHINE_ARN: stateMachineArn,
        BACKGROUND_RANGES: '8',
      },
    });
  }

  const update = (to: BackgroundBundle, from: BackgroundBundle) =>
    cfnEvent(
      'cfn-update',
      { TargetRevision: BACKGROUND_REV[to], ContextArgs: {} },
      { TargetRevision: BACKGROUND_REV[from] },
    );

  it('names the run it started in the answer, and a stack rollback stops its execution before reverting it', async () => {
    const sfn = stepFunctions();
    const created = cfnEvent('cfn-create', { TargetRevision: BACKGROUND_REV.base, ContextArgs: {} });
    expect((await runProvider(handlerFor('base', sfn.client), created)).status).toBe('SUCCESS');
    await connection.db.query(
      `INSERT INTO accounts (email) SELECT 'user' || i || '@example.com' FROM generate_series(1, 1000) AS i`,
    );
    const forward = await runProvider(handlerFor('backfill', sfn.client), update('backfill', 'base'));
    expect(forward.status).toBe('SUCCESS');
    expect(forward.data).toMatchObject({
      Revision: BACKGROUND_REV.backfill,
      BackgroundStarted: BACKGROUND_REV.backfill,
    });
    const started = sfn.mock.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
    expect(started).toHaveLength(1);
    expect(started[0]?.stateMachineArn).toBe(stateMachineArn);
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${started[0]?.name}`;

    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const rollbackEvent = update('base', 'backfill');
    const rollback = await runProvider(handlerFor('backfill', sfn.client), rollbackEvent);
    expect(rollback.status).toBe('SUCCESS');
    expect(rollback.data).toMatchObject({ Revision: BACKGROUND_REV.base, Reverted: '1' });
    expect(rollback.data).not.toHaveProperty('BackgroundStarted');
    expect(sfn.mock.commandCalls(StopExecutionCommand).map((call) => call.args[0].input)).toEqual([
      { executionArn, cause: `reverted by deploy request ${rollbackEvent.RequestId}` },
    ]);
    expect(
      await new BackgroundRuns(new History()).find(connection.db, BACKGROUND_REV.backfill),
    ).toMatchObject({
      state: 'reverted',
    });
    expect(sfn.mock.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  /** The database at the base bundle's head, through `sfn`. */
  async function createdAtBase(sfn: SFNClient): Promise<void> {
    const created = cfnEvent('cfn-create', { TargetRevision: BACKGROUND_REV.base, ContextArgs: {} });
    expect((await runProvider(handlerFor('base', sfn), created)).status).toBe('SUCCESS');
  }

  const runs = () => new BackgroundRuns(new History());

  it('names every background run one deploy started, comma-separated, in its answer', async () => {
    const sfn = stepFunctions();
    await createdAtBase(sfn.client);
    const outcome = await runProvider(handlerFor('refresh', sfn.client), update('refresh', 'base'));
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data.BackgroundStarted).toBe(`${BACKGROUND_REV.backfill},${BACKGROUND_REV.refresh}`);
    expect(sfn.mock.commandCalls(StartExecutionCommand)).toHaveLength(2);
  });

  it('starts no background run in a poll that stops at its deadline, and leaves the deploy to the next poll', async () => {
    const sfn = stepFunctions();
    await createdAtBase(sfn.client);
    await connection.db.query(
      `INSERT INTO accounts (email) SELECT ' user' || i || '@example.com' FROM generate_series(1, 1000) AS i`,
    );
    const handler = handlerFor('refresh', sfn.client);
    const event = cfnEvent('cfn-update', {
      TargetRevision: BACKGROUND_REV.refresh,
      ContextArgs: {},
      Snapshot: { Enabled: 'false' },
    });
    const poll = { ...event, ...((await handler(event, lambdaContext())) as Json) };
    // 20 s of the invocation are kept back: about 1 s to migrate, and trimming 1,000 emails takes 2 s.
    const shortInvocation = { ...lambdaContext(), getRemainingTimeInMillis: () => 21_000 };
    expect(await handler(poll, shortInvocation)).toEqual({ IsComplete: false });
    // The backfill was applied before the stop; its run waits for the deploy to finish.
    expect(await runs().find(connection.db, BACKGROUND_REV.backfill)).toMatchObject({ state: 'pending' });
    expect(sfn.mock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    const deploys = new Deploys(new History());
    expect(await deploys.find(connection.db, event.RequestId as string)).toMatchObject({
      phase: 'migrate',
      finishedAt: undefined,
    });

    const finished = await handler(poll, lambdaContext());
    expect(finished).toMatchObject({
      IsComplete: true,
      Data: { BackgroundStarted: `${BACKGROUND_REV.backfill},${BACKGROUND_REV.refresh}` },
    });
    expect(sfn.mock.commandCalls(StartExecutionCommand)).toHaveLength(2);
    expect(await deploys.find(connection.db, event.RequestId as string)).toMatchObject({
      phase: 'done',
      finishedAt: expect.any(Date),
    });
  });

  it('leaves the background run of an earlier deploy going while a later deploy applies more', async () => {
    const sfn = stepFunctions();
    await createdAtBase(sfn.client);
    const handler = handlerFor('refresh', sfn.client);
    const first = cfnEvent(
      'cfn-update',
      { TargetRevision: BACKGROUND_REV.backfill, ContextArgs: {} },
      { TargetRevision: BACKGROUND_REV.base },
    );
    expect((await runProvider(handler, first)).data.BackgroundStarted).toBe(BACKGROUND_REV.backfill);
    const running = await runs().find(connection.db, BACKGROUND_REV.backfill);
    // The later deploy applies TRIM_REV first, whose id ends with the backfill's.
    const later = await runProvider(
      handler,
      cfnEvent(
        'cfn-update',
        { TargetRevision: BACKGROUND_REV.refresh, ContextArgs: {} },
        first.ResourceProperties as Json,
      ),
    );
    expect(later.status).toBe('SUCCESS');
    expect(later.data.BackgroundStarted).toBe(BACKGROUND_REV.refresh);
    expect(await logRows()).toContain(`up ${TRIM_REV}`);
    expect(sfn.mock.commandCalls(StopExecutionCommand)).toHaveLength(0);
    expect(await runs().find(connection.db, BACKGROUND_REV.backfill)).toEqual(running);
  });
});
