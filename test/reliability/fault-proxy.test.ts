/**
 * Connection realities, through a TCP proxy that fails on demand (test/support/fault-proxy.ts):
 * a network path that goes silent mid-run (no FIN, no RST), a connection reset mid-transaction,
 * a first connection that takes seconds (Aurora Serverless resuming from zero). The CLI's `up`
 * and the deployed function's handler each fail within a bound they state, in words that say
 * what happened, and leave a state the next run finishes from. Timeouts are cut to a second or
 * less (the URL's connect_timeout and keepalives_idle; the handler's connectTimeoutMs and
 * silenceMs) so each trial is short.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/session.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import { cfnEvent, fakes, runProvider } from '../fixtures/handler/harness.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts';
import { sleep } from './sessions.ts';

const MIGRATIONS = join(import.meta.dirname, '..', 'fixtures', 'faults');
const FIRST = 'fa0100000001';
const HEAD = 'fa0100000002';
/** The slow step's statement: the trials cut the network while it runs. */
const SLOW_STATEMENT = 'SELECT pg_sleep(0.25)%';

let database: TestDatabase;
/** A session straight to the server, past the proxy: what the trials look at the database with. */
let observer: Connection;
let proxy: FaultProxy;
let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'rds-migrate-faults-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});
beforeEach(async () => {
  database = await freshDatabase();
  observer = await database.connect('fault-observer');
  proxy = await startFaultProxy(database.url);
});
afterEach(async () => {
  await proxy.close();
  await database.drop();
});

/** The database URL through the proxy, with libpq's timeout parameters (seconds). */
function proxiedUrl(parameters: Record<string, string>): string {
  const url = new URL(proxy.url(database.url));
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
  return url.toString();
}

function up(url: string, ...args: string[]): Promise<CliResult> {
  return runCliCaptured(['up', '-d', MIGRATIONS, ...args], {
    env: { DATABASE_URL: url },
    cwd,
  });
}

async function heads(): Promise<readonly string[]> {
  return (await new History().read(observer.db)).heads;
}

async function tableExists(name: string): Promise<boolean> {
  const result = await observer.db.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
    name,
  ]);
  return result.rows[0]?.found !== null;
}

/** Waits until the slow step runs on the server, then lets `fault` happen to the network. */
async function whenSlowStepRuns(fault: () => void): Promise<void> {
  const client = (observer as unknown as { client: pg.Client }).client;
  for (let tries = 0; tries < 400; tries++) {
    const running = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE $2`,
      [database.name, `%${SLOW_STATEMENT}`],
    );
    if (Number(running.rows[0]?.n) > 0) {
      fault();
      return;
    }
    await sleep(10);
  }
  throw new Error('the slow step never ran');
}

/** Sessions of the run still on the server (the proxy keeps a swallowed one open). */
async function serverSessions(): Promise<number> {
  const result = await observer.db.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
    [database.name],
  );
  return Number(result.rows[0]?.n);
}

/** Until the server has ended what a fault left of the run (a backend notices a reset when it next writes). */
async function sessionsEnded(): Promise<void> {
  for (let tries = 0; tries < 300 && (await serverSessions()) > 0; tries++) await sleep(10);
}

/** The route comes back, and the server ends the sessions it swallowed, as keepalives would. */
async function healed(): Promise<void> {
  proxy.heal();
  await sessionsEnded();
}

/** What a failed trial must leave: the plan's one transaction never committed, the history neither. */
async function nothingApplied(): Promise<void> {
  expect(await heads()).toEqual([]);
  expect(await tableExists('items')).toBe(false);
}

const TRIALS = 3;

describe('a network path that goes silent mid-run (blackhole: no FIN, no RST)', () => {
  // keepalives_idle=0.5: a query unanswered for 0.5 s makes the CLI ask the server on a new
  // connection, which gets connect_timeout=0.5 to answer: the run fails about 1 s after the silence.
  const BOUND_MS = 500 + 500 + 1000;
  const SILENT =
    /went silent: no reply for \d\.\d s, and a new connection failed too \(no answer within 0\.5 s\)/;

  it(`up fails within its bound saying the connection went silent, leaving nothing half-applied (${TRIALS} trials); then up finishes`, async () => {
    const url = proxiedUrl({ connect_timeout: '0.5', keepalives_idle: '0.5' });
    for (let trial = 1; trial <= TRIALS; trial++) {
      let cutAt = 0;
      const run = up(url);
      await whenSlowStepRuns(() => {
        proxy.blackhole();
        cutAt = Date.now();
      });
      const failed = await run;
      expect(Date.now() - cutAt).toBeLessThan(BOUND_MS);
      expect(failed.code).toBe(EXIT.failed);
      expect(failed.stderr).toMatch(SILENT);
      expect(failed.stderr).toMatch(/end it with SELECT pg_terminate_backend\(\d+\)/);
      await nothingApplied();
      await healed();
    }
    const again = await up(url);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(EXIT.ok);
    expect(await heads()).toEqual([HEAD]);
  });

  it('a long statement on a healthy network is only slow: the server answers, the run goes on', async () => {
    // keepalives_idle=0.1: the 0.25 s statement is silent long enough to be asked about.
    const result = await up(proxiedUrl({ connect_timeout: '1', keepalives_idle: '0.1' }));
    expect(result.code).toBe(EXIT.ok);
    // The server was asked on a new connection while the statement ran, and answered.
    expect(proxy.applications).toContain('rds-migrate probe');
    expect(await heads()).toEqual([HEAD]);
  });

  it(`the handler fails the deploy within its bound (${TRIALS - 1} trials), and a redeploy finishes`, async () => {
    const handler = fakes(proxy.url(database.url)).handler('v1', {
      migrationsDir: MIGRATIONS,
      connectTimeoutMs: 500,
      silenceMs: 500,
    });
    for (let trial = 1; trial < TRIALS; trial++) {
      let cutAt = 0;
      const deploy = runProvider(handler, cfnEvent('cfn-create', { TargetRevision: HEAD }));
      await whenSlowStepRuns(() => {
        proxy.blackhole();
        cutAt = Date.now();
      });
      const failed = await deploy;
      expect(Date.now() - cutAt).toBeLessThan(BOUND_MS);
      expect(failed.status).toBe('FAILED');
      expect(failed.reason).toMatch(SILENT);
      await nothingApplied();
      await healed();
    }
    const redeploy = await runProvider(handler, cfnEvent('cfn-create', { TargetRevision: HEAD }));
    expect(redeploy.reason).toBeUndefined();
    expect(redeploy.status).toBe('SUCCESS');
    expect(await heads()).toEqual([HEAD]);
  });
});

describe('a connection reset mid-transaction (RST)', () => {
  it(`up fails naming the lost connection, leaving nothing half-applied (${TRIALS} trials); then up finishes`, async () => {
    const url = proxiedUrl({});
    for (let trial = 1; trial <= TRIALS; trial++) {
      const run = up(url);
      await whenSlowStepRuns(() => proxy.reset());
      const failed = await run;
      expect(failed.code).toBe(EXIT.failed);
      expect(failed.stderr).toMatch(/lost the connection to PostgreSQL during up fa0100000002 \(ECONNRESET/);
      await nothingApplied();
      await sessionsEnded();
    }
    const again = await up(url);
    expect(again.code).toBe(EXIT.ok);
    expect(await heads()).toEqual([HEAD]);
    expect(await tableExists('item_notes')).toBe(true);
  });

  it(`the handler fails the deploy (${TRIALS - 1} trials), and a redeploy finishes`, async () => {
    const handler = fakes(proxy.url(database.url)).handler('v1', { migrationsDir: MIGRATIONS });
    for (let trial = 1; trial < TRIALS; trial++) {
      const deploy = runProvider(handler, cfnEvent('cfn-create', { TargetRevision: HEAD }));
      await whenSlowStepRuns(() => proxy.reset());
      const failed = await deploy;
      expect(failed.status).toBe('FAILED');
      expect(failed.reason).toMatch(/lost the connection to PostgreSQL during up fa0100000002/);
      await nothingApplied();
      await sessionsEnded();
    }
    const redeploy = await runProvider(handler, cfnEvent('cfn-create', { TargetRevision: HEAD }));
    expect(redeploy.status).toBe('SUCCESS');
    expect(await heads()).toEqual([HEAD]);
  });
});

describe('a slow first connection (a cluster resuming from zero capacity)', () => {
  it('up waits for it within connect_timeout', async () => {
    proxy.delay(300);
    const result = await up(proxiedUrl({ connect_timeout: '2' }), FIRST);
    expect(result.code).toBe(EXIT.ok);
    expect(await heads()).toEqual([FIRST]);
  });

  it('past connect_timeout, up says there was no answer, why that may be, and what to set', async () => {
    proxy.delay(3000);
    const started = Date.now();
    const result = await up(proxiedUrl({ connect_timeout: '0.5' }));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toContain('no answer within 0.5 s');
    expect(result.stderr).toContain('Aurora Serverless cluster resuming from zero capacity');
    expect(result.stderr).toContain('connect_timeout=<seconds> in the URL');
  });

  it('past its connect timeout, the handler fails the deploy saying there was no answer and why that may be', async () => {
    proxy.delay(3000);
    const failed = await runProvider(
      fakes(proxy.url(database.url)).handler('v1', { migrationsDir: MIGRATIONS, connectTimeoutMs: 500 }),
      cfnEvent('cfn-create', { TargetRevision: HEAD }),
    );
    expect(failed.status).toBe('FAILED');
    expect(failed.reason).toContain('no answer within 0.5 s');
    expect(failed.reason).toContain('Aurora Serverless');
  });
});
