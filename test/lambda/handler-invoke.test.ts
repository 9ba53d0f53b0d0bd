import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import { cfnEvent, type Fakes, fakes, lambdaContext, REV, runProvider } from '../fixtures/handler/harness.ts';
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
    });
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
    expect(actors[0]).toBe('lambda:MyAppStack-DbMigrationsHandler:invoke');
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
