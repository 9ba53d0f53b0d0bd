import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import {
  bundleDir,
  cfnEvent,
  type Fakes,
  fakes,
  lambdaContext,
  REV,
  runProvider,
} from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;
let connection: Connection;
let aws: Fakes;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('test-inspector');
  aws = fakes(database.url);
  const outcome = await runProvider(aws.handler('v1'), cfnEvent('cfn-create', { TargetRevision: REV.name }));
  expect(outcome.status).toBe('SUCCESS');
});
afterEach(async () => {
  await database.drop();
});

/** A manual invoke, as `aws lambda invoke --payload` delivers it, with the answer as its JSON. */
async function invoke(
  payload: Record<string, unknown>,
  bundle: 'v1' | 'v2' = 'v2',
): Promise<Record<string, unknown>> {
  const result = await aws.handler(bundle)(payload, lambdaContext());
  return JSON.parse(JSON.stringify(result)) as Record<string, unknown>;
}

async function invokeError(payload: Record<string, unknown>): Promise<Error> {
  return (await aws
    .handler('v2')(payload, lambdaContext())
    .then(
      () => new Error('expected the invoke to fail'),
      (error: Error) => error,
    )) as Error;
}

describe('manual invoke', () => {
  it('status: current, head, pending, recent history and recent snapshots', async () => {
    const status = await invoke({ action: 'status' });
    expect(status).toMatchObject({
      action: 'status',
      current: [REV.name],
      head: REV.tenant,
      heads: [REV.tenant],
      upToDate: false,
      unknown: [],
      drift: [],
    });
    expect((status.pending as { revision: string }[]).map((step) => step.revision)).toEqual([
      REV.orders,
      REV.tenant,
    ]);
    expect((status.recent as { revision: string }[]).map((row) => row.revision)).toEqual([
      REV.name,
      REV.customers,
    ]);
    const snapshots = status.snapshots as { id: string; state: string; tags: Record<string, string> }[];
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]).toMatchObject({ state: 'available', tags: { 'rds-migrate:to': REV.name } });
  });

  it('status still answers when the snapshots cannot be listed', async () => {
    aws.rdsMock.reset();
    aws.rdsMock.rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDenied' }));
    const status = await invoke({ action: 'status' });
    expect(status.current).toEqual([REV.name]);
    expect(status.snapshots).toEqual([]);
    expect(status.snapshotsError).toContain('AccessDenied');
  });

  it('history: the log, newest first, limited on request', async () => {
    const history = await invoke({ action: 'history', limit: 1 });
    expect(history.action).toBe('history');
    expect(
      (history.entries as { revision: string; direction: string }[]).map(
        (row) => `${row.direction} ${row.revision}`,
      ),
    ).toEqual([`up ${REV.name}`]);
  });

  it('show: one revision, from the bundle, with whether it is applied', async () => {
    const shown = await invoke({ action: 'show', revision: REV.orders.slice(0, 6) });
    expect(shown).toMatchObject({
      action: 'show',
      revision: REV.orders,
      parents: [REV.name],
      message: 'create orders',
      inBundle: true,
      applied: false,
      hasDownStep: true,
    });
    const applied = await invoke({ action: 'show', revision: REV.customers });
    expect(applied).toMatchObject({ applied: true, log: [expect.objectContaining({ direction: 'up' })] });
  });

  it('show: a revision only the history knows', async () => {
    await invoke({ action: 'up', confirm: true }, 'v2');
    const shown = await invoke({ action: 'show', revision: REV.tenant }, 'v1');
    expect(shown).toMatchObject({ revision: REV.tenant, inBundle: false, applied: true, hasDownStep: true });
  });

  it('heads: the bundle heads and the database heads', async () => {
    expect(await invoke({ action: 'heads' })).toEqual({
      action: 'heads',
      heads: [REV.tenant],
      current: [REV.name],
      branchLabels: {},
    });
  });

  it('heads: the branch labels of the bundle heads, as label@head names them', async () => {
    const labelled = await mkdtemp(join(tmpdir(), 'rds-migrate-labelled-'));
    try {
      await cp(bundleDir('v2'), labelled, { recursive: true });
      const head = join(labelled, '202611020930_record_tenant.ts');
      await writeFile(
        head,
        (await readFile(head, 'utf8')).replace(
          "message: 'record tenant',",
          "message: 'record tenant',\n  branchLabels: ['settings'],",
        ),
      );
      const answer = await aws.handler('v2', { migrationsDir: labelled })(
        { action: 'heads' },
        lambdaContext(),
      );
      expect(JSON.parse(JSON.stringify(answer))).toEqual({
        action: 'heads',
        heads: [REV.tenant],
        current: [REV.name],
        branchLabels: { [REV.tenant]: ['settings'] },
      });
    } finally {
      await rm(labelled, { recursive: true, force: true });
    }
  });

  it('refuses up, down and stamp without "confirm": true, changing nothing', async () => {
    for (const action of ['up', 'down', 'stamp']) {
      const error = await invokeError({ action, revision: REV.customers });
      expect(error.message).toContain(`action '${action}' changes the database; add "confirm": true`);
    }
    expect((await new History().read(connection.db)).heads).toEqual([REV.name]);
  });

  it('up, down and stamp with "confirm": true', async () => {
    const up = await invoke({ action: 'up', confirm: true, args: { tenant: 'manual' } });
    expect(up).toMatchObject({ action: 'up', status: 'applied', to: [REV.tenant] });
    const tenant = await connection.db.query(`SELECT value FROM app_settings WHERE key = 'tenant'`);
    expect(tenant.rows).toEqual([{ value: 'manual' }]);
    const down = await invoke({ action: 'down', confirm: true, revision: REV.name });
    expect(down).toMatchObject({ action: 'down', status: 'applied', to: [REV.name] });
    const stamp = await invoke({ action: 'stamp', confirm: true, revision: REV.orders });
    expect(stamp).toMatchObject({ action: 'stamp', status: 'stamped', to: [REV.orders] });
    const actors = (await new History().log(connection.db)).map((row) => row.actor);
    // Who asked: the function, the invocation's request id (CloudTrail's record of the Invoke names the caller).
    expect(actors[0]).toMatch(/^lambda:MyAppStack-DbMigrationsHandler:invoke:[0-9a-f-]{36}$/);
  });

  it('takes a snapshot before up and down, waits for it, and names it in the answer', async () => {
    aws.rds.describesUntilDone = 3;
    aws.rdsMock.resetHistory();
    const up = await invoke({ action: 'up', confirm: true });
    const creates = aws.rdsMock.commandCalls(CreateDBSnapshotCommand);
    expect(creates).toHaveLength(1);
    const snapshotId = creates[0]?.args[0].input.DBSnapshotIdentifier;
    expect(up).toMatchObject({ action: 'up', status: 'applied', snapshotId });
    // It waited: the snapshot was available before anything ran.
    expect(aws.rds.snapshots.get(snapshotId as string)?.status).toBe('available');
    expect(creates[0]?.args[0].input.Tags).toContainEqual({
      Key: 'rds-migrate:by',
      Value: expect.stringMatching(/^lambda:MyAppStack-DbMigrationsHandler:invoke:[0-9a-f-]{36}$/),
    });
    const down = await invoke({ action: 'down', confirm: true, revision: REV.name });
    expect(down.snapshotId).toMatch(/^rds-migrate-app-db-\d{14}$/);
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(2);
  });

  it('takes none with "snapshot": false, for a stamp, or when there is nothing to do', async () => {
    aws.rdsMock.resetHistory();
    expect(await invoke({ action: 'up', confirm: true, revision: REV.name })).toMatchObject({
      status: 'up-to-date',
    });
    expect(await invoke({ action: 'stamp', confirm: true, revision: REV.orders })).toMatchObject({
      status: 'stamped',
    });
    await invoke({ action: 'stamp', confirm: true, revision: REV.name });
    const up = await invoke({ action: 'up', confirm: true, snapshot: false });
    expect(up).toMatchObject({ status: 'applied' });
    expect(up.snapshotId).toBeUndefined();
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
  });

  it('runs nothing when the snapshot outlasts the invocation, and uses it when invoked again with its id', async () => {
    aws.rds.describesUntilDone = 50;
    const shortOnTime = { ...lambdaContext(), getRemainingTimeInMillis: () => 75_000 };
    const error = await aws
      .handler('v2')({ action: 'up', confirm: true }, shortOnTime)
      .then(
        () => new Error('expected the invoke to fail'),
        (thrown: Error) => thrown,
      );
    const snapshotId = aws.rdsMock.commandCalls(CreateDBSnapshotCommand).at(-1)?.args[0].input
      .DBSnapshotIdentifier as string;
    expect(error.message).toContain(`snapshot ${snapshotId} is still being made`);
    expect(error.message).toContain(`invoke again with "snapshotId": "${snapshotId}" once it is available`);
    expect((await new History().read(connection.db)).heads).toEqual([REV.name]);

    aws.rds.describesUntilDone = 0;
    aws.rdsMock.resetHistory();
    const again = await invoke({ action: 'up', confirm: true, snapshotId });
    expect(again).toMatchObject({ status: 'applied', snapshotId });
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
  });

  it('takes relative targets in "revision", counted from the database or from a revision', async () => {
    // The bundle is a chain customers -> name -> orders -> tenant; the database is at name.
    expect(await invoke({ action: 'show', revision: 'head-1' })).toMatchObject({ revision: REV.orders });
    expect(await invoke({ action: 'show', revision: '-1' })).toMatchObject({ revision: REV.customers });
    const up = await invoke({ action: 'up', confirm: true, snapshot: false, revision: '+1' });
    expect(up).toMatchObject({ status: 'applied', to: [REV.orders] });
    const down = await invoke({ action: 'down', confirm: true, snapshot: false, revision: '-1' });
    expect(down).toMatchObject({ status: 'applied', to: [REV.name] });
    const stamp = await invoke({ action: 'stamp', confirm: true, revision: `${REV.customers}+3` });
    expect(stamp).toMatchObject({ status: 'stamped', to: [REV.tenant] });
    const tooFar = await invokeError({ action: 'up', confirm: true, snapshot: false, revision: '+2' });
    expect(tooFar.message).toContain("'+2' goes 2 steps up from");
    expect((await invokeError({ action: 'down', confirm: true, revision: 'x y' })).message).toContain(
      'is not a revision target',
    );
  });

  it('names the purge for a database at a revision the bundle lacks; stamp with "purge": true recovers', async () => {
    expect(await invoke({ action: 'up', confirm: true, snapshot: false })).toMatchObject({
      to: [REV.tenant],
    });
    // The older bundle lacks orders and tenant.
    const up = await aws
      .handler('v1')({ action: 'up', confirm: true }, lambdaContext())
      .then(
        () => new Error('expected the invoke to fail'),
        (error: Error) => error,
      );
    expect(up.message).toContain(
      `the database is at revision ${REV.tenant} (a revision no file in this function's bundle has; ` +
        "a deleted migration, or another branch's)",
    );
    expect(up.message).toContain(`{"action":"stamp","revision":"${REV.name}","purge":true,"confirm":true}`);
    const status = await invoke({ action: 'status' }, 'v1');
    expect(status).toMatchObject({ unknown: [REV.tenant], recoverTo: [REV.name] });

    const notBoolean = await aws
      .handler('v1')({ action: 'stamp', confirm: true, revision: REV.name, purge: 'yes' }, lambdaContext())
      .catch((error: Error) => error);
    expect((notBoolean as Error).message).toContain('"purge" must be true or false');
    const purged = await invoke({ action: 'stamp', confirm: true, revision: REV.name, purge: true }, 'v1');
    expect(purged).toMatchObject({
      action: 'stamp',
      status: 'stamped',
      from: [REV.tenant],
      to: [REV.name],
      purged: [REV.tenant, REV.orders],
    });
    const log = await new History().log(connection.db, 2);
    expect(log.map((row) => [row.revision, row.direction])).toEqual([
      [REV.orders, 'stamp-down'],
      [REV.tenant, 'stamp-down'],
    ]);
    expect(log[0]?.note).toBe(
      `stamp --purge ${REV.tenant} -> ${REV.name} (purged ${REV.tenant}, ${REV.orders})`,
    );
  });

  it('answers an unknown action with the list of valid ones', async () => {
    const error = await invokeError({ action: 'migrate' });
    expect(error.message).toContain("unknown action 'migrate'");
    expect(error.message).toContain('status, history, show, heads, up, down, stamp');
    expect((await invokeError({})).message).toContain('no action');
  });

  it('asks for a revision where one is needed', async () => {
    expect((await invokeError({ action: 'show' })).message).toContain(`action 'show' needs a "revision"`);
    expect((await invokeError({ action: 'show', revision: 'ffffffffffff' })).message).toContain(
      "no migration has revision 'ffffffffffff'",
    );
  });
});
