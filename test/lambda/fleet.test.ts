/**
 * A fleet deploy end to end: the rollout state machine `cdk synth` writes, executed by a real ASL
 * interpreter (aws-local-stepfunctions) whose tasks call the real fleet handler. AWS is faked: RDS,
 * Secrets Manager, SSM, CloudFormation and the Step Functions API.
 *
 * Two fleets on the embedded server. Five tenant databases (one an instance of its own with
 * snapshots, four databases of one shared server, the last two of them listed in an SSM parameter
 * read at deploy time) walk through every behaviour one small step at a time. Fifty databases of
 * one server (the shared-server target kind) then take the rollouts at the size: a failing
 * canary, calls killed mid-migration in a wave, a tolerated failure, and a stack rollback.
 */
import { join } from 'node:path';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Handler } from '../../lambda/handler.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { FUNCTION_ENV } from '../../lib/engine/function-contract.ts';
import { History } from '../../lib/engine/history.ts';
import {
  LocalFleet,
  LocalRollouts,
  STATE_MACHINE_ARN,
  synthesizedDefinition,
} from '../fixtures/fleet/rollouts.ts';
import {
  cfnEvent,
  type Fakes,
  fakes,
  lambdaContext,
  runProvider,
  secretFor,
} from '../fixtures/handler/harness.ts';
import { runCliCaptured } from '../support/cli.ts';
import { freshDatabase, TEST_DATABASE_STRATEGY, type TestDatabase } from '../support/database.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fleet');
const REV = { v1: 'f1ee70000001', v2: 'f1ee70000002', v3: 'f1ee70000003', v4: 'f1ee70000004' } as const;
type Bundle = keyof typeof REV;
const OWN_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenant-a-AbCdEf';
const SHARED_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared-AbCdEf';
/** Stages: a canary of one; a wave of 40% one at a time, stopping at its first failure; the rest two at a time, tolerating one. */
const STAGES = [
  { name: 'canary', targets: 1 },
  { name: 'wave', percent: 40, maxConcurrency: 1 },
  { name: 'rest', maxConcurrency: 2, toleratedFailures: 1 },
];

// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template and ASL read back as JSON
type Json = Record<string, any>;

interface Tenant {
  readonly name: string;
  readonly database: TestDatabase;
  readonly connection: Connection;
  /** As the custom resource's properties list it. */
  readonly property: Json;
}

let definition: Json;
let tenants: Tenant[];
let aws: Fakes;
let rollouts: LocalRollouts;
let bundle: Bundle = 'v1';

const handlers = new Map<Bundle, Handler>();
/** The fleet function on the current bundle: one per bundle, as a warm container keeps it. */
function fleetHandler(): Handler {
  let handler = handlers.get(bundle);
  if (!handler) {
    handler = aws.handler('v1', {
      migrationsDir: join(FIXTURES, bundle),
      sfn: rollouts.client,
      env: {
        [FUNCTION_ENV.fleetStateMachineArn]: STATE_MACHINE_ARN,
        [FUNCTION_ENV.deployTimeoutSeconds]: '3600',
      },
    });
    handlers.set(bundle, handler);
  }
  return handler;
}

/** The tenants listed in the SSM parameter rather than in the properties: read at every deploy and rollback. */
const LISTED = 2;
const TENANT_LIST = '/fleet/tenants';

function fleetProperties(target: Bundle): Json {
  return {
    TargetRevision: REV[target],
    Snapshot: { Enabled: 'true', Policy: 'always' },
    ContextArgs: {},
    Targets: tenants.slice(0, -LISTED).map((tenant) => tenant.property),
    Sources: [{ Type: 'parameter', Name: TENANT_LIST, Servers: ['shared'] }],
    Rollout: {
      Stages: STAGES.map((stage) => ({
        Name: stage.name,
        ...(stage.targets ? { Count: String(stage.targets) } : {}),
        ...(stage.percent ? { Percent: String(stage.percent) } : {}),
        ToleratedFailures: String(stage.toleratedFailures ?? 0),
        ToleratedFailurePercent: '0',
      })),
    },
  };
}

/** One request as the Provider framework runs it, the rollout's execution finishing before the poll. */
async function deploy(event: Json) {
  const onEvent = (await fleetHandler()(event, lambdaContext())) as unknown as Json;
  await rollouts.latest().done;
  return runProvider(fleetHandler(), { ...event, ...onEvent }, 1);
}

async function revisions(): Promise<Record<string, string>> {
  const history = new History();
  const entries = await Promise.all(
    tenants.map(async (tenant) => [
      tenant.name,
      (await history.read(tenant.connection.db)).heads.join('+') || 'base',
    ]),
  );
  return Object.fromEntries(entries);
}

/** A table the fixture migration refuses to run beside: `poison` fails v2's, `poison3` v3's. */
async function poison(tenant: Tenant, on: boolean, table = 'poison'): Promise<void> {
  await tenant.connection.db.query(on ? `CREATE TABLE ${table} (id int)` : `DROP TABLE ${table}`);
}

beforeAll(async () => {
  definition = synthesizedDefinition(STAGES);
  const databases = await Promise.all([0, 1, 2, 3, 4].map(() => freshDatabase()));
  const [own, ...shared] = databases as [TestDatabase, ...TestDatabase[]];
  aws = fakes(own.url);
  aws.secretsMock
    .on(GetSecretValueCommand, { SecretId: OWN_SECRET })
    .resolves({ SecretString: secretFor(own.url) });
  // The shared server's secret names its postgres database; each tenant target names its own.
  const admin = own.url.replace(/\/[^/]+$/, '/postgres');
  aws.secretsMock
    .on(GetSecretValueCommand, { SecretId: SHARED_SECRET })
    .resolves({ SecretString: secretFor(admin) });
  tenants = await Promise.all(
    databases.map(async (database, index) => ({
      name: `tenant-${'abcde'[index]}`,
      database,
      connection: await database.connect(),
      property:
        index === 0
          ? { Name: 'tenant-a', Kind: 'instance', Identifier: 'tenant-a-db', SecretArn: OWN_SECRET }
          : {
              Name: `tenant-${'abcde'[index]}`,
              Kind: 'instance',
              Identifier: 'shared',
              SecretArn: SHARED_SECRET,
              Database: database.name,
            },
    })),
  );
  expect(shared).toHaveLength(4);
  const listed = tenants.slice(-LISTED).map((tenant) => ({
    name: tenant.property.Name,
    instance: tenant.property.Identifier,
    database: tenant.property.Database,
    secret: tenant.property.SecretArn,
  }));
  mockClient(SSMClient)
    .on(GetParameterCommand, { Name: TENANT_LIST })
    .resolves({ Parameter: { Value: JSON.stringify(listed) } });
  rollouts = new LocalRollouts(definition, fleetHandler);
}, 60_000);

afterAll(async () => {
  await Promise.all((tenants ?? []).map((tenant) => tenant.database.drop()));
});

describe('a fleet deploy on the rollout state machine', () => {
  it('rolls the first deploy out stage by stage: the canary first, then the wave one at a time, then the rest', async () => {
    bundle = 'v1';
    const outcome = await deploy(cfnEvent('cfn-create', fleetProperties('v1')));
    expect(outcome.status, outcome.reason).toBe('SUCCESS');
    expect(outcome.data).toMatchObject({ Revision: REV.v1, Targets: '5', Moved: '5' });
    expect(await revisions()).toEqual({
      'tenant-a': REV.v1,
      'tenant-b': REV.v1,
      'tenant-c': REV.v1,
      'tenant-d': REV.v1,
      'tenant-e': REV.v1,
    });
    const starts = rollouts.calls.filter((call) => call.includes('start target'));
    expect(starts.slice(0, 3)).toEqual([
      'canary: start target tenant-a',
      'wave: start target tenant-b',
      'wave: start target tenant-c',
    ]);
    // The instance of its own was snapshotted first; the shared server never (its restore point is PITR).
    expect([...aws.rds.snapshots.values()].map((snapshot) => snapshot.of)).toEqual(['tenant-a-db']);
  });

  it('stops the rollout at the first failure in a wave, naming the target, and leaves the later targets untouched', async () => {
    bundle = 'v2';
    await poison(tenants[2] as Tenant, true);
    const before = rollouts.calls.length;
    const outcome = await deploy(cfnEvent('cfn-update', fleetProperties('v2'), fleetProperties('v1')));
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toMatch(
      /^fleet rollout failed: target tenant-c: .*tenant data the migration cannot take/,
    );
    expect(await revisions()).toEqual({
      'tenant-a': REV.v2,
      'tenant-b': REV.v2,
      'tenant-c': REV.v1,
      'tenant-d': REV.v1,
      'tenant-e': REV.v1,
    });
    // The rest stage never started: none of its targets was even asked.
    expect(rollouts.calls.slice(before).filter((call) => call.startsWith('rest:'))).toEqual([]);
    expect(rollouts.calls.slice(before).at(-1)).toBe('wave: poll target tenant-c');
  });

  it('reverts exactly the targets that moved when the stack rolls back, with the old code', async () => {
    bundle = 'v1';
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const logBefore = await Promise.all(
      tenants.map((tenant) =>
        tenant.connection.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rds_migrate.log'),
      ),
    );
    const outcome = await deploy(cfnEvent('cfn-update', fleetProperties('v1'), fleetProperties('v2')));
    aws.stackStatus = 'UPDATE_IN_PROGRESS';
    expect(outcome.status, outcome.reason).toBe('SUCCESS');
    expect(outcome.data).toMatchObject({ Targets: '5', Moved: '2', MovedTargets: 'tenant-a,tenant-b' });
    expect(Object.values(await revisions())).toEqual([REV.v1, REV.v1, REV.v1, REV.v1, REV.v1]);
    const logAfter = await Promise.all(
      tenants.map((tenant) =>
        tenant.connection.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rds_migrate.log'),
      ),
    );
    const written = logAfter.map(
      (after, index) => Number(after.rows[0]?.n) - Number((logBefore[index] as typeof after).rows[0]?.n),
    );
    expect(written).toEqual([1, 1, 0, 0, 0]);
  });

  it('goes on past a failing target in a stage that tolerates one, and names it', async () => {
    bundle = 'v2';
    await poison(tenants[2] as Tenant, false);
    await poison(tenants[4] as Tenant, true);
    const outcome = await deploy(cfnEvent('cfn-update', fleetProperties('v2'), fleetProperties('v1')));
    expect(outcome.status, outcome.reason).toBe('SUCCESS');
    expect(outcome.data).toMatchObject({ Moved: '4', ToleratedFailures: 'tenant-e' });
    expect(Object.values(await revisions())).toEqual([REV.v2, REV.v2, REV.v2, REV.v2, REV.v1]);
  });

  it('answers the status invoke per target, naming the one behind', async () => {
    const status = (await fleetHandler()({ action: 'status' }, lambdaContext())) as unknown as Json;
    expect(status.fleet).toBe(true);
    expect(status.targets.map((target: Json) => [target.name, target.current, target.pending])).toEqual([
      ['tenant-a', [REV.v2], 0],
      ['tenant-b', [REV.v2], 0],
      ['tenant-c', [REV.v2], 0],
      ['tenant-d', [REV.v2], 0],
      ['tenant-e', [REV.v1], 1],
    ]);
    expect(status.behind).toEqual(['tenant-e']);
    const one = (await fleetHandler()(
      { action: 'status', target: 'tenant-e' },
      lambdaContext(),
    )) as unknown as Json;
    expect(one).toMatchObject({ target: 'tenant-e', current: [REV.v1], upToDate: false });
  });

  it('rds-migrate fleet status reads the same fleet locally: who is behind, ahead, unreachable, without a password', async () => {
    const urls = tenants.map((tenant) => `${tenant.name}=${tenant.database.url}`);
    const nowhere = 'postgres://app:s3cret-pw@127.0.0.1:1/gone?connect_timeout=2';
    const cli = (bundle: Bundle, ...argv: string[]) =>
      runCliCaptured(['-d', join(FIXTURES, bundle), 'fleet', 'status', ...argv], {
        env: {},
        cwd: FIXTURES,
      });
    const onV2 = await cli('v2', ...urls, '--json');
    expect(onV2.code, onV2.stderr).toBe(0);
    const report = JSON.parse(onV2.stdout) as Json;
    expect(report).toMatchObject({
      heads: [REV.v2],
      upToDate: ['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d'],
      behind: ['tenant-e'],
      ahead: [],
      drifted: [],
      unreachable: [],
    });
    expect(report.targets[4]).toMatchObject({ name: 'tenant-e', current: [REV.v1], pending: [REV.v2] });
    expect(report.targets[0].lastRun).toMatchObject({ revision: REV.v2, direction: 'up' });
    // Against the older folder the moved targets are ahead; a server that does not answer is named, and fails the command.
    const onV1 = await cli('v1', '--concurrency', '2', ...urls, `ghost=${nowhere}`);
    expect(onV1.code).toBe(1);
    expect(onV1.stdout).toMatch(/^tenant-a +f1ee70000002 +ahead: f1ee70000002 not in this folder/m);
    expect(onV1.stdout).toMatch(/^tenant-e +f1ee70000001 +up to date$/m);
    expect(onV1.stdout).toMatch(
      /^ghost +- +unreachable: cannot connect to PostgreSQL at app@127\.0\.0\.1:1\/gone: connect ECONNREFUSED/m,
    );
    expect(onV1.stdout).toContain('ahead        tenant-a, tenant-b, tenant-c, tenant-d');
    expect(onV1.stderr).toContain('1 of 6 targets need attention (unreachable: ghost)');
    expect(onV1.stdout + onV1.stderr).not.toContain('s3cret-pw');
  });

  it('never brings forward, in a rollback, a target an earlier deploy left behind', async () => {
    // tenant-e stayed at v1 when its failure was tolerated; a v3 deploy then fails in the wave.
    bundle = 'v3';
    await poison(tenants[1] as Tenant, true, 'poison3');
    const failed = await deploy(cfnEvent('cfn-update', fleetProperties('v3'), fleetProperties('v2')));
    expect(failed.reason).toMatch(/^fleet rollout failed: target tenant-b: /);
    bundle = 'v2';
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const outcome = await deploy(cfnEvent('cfn-update', fleetProperties('v2'), fleetProperties('v3')));
    aws.stackStatus = 'UPDATE_IN_PROGRESS';
    expect(outcome.status, outcome.reason).toBe('SUCCESS');
    expect(outcome.data).toMatchObject({ Moved: '1', MovedTargets: 'tenant-a' });
    expect(Object.values(await revisions())).toEqual([REV.v2, REV.v2, REV.v2, REV.v2, REV.v1]);
  });

  it('applies a background migration on every target and says, naming each, that its run waits unstarted', async () => {
    bundle = 'v4';
    await poison(tenants[1] as Tenant, false, 'poison3');
    await poison(tenants[4] as Tenant, false);
    const outcome = await deploy(cfnEvent('cfn-update', fleetProperties('v4'), fleetProperties('v2')));
    expect(outcome.status, outcome.reason).toBe('SUCCESS');
    expect(outcome.data).toMatchObject({
      Moved: '5',
      BackgroundNotStarted: tenants.map((tenant) => `${tenant.name}:${REV.v4}`).join(','),
    });
    const status = (await fleetHandler()({ action: 'status' }, lambdaContext())) as unknown as Json;
    expect(status.targets.map((target: Json) => target.background)).toEqual([1, 1, 1, 1, 1]);
  });
});

/**
 * The fleet of the size: fifty databases of one server, in three stages. Its first
 * deploy (a Create to v2: the v1 and v2 migrations in one transaction per target) fails at the
 * canary; the next goes through with two calls of the wave killed mid-migration and a failure the
 * last stage tolerates. An Update to v3 then fails at the wave's last target and the stack rolls
 * back: only the targets that moved are reverted. The same fifty databases throughout, so npm test
 * creates them once; the SSM list, snapshots and the status invoke are shown on the five above.
 */
const FIFTY = 50;
/** A database of the fifty: its revision, and its history's rows counted by `<direction> <revision>`. */
interface Standing {
  readonly at: string;
  readonly log: Record<string, number>;
}
const FIFTY_STAGES = [
  { name: 'canary', targets: 1 },
  { name: 'wave', percent: 40, maxConcurrency: 8 },
  { name: 'rest', maxConcurrency: 16, toleratedFailures: 1 },
];

describe(`a fleet of ${FIFTY} databases of one server`, () => {
  const adminUrl = () => inject('postgresAdminUrl');
  const urlOf = (database: string) => adminUrl().replace(/\/postgres$/, `/${database}`);
  const prefix = `fleet50_${Math.random().toString(16).slice(2, 8)}`;
  const names = Array.from({ length: FIFTY }, (_, index) => `${prefix}_${String(index).padStart(2, '0')}`);
  const sessions = new Map<string, pg.Client>();
  let fleet: LocalFleet;
  /** The canary; two targets of the wave whose calls are killed; one of the last stage that fails. */
  const canary = names[0] as string;
  const killed = [names[3] as string, names[9] as string];
  const tolerated = names[FIFTY - 5] as string;
  /** The wave's targets: 40% of the fleet, after the canary. */
  const wave = names.slice(1, 1 + Math.ceil((FIFTY * 40) / 100));

  /** A session on one database of the fleet, kept for the describe. */
  async function on(database: string): Promise<pg.Client> {
    let client = sessions.get(database);
    if (!client) {
      client = new pg.Client({ connectionString: urlOf(database) });
      await client.connect();
      sessions.set(database, client);
    }
    return client;
  }

  /** Per database: its revision ('none' without a history at all), and its history's rows counted by `<direction> <revision>`. */
  async function databases(): Promise<Record<string, Standing>> {
    const found: Record<string, Standing> = {};
    for (const name of names) {
      const client = await on(name);
      if (!(await client.query(`SELECT to_regclass('rds_migrate.log') AS log`)).rows[0]?.log) {
        found[name] = { at: 'none', log: {} };
        continue;
      }
      const heads = await client.query<{ revision: string }>('SELECT revision FROM rds_migrate.heads');
      const log = await client.query<{ key: string; n: number }>(
        `SELECT direction || ' ' || revision AS key, count(*)::int AS n FROM rds_migrate.log GROUP BY 1 ORDER BY 1`,
      );
      found[name] = {
        at: heads.rows.map((row) => row.revision).join('+') || 'base',
        log: Object.fromEntries(log.rows.map((row) => [row.key, row.n])),
      };
    }
    return found;
  }

  /** `from`, with each of `moved` at `at` and one history row `row` more; every other database as it was. */
  function onlyMoved(from: Record<string, Standing>, moved: readonly string[], at: string, row: string) {
    return Object.fromEntries(
      names.map((name) => {
        const was = from[name] as Standing;
        return [name, moved.includes(name) ? { at, log: { ...was.log, [row]: 1 } } : was];
      }),
    );
  }

  /**
   * Kills the first call of each of `victims` that starts their migration: a session here holds an
   * uncommitted CREATE TABLE accounts, so the migration's own waits on it, inside its transaction;
   * the call's sessions are then ended, as when the process dies, and its answer is lost
   * (Lambda.Unknown), so the state machine makes the call again. `killed`: the calls killed, as
   * `<state> <database>`.
   */
  async function killMidMigration(
    victims: readonly string[],
  ): Promise<{ killed: string[]; release(): Promise<void> }> {
    const holders = new Map<string, pg.Client>();
    for (const name of victims) {
      const holder = new pg.Client({ connectionString: urlOf(name) });
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('CREATE TABLE accounts (id int)');
      holders.set(name, holder);
    }
    const done: string[] = [];
    const probe = new pg.Client({ connectionString: adminUrl() });
    await probe.connect();
    fleet.rollouts.around = async (state, task, call) => {
      const database = String(task.RdsMigrateFleet?.target?.Database ?? '');
      const holder = holders.get(database);
      if (!holder || done.some((made) => made.endsWith(` ${database}`))) return call();
      const answer = call();
      let answered = false;
      const running = answer.then(
        () => {
          answered = true;
        },
        () => {
          answered = true;
        },
      );
      // Until the call's migration waits on the holder (then killed), or the call answers without migrating.
      while (!answered) {
        const waiting = await probe.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rds-migrate lambda' AND wait_event_type = 'Lock'`,
          [database],
        );
        if (waiting.rowCount) break;
        await new Promise((resume) => setTimeout(resume, 10));
      }
      if (answered) return answer;
      await probe.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rds-migrate lambda'`,
        [database],
      );
      await running;
      await holder.query('ROLLBACK');
      done.push(`${state} ${database}`);
      throw Object.assign(new Error(`killed ${state} of ${database}`), { name: 'Lambda.Unknown' });
    };
    return {
      killed: done,
      release: async () => {
        fleet.rollouts.around = (_state, _task, call) => call();
        await Promise.all([...holders.values(), probe].map((client) => client.end()));
      },
    };
  }

  /** `work` on every name, four admin sessions at once (CREATE and DROP DATABASE each wait on a checkpoint). */
  async function inParallel(
    all: readonly string[],
    work: (client: pg.Client, name: string) => Promise<unknown>,
  ) {
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const client = new pg.Client({ connectionString: adminUrl() });
        await client.connect();
        try {
          while (next < all.length) await work(client, all[next++] as string);
        } finally {
          await client.end();
        }
      }),
    );
  }

  beforeAll(async () => {
    await inParallel(names, (client, name) =>
      client.query(`CREATE DATABASE ${name} ${TEST_DATABASE_STRATEGY}`),
    );
    fleet = new LocalFleet(urlOf, names, FIFTY_STAGES, join(FIXTURES, 'v2'));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...sessions.values()].map((client) => client.end()));
    await inParallel(names, (client, name) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }, 120_000);

  it('stops at a failing canary with the other forty-nine untouched, then resumes calls killed mid-migration in a wave, applying nothing twice, and names the failure the last stage tolerates', async () => {
    await (await on(canary)).query('CREATE TABLE poison (id int)');
    const failed = await fleet.deploy(REV.v2);
    expect(failed.status).toBe('FAILED');
    expect(failed.reason).toMatch(
      new RegExp(`^fleet rollout failed: target ${canary}: .*tenant data the migration cannot take`),
    );
    // Only the canary was asked, and its transaction rolled back; the others have not even a history.
    expect(new Set(fleet.rollouts.calls.map((call) => call.split(' ').at(-1)))).toEqual(new Set([canary]));
    expect(await databases()).toEqual(
      Object.fromEntries(
        names.map((name) => [name, name === canary ? { at: 'base', log: {} } : { at: 'none', log: {} }]),
      ),
    );

    await (await on(canary)).query('DROP TABLE poison');
    await (await on(tolerated)).query('CREATE TABLE poison (id int)');
    const kills = await killMidMigration(killed);
    let outcome: Awaited<ReturnType<LocalFleet['deploy']>>;
    try {
      outcome = await fleet.deploy(REV.v2);
    } finally {
      await kills.release();
    }
    expect(outcome.status, outcome.reason).toBe('SUCCESS');
    expect(outcome.data).toMatchObject({
      Targets: String(FIFTY),
      Moved: String(FIFTY - 1),
      ToleratedFailures: tolerated,
    });
    // Each killed call was made again by the state machine's retry, and went on from where it died.
    expect(kills.killed.map((call) => call.split(' ').at(-1)).sort()).toEqual([...killed].sort());
    for (const call of kills.killed)
      expect(fleet.rollouts.calls.filter((made) => made === call).length).toBeGreaterThanOrEqual(2);
    // Every target at v2 with each migration applied once; the tolerated failure where it was.
    expect(await databases()).toEqual(
      Object.fromEntries(
        names.map((name) => [
          name,
          name === tolerated
            ? { at: 'base', log: {} }
            : { at: REV.v2, log: { [`up ${REV.v1}`]: 1, [`up ${REV.v2}`]: 1 } },
        ]),
      ),
    );
  });

  it('reverts, when the stack rolls back an Update that failed in the wave, exactly the targets that moved and touches no other', async () => {
    // The wave's last target fails v3: every other target of the wave was started before it, so
    // those in flight finish their call (moved or not, as timing has it) and none starts after.
    const poisoned = wave.at(-1) as string;
    await (await on(poisoned)).query('CREATE TABLE poison3 (id int)');
    const before = await databases();
    const callsBefore = fleet.rollouts.calls.length;
    // The calls a failed stage leaves in flight run on after the execution failed, as in Step Functions: waited for.
    const running = new Set<Promise<unknown>>();
    fleet.rollouts.around = (_state, _task, call) => {
      const made = call();
      running.add(made);
      return made.finally(() => running.delete(made));
    };
    fleet.bundle = join(FIXTURES, 'v3');
    let failed: Awaited<ReturnType<LocalFleet['deploy']>>;
    try {
      failed = await fleet.deploy(REV.v3, REV.v2);
      while (running.size > 0) await Promise.allSettled([...running]);
    } finally {
      fleet.rollouts.around = (_state, _task, call) => call();
    }
    expect(failed.status).toBe('FAILED');
    expect(failed.reason).toMatch(
      new RegExp(`^fleet rollout failed: target ${poisoned}: .*tenant data the migration cannot take`),
    );
    expect(fleet.rollouts.calls.slice(callsBefore).filter((call) => call.startsWith('rest:'))).toEqual([]);
    const after = await databases();
    const moved = names.filter((name) => after[name]?.at === REV.v3);
    // The canary and some of the wave moved; the poisoned target and the last stage did not.
    expect(moved).toContain(canary);
    expect(moved.filter((name) => name !== canary && !wave.includes(name))).toEqual([]);
    expect(moved).not.toContain(poisoned);
    expect(after).toEqual(onlyMoved(before, moved, REV.v3, `up ${REV.v3}`));

    fleet.bundle = join(FIXTURES, 'v2');
    const outcome = await fleet.deploy(REV.v2, REV.v3, true);
    expect(outcome.status, outcome.reason).toBe('SUCCESS');
    expect(outcome.data).toMatchObject({
      Targets: String(FIFTY),
      Moved: String(moved.length),
      MovedTargets: moved.join(','),
    });
    // By name: each moved target back at v2 with one down row; every other as the failed Update left it, not a row more.
    const reverted = await databases();
    expect(reverted).toEqual(onlyMoved(after, moved, REV.v2, `down ${REV.v3}`));
    expect(reverted[poisoned]).toEqual(before[poisoned]);
  });
});
