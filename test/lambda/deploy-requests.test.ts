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
  DB_IDENTIFIER,
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
import { recordingLogger } from '../fixtures/handler/log-lines.ts';
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

/** The snapshot name a deploy starting at the ManualClock's start takes first. */
const FIRST_NAME = 'rds-migrate-app-db-20261125103005';

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

  it('goes on in the poll whose attempt gets the snapshot: one already available is not left for the next poll', async () => {
    aws = fakes(database.url);
    aws.rds.describesUntilDone = 0;
    const clock = new ManualClock();
    aws.rds.databaseStatus = 'modifying';
    const handler = handlerOf('v1', clock);
    const event = cfnEvent('cfn-create', { TargetRevision: REV.name });
    const poll = { ...event, ...((await handler(event, lambdaContext())) as unknown as Json) };
    aws.rds.databaseStatus = 'available';
    clock.advance(30_000);
    expect(await handler(poll, lambdaContext())).toMatchObject({ IsComplete: true });
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(2);
    expect(await heads()).toEqual([REV.name]);
  });

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

  it('fails when the time budget less 5 minutes is spent, its last attempt at that edge, saying what was busy and what to do', async () => {
    aws = fakes(database.url);
    const clock = new ManualClock();
    const { logger, lines } = recordingLogger();
    aws.rds.databaseStatus = 'storage-optimization';
    const handler = timedHandler(aws, 'v1', clock, { DEPLOY_TIMEOUT_SECONDS: '900' }, { logger });
    const outcome = await deployWith(handler, clock, cfnEvent('cfn-create', { TargetRevision: REV.name }));
    expect(outcome.status).toBe('FAILED');
    // Budget 15 min less 5 min kept for the migration: attempts at 0, 30 s, 1.5, 3.5 and 7.5 min
    // (30 s doubling), the next one capped at the 10 minutes' edge, where the deploy gives up.
    const waits = lines.filter((line) => line.message === 'database busy: waiting to take the snapshot');
    expect(waits.filter((line) => 'attempts' in line.extra).map((line) => line.extra)).toEqual(
      ['10:30:35', '10:31:35', '10:33:35', '10:37:35', '10:40:05'].map((at, index) => ({
        snapshotId: 'rds-migrate-app-db-20261125103005',
        busyWith: 'instance status storage-optimization',
        attempts: index + 1,
        nextAttemptAt: `2026-11-25T${at}.000Z`,
      })),
    );
    // The polls in between wait without asking RDS: 19 polls, 4 of them attempts.
    expect(waits.filter((line) => !('attempts' in line.extra))).toHaveLength(15);
    expect(waits.find((line) => !('attempts' in line.extra))?.extra).toEqual({
      snapshotId: 'rds-migrate-app-db-20261125103005',
      busyWith: 'instance status storage-optimization',
      nextAttemptAt: '2026-11-25T10:31:35.000Z',
    });
    expect(outcome.polls).toBe(20);
    expect(
      aws.rdsMock
        .commandCalls(CreateDBSnapshotCommand)
        .map((call) => call.args[0].input.DBSnapshotIdentifier),
    ).toEqual(Array(6).fill('rds-migrate-app-db-20261125103005'));
    expect(outcome.reason).toBe(
      'instance app-db stayed busy for 10 min (instance status storage-optimization), so no snapshot could be ' +
        'taken and nothing was migrated: the database is still at base. Deploy again once it is available (after ' +
        'its backup window or modification), or set snapshot: { enabled: false } on the construct to migrate ' +
        'without a snapshot.',
    );
    expect(await heads()).toEqual([]);
  });

  it('waits 30 s after the first refusal, doubling each time, at most 5 minutes', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 12].map(snapshotBackoffMs)).toEqual([
      30_000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000, 300_000,
    ]);
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

describe('a snapshot name that is taken', () => {
  const names = () =>
    aws.rdsMock.commandCalls(CreateDBSnapshotCommand).map((call) => call.args[0].input.DBSnapshotIdentifier);

  /** A managed snapshot of the database, as another request (or this one) left it. */
  function existing(id: string, requestId: string): void {
    aws.rds.snapshots.set(id, {
      id,
      kind: 'instance',
      of: DB_IDENTIFIER,
      status: 'available',
      describes: 0,
      tags: [
        { Key: 'rds-migrate:managed', Value: 'true' },
        { Key: 'rds-migrate:request', Value: requestId },
      ],
      createdAt: new Date('2026-11-25T10:00:00Z'),
    });
  }

  it('takes the next name when a snapshot made by hand holds it', async () => {
    aws = fakes(database.url);
    aws.rds.seed('instance', FIRST_NAME, new Date('2026-11-25T10:00:00Z'), false);
    const outcome = await deploy(
      'v1',
      new ManualClock(),
      cfnEvent('cfn-create', { TargetRevision: REV.name }),
    );
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data.SnapshotId).toBe(`${FIRST_NAME}-2`);
    expect(names()).toEqual([FIRST_NAME, `${FIRST_NAME}-2`]);
    expect(await heads()).toEqual([REV.name]);
  });

  it("gives up after five names another request's snapshots hold, saying which, with nothing migrated", async () => {
    aws = fakes(database.url);
    const taken = [FIRST_NAME, ...[2, 3, 4, 5].map((sequence) => `${FIRST_NAME}-${sequence}`)];
    for (const id of taken) existing(id, 'another-request');
    const outcome = await deploy(
      'v1',
      new ManualClock(),
      cfnEvent('cfn-create', { TargetRevision: REV.name }),
    );
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toBe(`a snapshot named ${FIRST_NAME}-5 of instance app-db exists already`);
    expect(names()).toEqual(taken);
    expect(await heads()).toEqual([]);
  });

  it("uses the request's own snapshot when RDS took the call that then failed, and the request is delivered again", async () => {
    aws = fakes(database.url);
    const clock = new ManualClock();
    const event = cfnEvent('cfn-create', { TargetRevision: REV.name });
    // An earlier deploy's snapshot is listed first: only the one of the name counts.
    const earlier = 'rds-migrate-app-db-20261124090000';
    existing(earlier, 'an-earlier-request');
    // RDS starts the snapshot, tagged with the request, but the answer never reaches the function.
    aws.rds.answersLost = 1;
    const handler = handlerOf('v1', clock);
    await expect(handler(event, lambdaContext())).rejects.toThrow(/socket hang up/);
    // The framework delivers onEvent again: the snapshot of that name is this request's own.
    const outcome = await deployWith(handler, clock, event);
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data.SnapshotId).toBe(FIRST_NAME);
    expect(names()).toEqual([FIRST_NAME, FIRST_NAME]);
    expect([...aws.rds.snapshots.keys()]).toEqual([earlier, FIRST_NAME]);
    expect(await heads()).toEqual([REV.name]);
  });
});
