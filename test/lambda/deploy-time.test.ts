/**
 * Deploy time: the snapshot policy (always, when-risky, never) against plans of each kind, the
 * restore point every deploy records, the database's automated backups (on and off), and the
 * hour budget: a snapshot or a migration that will not fit fails the deploy early, with nothing
 * migrated, instead of CloudFormation cutting it off.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
} from '@aws-sdk/client-rds';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreCommands } from '../../lambda/restore.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import { type SnapshotService, snapshotStamp } from '../../lib/engine/snapshot.ts';
import {
  cfnEvent,
  deployWith,
  type Fakes,
  fakes,
  lambdaContext,
  ManualClock,
  timedHandler,
} from '../fixtures/handler/harness.ts';
import { recordingLogger } from '../fixtures/handler/log-lines.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

type Json = Record<string, unknown>;

let database: TestDatabase;
let connection: Connection;
let aws: Fakes;
let bundle: string;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('test-inspector');
  aws = fakes(database.url);
  bundle = mkdtempSync(join(tmpdir(), 'rds-migrate-deploy-time-'));
});
afterEach(async () => {
  rmSync(bundle, { recursive: true, force: true });
  await database.drop();
});

/** A migration file in the test's bundle; each names its parent. */
function migration(
  revision: string,
  parent: string | null,
  up: string,
  options: { down?: string; header?: string } = {},
) {
  writeFileSync(
    join(bundle, `${revision}.sql`),
    `-- revision: ${revision}\n-- down_revision: ${parent ?? 'none'}\n${options.header ?? ''}\n` +
      `-- migrate:up\n${up}\n\n-- migrate:down\n${options.down ?? ''}\n`,
  );
}

const create = (target: string, snapshot: Json) =>
  cfnEvent('cfn-create', { TargetRevision: target, Snapshot: snapshot });

async function deploy(target: string, snapshot: Json, clock = new ManualClock(), env: Json = {}) {
  return deployWith(timedHandler(aws, bundle, clock, env), clock, create(target, snapshot));
}

const snapshotsTaken = () => aws.rdsMock.commandCalls(CreateDBSnapshotCommand).length;

describe('the snapshot policy', () => {
  beforeEach(() => {
    migration('aaaa00000001', null, 'CREATE TABLE accounts (id int PRIMARY KEY, name text)', {
      down: 'DROP TABLE accounts',
    });
  });

  it('always: snapshots an additive plan, and says so in the answer', async () => {
    const outcome = await deploy('aaaa00000001', { Policy: 'always' });
    expect(outcome.status).toBe('SUCCESS');
    expect(snapshotsTaken()).toBe(1);
    expect(outcome.data).toMatchObject({ SnapshotPolicy: 'always', SnapshotReason: 'policy always' });
    expect(outcome.data.SnapshotId).toMatch(/^rds-migrate-app-db-\d{14}$/);
  });

  it('when-risky: takes none for transactional, additive steps, migrating in the first poll', async () => {
    migration('aaaa00000002', 'aaaa00000001', 'ALTER TABLE accounts ADD COLUMN email text', {
      down: 'ALTER TABLE accounts DROP COLUMN email',
    });
    const outcome = await deploy('aaaa00000002', { Policy: 'when-risky' });
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.polls).toBe(1);
    expect(snapshotsTaken()).toBe(0);
    expect(outcome.data).toMatchObject({
      Applied: '2',
      SnapshotId: '',
      SnapshotPolicy: 'when-risky',
      SnapshotReason: 'policy when-risky: every step is transactional and keeps its data',
      BackupRetentionDays: '7',
    });
    expect(outcome.data.RestorePoint).toBe('2026-11-25T10:30:35.000Z');
  });

  it.each([
    [
      'a migration outside a transaction',
      'CREATE INDEX CONCURRENTLY accounts_name ON accounts (name)',
      '-- transaction: false',
      'runs outside a transaction',
    ],
    ['a dropped column', 'ALTER TABLE accounts DROP COLUMN name', '', 'drops a column'],
    [
      'a column type change',
      'ALTER TABLE accounts ALTER COLUMN name TYPE varchar(20)',
      '',
      'changes a column type',
    ],
    ['an UPDATE', "UPDATE accounts SET name = 'x'", '', 'UPDATE'],
    ['a dropped table', 'DROP TABLE accounts', '', 'drops a table'],
    [
      'an irreversible migration',
      'SELECT 1',
      '-- irreversible: it only looks',
      'irreversible (it only looks)',
    ],
  ])('when-risky: snapshots a plan with %s', async (_, up, header, reason) => {
    await deploy('aaaa00000001', { Policy: 'never' });
    aws.rdsMock.resetHistory();
    migration('aaaa00000002', 'aaaa00000001', up, {
      header,
      down: header.includes('irreversible') ? undefined : '',
    });
    const outcome = await deploy('aaaa00000002', { Policy: 'when-risky' });
    expect(outcome.reason).toBeUndefined();
    expect(snapshotsTaken()).toBe(1);
    expect(String(outcome.data.SnapshotReason)).toBe(`policy when-risky: up aaaa00000002 ${reason}`);
  });

  it('when-risky: names the first three risky steps in order, and counts the rest', async () => {
    for (const [revision, parent] of [
      ['aaaa00000002', 'aaaa00000001'],
      ['aaaa00000003', 'aaaa00000002'],
      ['aaaa00000004', 'aaaa00000003'],
      ['aaaa00000005', 'aaaa00000004'],
    ] as const) {
      migration(revision, parent, "UPDATE accounts SET name = 'x'", { down: '' });
    }
    await deploy('aaaa00000001', { Policy: 'never' });
    const three = await deploy('aaaa00000004', { Policy: 'when-risky' });
    expect(three.data.SnapshotReason).toBe(
      'policy when-risky: up aaaa00000002 UPDATE; up aaaa00000003 UPDATE; up aaaa00000004 UPDATE',
    );
    await deploy('aaaa00000001', { Policy: 'never' });
    const four = await deploy('aaaa00000005', { Policy: 'when-risky' });
    expect(four.data.SnapshotReason).toBe(
      'policy when-risky: up aaaa00000002 UPDATE; up aaaa00000003 UPDATE; up aaaa00000004 UPDATE; and 1 more',
    );
    expect(aws.rds.snapshots.size).toBe(2);
  });

  it('when-risky: snapshots a plan with a TypeScript migration, and a downgrade', async () => {
    writeFileSync(
      join(bundle, 'aaaa00000002.ts'),
      "export default { revision: 'aaaa00000002', downRevision: 'aaaa00000001', async up() {}, async down() {} };\n",
    );
    const clock = new ManualClock();
    expect((await deploy('aaaa00000002', { Policy: 'when-risky' }, clock)).data.SnapshotReason).toMatch(
      /up aaaa00000002 TypeScript code, which can change data/,
    );
    const back = await deployWith(
      timedHandler(aws, bundle, clock),
      clock,
      cfnEvent('cfn-update', { TargetRevision: 'aaaa00000001', Snapshot: { Policy: 'when-risky' } }),
    );
    expect(back.data).toMatchObject({ Reverted: '1' });
    expect(back.data.SnapshotReason).toMatch(
      /down aaaa00000002 a down step, which removes what its migration made, TypeScript code/,
    );
    expect(snapshotsTaken()).toBe(2);
  });

  it('never: migrates without a snapshot, automated backups being the restore point', async () => {
    const outcome = await deploy('aaaa00000001', { Policy: 'never' });
    expect(outcome.status).toBe('SUCCESS');
    expect(snapshotsTaken()).toBe(0);
    expect(outcome.data).toMatchObject({ SnapshotPolicy: 'never', SnapshotReason: 'policy never' });
  });

  it.each([['never'], ['when-risky']])(
    'with automated backups off, %s refuses to go on without a restore point',
    async (policy) => {
      aws.rds.backupRetentionPeriod = 0;
      const outcome = await deploy('aaaa00000001', { Policy: policy });
      expect(outcome.status).toBe('FAILED');
      expect(outcome.reason).toBe(
        `instance app-db has automated backups off (BackupRetentionPeriod 0) and the snapshot policy '${policy}' ` +
          'takes no snapshot for this plan, so the deploy would have no restore point; nothing was migrated. ' +
          'Turn on automated backups (backupRetention on the database), or set ' +
          "snapshot: { policy: 'always' } on the construct.",
      );
      expect((await new History().read(connection.db)).heads).toEqual([]);
    },
  );

  it('migrates without the restore point check when the backup retention cannot be read, saying so in the log', async () => {
    aws.rdsMock
      .on(DescribeDBInstancesCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { logger, lines } = recordingLogger();
    const clock = new ManualClock();
    const outcome = await deployWith(
      timedHandler(aws, bundle, clock, {}, { logger }),
      clock,
      create('aaaa00000001', { Policy: 'never' }),
    );
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data).not.toHaveProperty('BackupRetentionDays');
    expect(lines.filter((line) => line.level === 'warn')).toEqual([
      {
        level: 'warn',
        message: 'could not read the backup retention; no restore point check',
        extra: { error: expect.stringContaining('Rate exceeded') },
      },
    ]);
    expect(lines.find((line) => line.message === 'snapshot decision')?.extra).toEqual({
      take: false,
      reason: 'policy never',
      retentionDays: undefined,
    });
  });

  it('with automated backups off, when-risky still deploys a risky plan: its snapshot is the restore point', async () => {
    aws.rds.backupRetentionPeriod = 0;
    migration('aaaa00000002', 'aaaa00000001', 'ALTER TABLE accounts DROP COLUMN name', {
      down: 'ALTER TABLE accounts ADD COLUMN name text',
    });
    const outcome = await deploy('aaaa00000002', { Policy: 'when-risky' });
    expect(outcome.status).toBe('SUCCESS');
    expect(snapshotsTaken()).toBe(1);
    expect(outcome.data).toMatchObject({
      BackupRetentionDays: '0',
      SnapshotReason: 'policy when-risky: up aaaa00000002 drops a column',
    });
  });

  it('with automated backups off, always still deploys: its snapshot is the restore point', async () => {
    aws.rds.backupRetentionPeriod = 0;
    const outcome = await deploy('aaaa00000001', { Policy: 'always' });
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.data).toMatchObject({ BackupRetentionDays: '0' });
  });
});

describe('the snapshot policy matrix: policy x automated backups x forward or rollback', () => {
  beforeEach(() => {
    migration('aaaa00000001', null, 'CREATE TABLE accounts (id int PRIMARY KEY, name text)', {
      down: 'DROP TABLE accounts',
    });
    // Additive up, whose down drops a table with rows: what a stack rollback runs.
    migration('aaaa00000002', 'aaaa00000001', 'CREATE TABLE notes (id int); INSERT INTO notes VALUES (1)', {
      down: 'DROP TABLE notes',
    });
    // Destructive up.
    migration('aaaa00000003', 'aaaa00000002', 'ALTER TABLE accounts DROP COLUMN name', {
      down: 'ALTER TABLE accounts ADD COLUMN name text',
    });
  });

  const update = (target: string, policy: string) =>
    cfnEvent('cfn-update', { TargetRevision: target, Snapshot: { Policy: policy } });

  /** Deploys up to `to` with policy always and backups on, then resets the counts. */
  async function deployedTo(to: string, clock: ManualClock): Promise<void> {
    expect((await deploy('aaaa00000001', { Policy: 'always' }, clock)).status).toBe('SUCCESS');
    if (to !== 'aaaa00000001') {
      const forward = await deployWith(timedHandler(aws, bundle, clock), clock, update(to, 'always'));
      expect(forward.status).toBe('SUCCESS');
    }
    aws.rdsMock.resetHistory();
  }

  const cells = (['always', 'when-risky', 'never'] as const).flatMap((policy) =>
    [7, 0].map((backups) => ({ policy, backups })),
  );

  it.each(cells)(
    'a stack rollback succeeds under $policy with backups $backups, with a restore point',
    async ({ policy, backups }) => {
      const clock = new ManualClock();
      await deployedTo('aaaa00000002', clock);
      aws.rds.backupRetentionPeriod = backups;
      aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
      const rollback = await deployWith(
        timedHandler(aws, bundle, clock),
        clock,
        update('aaaa00000001', policy),
      );
      expect(rollback.status, rollback.reason).toBe('SUCCESS');
      expect((await new History().read(connection.db)).heads).toEqual(['aaaa00000001']);
      // A restore point whatever the cell: a snapshot, or point-in-time recovery with backups on.
      const snapshot = snapshotsTaken() === 1;
      expect(snapshot || backups > 0).toBe(true);
      expect(snapshot).toBe(policy !== 'never' || backups === 0);
    },
  );

  it('a stack rollback under never with backups off says why it takes a snapshot all the same', async () => {
    const clock = new ManualClock();
    await deployedTo('aaaa00000002', clock);
    aws.rds.backupRetentionPeriod = 0;
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const rollback = await deployWith(
      timedHandler(aws, bundle, clock),
      clock,
      update('aaaa00000001', 'never'),
    );
    expect(rollback.data).toMatchObject({
      SnapshotPolicy: 'never',
      SnapshotReason:
        'policy never, but the stack is rolling back and automated backups are off: a snapshot is its restore point',
      BackupRetentionDays: '0',
    });
  });

  it.each(cells)(
    'a forward deploy under $policy with backups $backups: additive, then destructive',
    async ({ policy, backups }) => {
      const clock = new ManualClock();
      await deployedTo('aaaa00000001', clock);
      aws.rds.backupRetentionPeriod = backups;
      const additive = await deployWith(
        timedHandler(aws, bundle, clock),
        clock,
        update('aaaa00000002', policy),
      );
      const snapshotless = policy !== 'always';
      // Forward, a deploy with no restore point is refused before anything runs; the stack then rolls back cleanly.
      expect(additive.status).toBe(snapshotless && backups === 0 ? 'FAILED' : 'SUCCESS');
      if (additive.status === 'FAILED') {
        expect((await new History().read(connection.db)).heads).toEqual(['aaaa00000001']);
        return;
      }
      expect(snapshotsTaken()).toBe(policy === 'always' ? 1 : 0);
      aws.rdsMock.resetHistory();
      const destructive = await deployWith(
        timedHandler(aws, bundle, clock),
        clock,
        update('aaaa00000003', policy),
      );
      expect(destructive.status).toBe(policy === 'never' && backups === 0 ? 'FAILED' : 'SUCCESS');
      expect(snapshotsTaken()).toBe(policy === 'never' ? 0 : 1);
    },
  );
});

describe('a snapshot service that can say neither its progress nor the restore window', () => {
  /** As the demo's copies of a template database: snapshots that are creating for one look, then available. */
  function plainSnapshots(): SnapshotService & { readonly made: string[] } {
    const looks = new Map<string, number>();
    const made: string[] = [];
    return {
      made,
      nameAt: (at, sequence = 1) => `copy_${snapshotStamp(at)}${sequence > 1 ? `_${sequence}` : ''}`,
      create: async (request) => {
        const name = request.name ?? 'copy';
        made.push(name);
        looks.set(name, 0);
        return name;
      },
      state: async (id) => {
        const seen = (looks.get(id) ?? 0) + 1;
        looks.set(id, seen);
        return seen > 1 ? 'available' : 'creating';
      },
      list: async () => [],
      delete: async () => undefined,
    };
  }

  it('waits for the snapshot without a pace, and migrates without a restore point check or a warning', async () => {
    migration('aaaa00000001', null, 'CREATE TABLE accounts (id int PRIMARY KEY)', {
      down: 'DROP TABLE accounts',
    });
    const snapshots = plainSnapshots();
    const { logger, lines } = recordingLogger();
    const clock = new ManualClock();
    const outcome = await deployWith(
      timedHandler(aws, bundle, clock, {}, { logger, snapshots }),
      clock,
      create('aaaa00000001', { Policy: 'always' }),
    );
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.polls).toBe(2);
    expect(snapshots.made).toEqual(['copy_20261125103005']);
    expect(outcome.data.SnapshotId).toBe('copy_20261125103005');
    expect(outcome.data).not.toHaveProperty('BackupRetentionDays');
    expect(lines.filter((line) => line.level !== 'info')).toEqual([]);
    expect(lines.map((line) => line.message)).not.toContain('snapshot progress');
    expect(aws.rdsMock.calls()).toHaveLength(0);
  });
});

describe('the restore point', () => {
  beforeEach(() => {
    migration('aaaa00000001', null, 'CREATE TABLE accounts (id int PRIMARY KEY)', {
      down: 'DROP TABLE accounts',
    });
  });

  it('is recorded just before the first change, after the snapshot wait, in the history', async () => {
    const clock = new ManualClock();
    aws.rds.describesUntilDone = 4;
    const outcome = await deploy('aaaa00000001', { Policy: 'always' }, clock);
    const row = await connection.db.query<{ restore_point_at: Date; started_at: Date }>(
      'SELECT restore_point_at, started_at FROM rds_migrate.deploys',
    );
    const recorded = row.rows[0];
    expect(recorded?.restore_point_at.toISOString()).toBe(outcome.data.RestorePoint);
    // Polls waited for the snapshot; the restore point is the poll that migrated.
    expect(recorded?.restore_point_at.getTime()).toBe(
      recorded?.started_at.getTime() ? recorded.started_at.getTime() + outcome.polls * 30_000 : 0,
    );
  });

  it('and the restore commands are in the status invoke, for an instance', async () => {
    await deploy('aaaa00000001', { Policy: 'never' });
    const status = (await timedHandler(
      aws,
      bundle,
      new ManualClock(),
    )({ action: 'status' }, lambdaContext())) as unknown as Json;
    const [latest] = status.deploys as Json[];
    expect(latest).toMatchObject({ snapshotPolicy: 'never', backupRetentionDays: 7 });
    expect((latest?.restore as Json | undefined)?.pointInTime).toBe(
      'aws rds restore-db-instance-to-point-in-time --source-db-instance-identifier app-db ' +
        '--target-db-instance-identifier app-db-restored --restore-time 2026-11-25T10:30:35Z',
    );
  });

  it('renders the commands for an instance and for an Aurora cluster', () => {
    const at = new Date('2026-11-25T10:30:35.123Z');
    expect(
      restoreCommands({ kind: 'instance', identifier: 'app-db' }, at, 7, 'rds-migrate-app-db-1'),
    ).toEqual({
      pointInTime:
        'aws rds restore-db-instance-to-point-in-time --source-db-instance-identifier app-db ' +
        '--target-db-instance-identifier app-db-restored --restore-time 2026-11-25T10:30:35Z',
      fromSnapshot:
        'aws rds restore-db-instance-from-db-snapshot --db-instance-identifier app-db-restored ' +
        '--db-snapshot-identifier rds-migrate-app-db-1',
    });
    const cluster = restoreCommands({ kind: 'cluster', identifier: 'app' }, at, 1, undefined);
    expect(cluster.pointInTime).toBe(
      'aws rds restore-db-cluster-to-point-in-time --source-db-cluster-identifier app ' +
        '--db-cluster-identifier app-restored --restore-to-time 2026-11-25T10:30:35Z',
    );
    expect(cluster.fromSnapshot).toBeUndefined();
    expect(cluster.afterwards).toContain('aws rds create-db-instance --db-cluster-identifier app-restored');
    // No automated backups: no point-in-time recovery to offer.
    expect(
      restoreCommands({ kind: 'instance', identifier: 'app-db' }, at, 0, undefined).pointInTime,
    ).toBeUndefined();
  });
});

describe('the time budget', () => {
  beforeEach(() => {
    migration('aaaa00000001', null, 'CREATE TABLE accounts (id int PRIMARY KEY)', {
      down: 'DROP TABLE accounts',
    });
  });

  /**
   * The migrations up to `to` ran on this database before, each taking the time given in order, and
   * were reverted since: the database is at base again, its log knowing what they took.
   */
  async function ranBeforeTaking(durationsMs: readonly number[], to = 'aaaa00000001'): Promise<void> {
    const clock = new ManualClock();
    if ((await new History().read(connection.db)).heads.length === 0) {
      expect((await deploy(to, { Policy: 'never' }, clock)).status).toBe('SUCCESS');
    }
    for (const [index, ms] of durationsMs.entries()) {
      await connection.db.query(
        `UPDATE rds_migrate.log SET duration_ms = $1 WHERE revision = $2 AND direction = 'up'`,
        [ms, `aaaa0000000${index + 1}`],
      );
    }
    const back = await deployWith(
      timedHandler(aws, bundle, clock),
      clock,
      cfnEvent('cfn-update', { TargetRevision: 'base', Snapshot: { Policy: 'never' } }),
    );
    expect(back.status).toBe('SUCCESS');
    aws.rdsMock.resetHistory();
  }

  const SNAPSHOT_GOES_ON =
    'The snapshot goes on and is kept: deploy again once it is available, or use ' +
    "snapshot: { policy: 'when-risky' } or 'never' with automated backups, whose restore point costs no wait.";

  it('fails early when the snapshot, at its pace, will not be done in time', async () => {
    aws.rds.describesUntilDone = 400;
    const outcome = await deploy('aaaa00000001', { Policy: 'always' });
    expect(outcome.status).toBe('FAILED');
    // Its first move (0% to 1% in the minute since the first look) is enough to see it will not
    // make it: 99% more at that pace is 99 minutes.
    expect(outcome.polls).toBe(3);
    expect(outcome.reason).toBe(
      "snapshot rds-migrate-app-db-20261125103005 is at 1% and at its pace it needs 99 min more, past what this deploy's " +
        `60 min leaves for it and the migrations; nothing was migrated: the database is still at base. ${SNAPSHOT_GOES_ON}`,
    );
    expect((await new History().read(connection.db)).heads).toEqual([]);
  });

  it('counts the time the steps took when they last ran here against the snapshot, naming it', async () => {
    await ranBeforeTaking([10 * 60_000]);
    aws.rds.describesUntilDone = 400;
    const outcome = await deploy('aaaa00000001', { Policy: 'always' });
    expect(outcome.reason).toBe(
      "snapshot rds-migrate-app-db-20261125103005 is at 1% and at its pace it needs 99 min more, past what this deploy's " +
        '60 min leaves for it and the migrations (which took 10 min when they last ran here); nothing was migrated: ' +
        `the database is still at base. ${SNAPSHOT_GOES_ON}`,
    );
  });

  /** RDS describing the one snapshot of this name, as it does: another name is not found. */
  function describesOnly(name: string, answer: () => { Status: string; PercentProgress: number }): void {
    aws.rdsMock.on(DescribeDBSnapshotsCommand).callsFake((input) => {
      if (input.DBSnapshotIdentifier !== name) {
        throw Object.assign(new Error(`DBSnapshot ${input.DBSnapshotIdentifier} not found.`), {
          name: 'DBSnapshotNotFoundFault',
        });
      }
      return { DBSnapshots: [{ DBSnapshotIdentifier: name, ...answer() }] };
    });
  }

  /** A snapshot RDS reports at 100% while still creating for `looks` looks, available after. */
  function fullWhileCreating(looks: number): () => { Status: string; PercentProgress: number } {
    let looked = 0;
    return () =>
      ++looked > looks
        ? { Status: 'available', PercentProgress: 100 }
        : { Status: 'creating', PercentProgress: 100 };
  }

  it('fails a snapshot that has not moved once the time left is what the migrations need, not before', async () => {
    describesOnly('rds-migrate-app-db-20261125103005', () => ({ Status: 'creating', PercentProgress: 10 }));
    const outcome = await deploy('aaaa00000001', { Policy: 'always' }, new ManualClock(), {
      DEPLOY_TIMEOUT_SECONDS: '300',
    });
    // 5 min less the 2 min kept for the last poll and the answer: the poll at 3 min still waits.
    expect(outcome.polls).toBe(7);
    expect(outcome.reason).toBe(
      "snapshot rds-migrate-app-db-20261125103005 is at 10% and it has not moved, past what this deploy's 5 min " +
        `leaves for it and the migrations; nothing was migrated: the database is still at base. ${SNAPSHOT_GOES_ON}`,
    );
    expect((await new History().read(connection.db)).heads).toEqual([]);
  });

  it('logs each look at the snapshot: its state, its progress and when it will be done, then the time left', async () => {
    aws.rds.describesUntilDone = 4;
    const { logger, lines } = recordingLogger();
    const clock = new ManualClock();
    const outcome = await deployWith(
      timedHandler(aws, bundle, clock, {}, { logger }),
      clock,
      create('aaaa00000001', { Policy: 'always' }),
    );
    expect(outcome.polls).toBe(3);
    const snapshotId = 'rds-migrate-app-db-20261125103005';
    const mustBeDoneBy = '2026-11-25T11:28:05.000Z';
    const watched = new Set([
      'snapshot requested',
      'snapshot state',
      'snapshot progress',
      'time budget before migrating',
    ]);
    expect(
      lines.filter((line) => watched.has(line.message)).map(({ message, extra }) => ({ message, extra })),
    ).toEqual([
      { message: 'snapshot requested', extra: { snapshotId, attempts: 1 } },
      { message: 'snapshot state', extra: { snapshotId, state: 'creating' } },
      // One look tells no pace.
      {
        message: 'snapshot progress',
        extra: { snapshotId, percent: 40, expectedDoneAt: undefined, mustBeDoneBy },
      },
      { message: 'snapshot state', extra: { snapshotId, state: 'creating' } },
      // 40% in the 30 s since: the 20% left takes 15 s more.
      {
        message: 'snapshot progress',
        extra: { snapshotId, percent: 80, expectedDoneAt: '2026-11-25T10:31:20.000Z', mustBeDoneBy },
      },
      { message: 'snapshot state', extra: { snapshotId, state: 'available' } },
      {
        message: 'time budget before migrating',
        extra: {
          leftMs: 3_600_000 - 90_000 - 120_000,
          knownStepsMs: 0,
          stepsNeverRunHere: ['up aaaa00000001'],
        },
      },
    ]);
  });

  it('goes straight to migrating in the poll after one that found the snapshot available and ran out of time', async () => {
    aws.rds.describesUntilDone = 2;
    const clock = new ManualClock();
    const handler = timedHandler(aws, bundle, clock);
    const event = create('aaaa00000001', { Policy: 'always' });
    const poll = { ...event, ...((await handler(event, lambdaContext())) as Json) };
    clock.advance(30_000);
    expect(await handler(poll, lambdaContext())).toEqual({ IsComplete: false });
    clock.advance(30_000);
    const nearlyOut = { ...lambdaContext(), getRemainingTimeInMillis: () => 1_000 };
    expect(await handler(poll, nearlyOut)).toEqual({ IsComplete: false });
    const row = await connection.db.query('SELECT phase FROM rds_migrate.deploys');
    expect(row.rows).toEqual([{ phase: 'migrate' }]);
    expect((await new History().read(connection.db)).heads).toEqual([]);
    aws.rdsMock.resetHistory();
    clock.advance(30_000);
    expect(await handler(poll, lambdaContext())).toMatchObject({ IsComplete: true });
    // The snapshot was available: this poll does not ask RDS about it again.
    expect(aws.rdsMock.calls()).toHaveLength(0);
    expect((await new History().read(connection.db)).heads).toEqual(['aaaa00000001']);
  });

  it('does not time a snapshot RDS reports at 100% while still creating: it is about to be available', async () => {
    // Two looks a poll (its state, then its progress): at 100% from the first, available at the 4th poll.
    describesOnly('rds-migrate-app-db-20261125103005', fullWhileCreating(6));
    const { logger, lines } = recordingLogger();
    const clock = new ManualClock();
    const handler = timedHandler(aws, bundle, clock, {}, { logger });
    const outcome = await deployWith(handler, clock, create('aaaa00000001', { Policy: 'always' }));
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.polls).toBe(4);
    expect(lines.map((line) => line.message)).not.toContain('snapshot progress');
    const row = await connection.db.query('SELECT snapshot_progress FROM rds_migrate.deploys');
    expect(row.rows).toEqual([{ snapshot_progress: null }]);
  });

  it('says the deploy ran out of time, not what steps that never ran here took, when a slow snapshot used it all', async () => {
    // At 100% (so not timed) until the 5 minutes are all but spent: available at the 10th poll.
    describesOnly('rds-migrate-app-db-20261125103005', fullWhileCreating(18));
    const outcome = await deploy('aaaa00000001', { Policy: 'always' }, new ManualClock(), {
      DEPLOY_TIMEOUT_SECONDS: '300',
    });
    expect(outcome.polls).toBe(10);
    expect(outcome.reason).toBe(
      "this deploy's 5 min ran out before its migrations could start (the last 2 min are kept for the answer); " +
        'nothing was migrated: the database is still at base. Deploy again, or raise timeouts.total (at most 1 hour).',
    );
    expect((await new History().read(connection.db)).heads).toEqual([]);
  });

  it('leaves the migrations the time they took when they last ran here, out of what the snapshot may use', async () => {
    await ranBeforeTaking([50 * 60_000]);
    // About 15 minutes at its pace: in time alone, not with the 50 minutes the step took.
    aws.rds.describesUntilDone = 60;
    const outcome = await deploy('aaaa00000001', { Policy: 'always' });
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toMatch(
      /^snapshot rds-migrate-app-db-\d{14} is at \d+% and at its pace it needs \d+ min more, past what this deploy's 60 min leaves for it and the migrations \(which took 50 min when they last ran here\)/,
    );
  });

  // Looks at 30 s and 60 s (two a poll: its state, then its progress); the deploy's 5 min less
  // the 2 min kept leave until 3 min: from 20% to 36% in 30 s, the last 64% take 120 s more.
  it.each([
    [
      'waits for a snapshot whose pace finishes it exactly when the time for it ends (36 at the second look)',
      36,
      'SUCCESS',
    ],
    ['fails a snapshot a step slower than that (35 at the second look)', 35, 'FAILED'],
  ] as const)('%s', async (_what, second, status) => {
    const percents = [20, 20, second, second];
    let looks = 0;
    describesOnly('rds-migrate-app-db-20261125103005', () => {
      const percent = percents[looks++];
      return percent === undefined
        ? { Status: 'available', PercentProgress: 100 }
        : { Status: 'creating', PercentProgress: percent };
    });
    const outcome = await deploy('aaaa00000001', { Policy: 'always' }, new ManualClock(), {
      DEPLOY_TIMEOUT_SECONDS: '300',
    });
    expect(outcome.status).toBe(status);
  });

  it('waits for a snapshot that will be done in time, keeping its last 20 looks at the progress', async () => {
    aws.rds.describesUntilDone = 60;
    const outcome = await deploy('aaaa00000001', { Policy: 'always' });
    expect(outcome.status).toBe('SUCCESS');
    const row = await connection.db.query<{ snapshot_progress: { at: string; percent: number }[] }>(
      'SELECT snapshot_progress FROM rds_migrate.deploys',
    );
    const samples = row.rows[0]?.snapshot_progress ?? [];
    expect(samples).toHaveLength(20);
    expect(samples[0]).toEqual({ at: '2026-11-25T10:35:35.000Z', percent: 36 });
    // Poll 11 to poll 30, the last that found it creating (60 describes, two a poll).
    expect(samples[19]).toEqual({ at: '2026-11-25T10:45:05.000Z', percent: 98 });
  });

  it('migrates a plan that took exactly the time left when it last ran here, and refuses one a millisecond longer', async () => {
    // The first poll migrates, 30 s in: 60 min less those and the 2 min kept for the answer.
    const left = 60 * 60_000 - 30_000 - 2 * 60_000;
    await ranBeforeTaking([left]);
    expect((await deploy('aaaa00000001', { Policy: 'never' })).status).toBe('SUCCESS');
    await ranBeforeTaking([left + 1]);
    const outcome = await deploy('aaaa00000001', { Policy: 'never' });
    expect(outcome.reason).toBe(
      "the plan's migrations took 58 min when they last ran on this database (up aaaa00000001 took 58 min), " +
        'and this deploy has 58 min left of its 60 min; nothing was migrated: the database is still at base. ' +
        'Run the long migration outside the deploy (rds-migrate up, or a background migration), or raise ' +
        'timeouts.total (at most 1 hour).',
    );
  });

  it('names the longest step, the first of two that took as long, and short times in seconds', async () => {
    migration('aaaa00000002', 'aaaa00000001', 'CREATE TABLE b (id int)', { down: 'DROP TABLE b' });
    migration('aaaa00000003', 'aaaa00000002', 'CREATE TABLE c (id int)', { down: 'DROP TABLE c' });
    await ranBeforeTaking([20_000, 60_000, 60_000], 'aaaa00000003');
    // 3 min: 30 s left once the first poll and the 2 min kept are taken off.
    const outcome = await deploy('aaaa00000003', { Policy: 'never' }, new ManualClock(), {
      DEPLOY_TIMEOUT_SECONDS: '180',
    });
    expect(outcome.reason).toBe(
      "the plan's migrations took 2 min when they last ran on this database (up aaaa00000002 took 1 min), " +
        'and this deploy has 30 s left of its 3 min; nothing was migrated: the database is still at base. ' +
        'Run the long migration outside the deploy (rds-migrate up, or a background migration), or raise ' +
        'timeouts.total (at most 1 hour).',
    );
  });

  it('fails early when the plan took longer here before than the deploy has left', async () => {
    // The migration ran here before and took 50 minutes; then it was reverted.
    await deploy('aaaa00000001', { Policy: 'never' });
    await connection.db.query(
      `UPDATE rds_migrate.log SET duration_ms = 50 * 60000 WHERE revision = 'aaaa00000001' AND direction = 'up'`,
    );
    await deployWith(
      timedHandler(aws, bundle, new ManualClock()),
      new ManualClock(),
      cfnEvent('cfn-update', { TargetRevision: 'base', Snapshot: { Policy: 'never' } }),
    );
    const clock = new ManualClock();
    clock.advance(3_600_000);
    const outcome = await deploy('aaaa00000001', { Policy: 'always' }, clock, {
      DEPLOY_TIMEOUT_SECONDS: '2700',
    });
    expect(outcome.status).toBe('FAILED');
    // Said at the first look at the snapshot, not once it is done.
    expect(outcome.polls).toBe(1);
    expect(outcome.reason).toMatch(
      /the plan's migrations took 50 min when they last ran on this database \(up aaaa00000001 took 50 min\), and this deploy has 4\d min left of its 45 min; nothing was migrated/,
    );
    expect((await new History().read(connection.db)).heads).toEqual([]);
  });
});
