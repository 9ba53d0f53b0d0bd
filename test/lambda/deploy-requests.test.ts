/**
 * A deploy request against an RDS that behaves like a real one: one snapshot at a time, unique
 * names, a database that is sometimes busy (a backup, a modification, another snapshot). The
 * request's row in the history makes a second delivery join the first, and a busy database is
 * waited for, poll after poll, until the deploy's time budget says to give up.
 */
import { CreateDBClusterSnapshotCommand, CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Handler } from '../../lambda/handler.ts';
import { snapshotBackoffMs } from '../../lambda/lifecycle.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import type { Clock } from '../../lib/engine/snapshot.ts';
import {
  type BundleName,
  cfnEvent,
  deployWith,
  type Fakes,
  fakes,
  lambdaContext,
  ManualClock,
  type Polled,
  pollUntilDone,
  REV,
  timedHandler,
} from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

type Json = Record<string, unknown>;

let database: TestDatabase;
let connection: Connection;
let aws: Fakes;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('test-inspector');
});
afterEach(async () => {
  await database.drop();
});

function handlerOf(bundle: BundleName, clock: Clock, env: Json = {}): Handler {
  aws = aws ?? fakes(database.url);
  return timedHandler(aws, bundle, clock, env);
}

async function deploy(bundle: BundleName, clock: ManualClock, event: Json, env: Json = {}): Promise<Polled> {
  return deployWith(handlerOf(bundle, clock, env), clock, event);
}

async function heads(): Promise<readonly string[]> {
  return (await new History().read(connection.db)).heads;
}

async function logRows(): Promise<string[]> {
  return (await new History().log(connection.db)).map((row) => `${row.direction} ${row.revision}`).reverse();
}

describe('the same request delivered twice', () => {
  it('joins the first delivery during a stack rollback: one snapshot, one run', async () => {
    aws = fakes(database.url);
    aws.rds.describesUntilDone = 3;
    const clock = new ManualClock();
    expect((await deploy('v1', clock, cfnEvent('cfn-create', { TargetRevision: REV.name }))).status).toBe(
      'SUCCESS',
    );
    expect(
      (
        await deploy(
          'v2',
          clock,
          cfnEvent('cfn-update', { TargetRevision: REV.tenant }, { TargetRevision: REV.name }),
        )
      ).status,
    ).toBe('SUCCESS');
    aws.rdsMock.resetHistory();

    // The stack rolls back; the previous bundle (v1) gets the rollback Update, twice.
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const rollback = cfnEvent(
      'cfn-rollback-update',
      { TargetRevision: REV.name },
      { TargetRevision: REV.tenant },
    );
    const first = handlerOf('v1', clock);
    const firstResult = (await first(rollback, lambdaContext())) as unknown as Json;
    clock.advance(1000);
    const second = handlerOf('v1', clock);
    const secondResult = (await second(rollback, lambdaContext())) as unknown as Json;
    expect(secondResult).toEqual(firstResult);
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(1);

    // Both waiters poll; both answer the same deploy, and each revision is reverted once.
    const [one, two] = await Promise.all([
      pollUntilDone(first, clock, rollback, firstResult),
      pollUntilDone(second, clock, rollback, secondResult),
    ]);
    expect(one.status).toBe('SUCCESS');
    expect(two.status).toBe('SUCCESS');
    expect(one.data).toMatchObject({ Revision: REV.name, Reverted: '2', Applied: '0' });
    expect(two.data).toMatchObject({ Revision: REV.name, Reverted: '2', Applied: '0' });
    expect(await heads()).toEqual([REV.name]);
    expect((await logRows()).filter((row) => row.startsWith('down'))).toEqual([
      `down ${REV.tenant}`,
      `down ${REV.orders}`,
    ]);
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(1);
  });
});

describe('a database busy when the deploy wants its snapshot', () => {
  for (const busy of ['backing-up', 'modifying', 'storage-optimization']) {
    it(`waits while the instance is ${busy}, with backoff, then snapshots and migrates`, async () => {
      aws = fakes(database.url);
      const clock = new ManualClock();
      aws.rds.databaseStatus = busy;
      const handler = handlerOf('v1', clock);
      const event = cfnEvent('cfn-create', { TargetRevision: REV.name });
      const onEventResult = (await handler(event, lambdaContext())) as unknown as Json;
      expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(1);
      const row = await connection.db.query(
        'SELECT phase, waiting_for, snapshot_attempts FROM rds_migrate.deploys',
      );
      expect(row.rows).toEqual([
        { phase: 'snapshot-pending', waiting_for: `instance status ${busy}`, snapshot_attempts: 1 },
      ]);

      // Five polls (2.5 min) busy: the attempts follow the backoff (30 s, 60 s, 120 s), no more.
      const poll = { ...event, ...onEventResult };
      for (let i = 0; i < 5; i++) {
        clock.advance(30_000);
        expect(await handler(poll, lambdaContext())).toEqual({ IsComplete: false });
      }
      expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(3);
      expect(snapshotBackoffMs(1) + snapshotBackoffMs(2)).toBeLessThanOrEqual(150_000);

      aws.rds.databaseStatus = 'available';
      const outcome = await pollUntilDone(handler, clock, event, onEventResult);
      expect(outcome.status).toBe('SUCCESS');
      expect(outcome.data).toMatchObject({ Revision: REV.name, Applied: '2' });
      expect(outcome.data.SnapshotId).toMatch(/^rds-migrate-app-db-\d{14}$/);
      expect(await heads()).toEqual([REV.name]);
    });
  }

  it('waits for a snapshot someone else is taking, then takes its own', async () => {
    aws = fakes(database.url);
    aws.rds.describesUntilDone = 4;
    const clock = new ManualClock();
    aws.rds.startedByHand('instance', 'by-hand');
    const outcome = await deploy('v1', clock, cfnEvent('cfn-create', { TargetRevision: REV.name }));
    expect(outcome.reason).toBeUndefined();
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data.SnapshotId).not.toBe('by-hand');
    expect(await heads()).toEqual([REV.name]);
  });

  it('fails before the time budget runs out, saying what was busy and what to do', async () => {
    aws = fakes(database.url);
    const clock = new ManualClock();
    aws.rds.databaseStatus = 'storage-optimization';
    const outcome = await deploy('v1', clock, cfnEvent('cfn-create', { TargetRevision: REV.name }), {
      DEPLOY_TIMEOUT_SECONDS: '900',
    });
    expect(outcome.status).toBe('FAILED');
    // Budget 15 min less 5 min kept for the migration: it gives up after about 10 minutes.
    expect(outcome.polls).toBeGreaterThanOrEqual(18);
    expect(outcome.polls).toBeLessThanOrEqual(22);
    expect(outcome.reason).toMatch(
      /instance app-db stayed busy for 1\d min \(instance status storage-optimization\), so no snapshot could be taken and nothing was migrated: the database is still at base\. Deploy again once it is available/,
    );
    expect(await heads()).toEqual([]);
  });

  it('waits for an Aurora cluster that is busy too', async () => {
    aws = fakes(database.url);
    const clock = new ManualClock();
    aws.rds.databaseStatus = 'backing-up';
    const handler = handlerOf('v1', clock, { DB_KIND: 'cluster', DB_IDENTIFIER: 'app-cluster' });
    const event = cfnEvent('cfn-create', { TargetRevision: REV.name });
    const onEventResult = (await handler(event, lambdaContext())) as unknown as Json;
    // The framework delivers the request again: it joins the first, which waits out its backoff.
    expect(await handler(event, lambdaContext())).toEqual(onEventResult);
    expect(aws.rdsMock.commandCalls(CreateDBClusterSnapshotCommand)).toHaveLength(1);
    clock.advance(30_000);
    expect(await handler({ ...event, ...onEventResult }, lambdaContext())).toEqual({ IsComplete: false });
    aws.rds.databaseStatus = 'available';
    const outcome = await pollUntilDone(handler, clock, event, onEventResult);
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data.SnapshotId).toMatch(/^rds-migrate-app-cluster-\d{14}$/);
    expect(aws.rdsMock.commandCalls(CreateDBClusterSnapshotCommand).length).toBeGreaterThanOrEqual(2);
  });
});
