/**
 * Background migrations through the deployed function and its state machine: the definition
 * `cdk synth` writes, executed by a real ASL interpreter (aws-local-stepfunctions) whose Lambda
 * tasks call the real handler, on embedded PostgreSQL. The interpreter runs the Distributed Map's
 * item processor as it would an inline Map's iterations (it ignores ProcessorConfig), with the
 * definition's own MaxConcurrency, retries and per-range loop.
 */
import { join } from 'node:path';
import { CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Handler } from '../../lambda/handler.ts';
import { BackgroundRuns } from '../../lib/engine/background-runs.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import {
  type BackgroundBundle as Bundle,
  BACKGROUND_DIR as FIXTURES,
  BACKGROUND_REV as REV,
} from '../fixtures/handler/background-bundles.ts';
import {
  cfnEvent,
  DB_IDENTIFIER,
  type Fakes,
  fakes,
  lambdaContext,
  runProvider,
  SECRET_ARN,
} from '../fixtures/handler/harness.ts';
import {
  LocalStepFunctions,
  STATE_MACHINE_ARN,
  synthesizedDefinition,
} from '../fixtures/handler/step-functions.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const ROWS = 100_000;
/** The keys the fixture backfill fails at once (test/fixtures/background/backfill). */
function failOnceKeys(): Set<string> {
  const shared = globalThis as { __rdsMigrateFailOnce?: Set<string> };
  shared.__rdsMigrateFailOnce ??= new Set<string>();
  return shared.__rdsMigrateFailOnce;
}
const failOnce = failOnceKeys();
/** The keys whose batch loses its connection once (the same fixture). */
function dropOnceKeys(): Set<string> {
  const shared = globalThis as { __rdsMigrateDropOnce?: Set<string> };
  shared.__rdsMigrateDropOnce ??= new Set<string>();
  return shared.__rdsMigrateDropOnce;
}
const dropOnce = dropOnceKeys();

let definition: Record<string, unknown>;
let database: TestDatabase;
let connection: Connection;
let aws: Fakes;
let stepFunctions: LocalStepFunctions;
let current: Bundle;

beforeAll(() => {
  definition = synthesizedDefinition(join(FIXTURES, 'backfill'), { ranges: 8, maxConcurrency: 4 });
});

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
  aws = fakes(database.url);
  current = 'base';
  stepFunctions = new LocalStepFunctions(definition, () => handlerFor(current));
  failOnce.clear();
  dropOnce.clear();
});
afterEach(async () => {
  for (const execution of stepFunctions.executions.values()) execution.abort();
  await database.drop();
});

function handlerFor(bundle: Bundle): Handler {
  return aws.handler('v1', {
    migrationsDir: join(FIXTURES, bundle),
    sfn: stepFunctions.client,
    env: {
      SECRET_ARN,
      DB_KIND: 'instance',
      DB_IDENTIFIER,
      AUTH_MODE: 'secret',
      BACKGROUND_STATE_MACHINE_ARN: STATE_MACHINE_ARN,
      BACKGROUND_RANGES: '8',
    },
  });
}

/** A deploy of `bundle` (Create the first time, then Update), as the Provider framework runs it. */
async function deploy(bundle: Bundle, from?: Bundle) {
  current = bundle;
  const event = from
    ? cfnEvent('cfn-update', { TargetRevision: REV[bundle], ContextArgs: {} }, { TargetRevision: REV[from] })
    : cfnEvent('cfn-create', { TargetRevision: REV[bundle], ContextArgs: {} });
  return runProvider(handlerFor(bundle), event);
}

async function seed(rows = ROWS): Promise<void> {
  await connection.db.query(
    `INSERT INTO accounts (email) SELECT 'User' || i || '@Example.COM' FROM generate_series(1, $1) AS i`,
    [rows],
  );
  await connection.db.query('ANALYZE accounts');
}

async function rowsTouched(): Promise<Record<string, number>> {
  const result = await connection.db.query<{ touched: number; rows: string }>(
    'SELECT touched, count(*) AS rows FROM accounts GROUP BY touched ORDER BY touched',
  );
  return Object.fromEntries(result.rows.map((row) => [String(row.touched), Number(row.rows)]));
}

async function run() {
  return new BackgroundRuns(new History()).find(connection.db, REV.backfill);
}

describe('a background migration on the state machine', () => {
  it('answers the deploy at once, then backfills 100,000 rows over 8 ranges, 4 at a time, each row once', async () => {
    expect((await deploy('base')).status).toBe('SUCCESS');
    await seed();
    const deployed = await deploy('backfill', 'base');
    expect(deployed).toMatchObject({
      status: 'SUCCESS',
      data: { Revision: REV.backfill, BackgroundStarted: REV.backfill },
    });
    const execution = stepFunctions.only();
    expect(execution.name).toMatch(/^rds-migrate-bf02e0a1b2c3-deploy-[0-9a-f]{16}$/);

    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(await rowsTouched()).toEqual({ 1: ROWS });
    const lowered = await connection.db.query<{ wrong: string }>(
      'SELECT count(*) AS wrong FROM accounts WHERE email_lower IS DISTINCT FROM lower(email)',
    );
    expect(Number(lowered.rows[0]?.wrong)).toBe(0);
    // 8 ranges of 12,500 keys; one batch of 2,500 per call (the deadline comes right after it),
    // so each range took 5 calls and a 6th that found it done: the loop, not one long call.
    const walks = stepFunctions.calls.filter((call) => call.state === 'Walk range');
    expect(walks).toHaveLength(8 * 6);
    expect(stepFunctions.maxInFlight.get('Walk range')).toBe(4);
    expect(await run()).toMatchObject({
      state: 'completed',
      errors: 0,
      completedBy: expect.stringContaining(execution.arn),
    });
    const [progress] = await new BackgroundRuns(new History()).progress(connection.db);
    expect(progress).toMatchObject({ rangeCount: 8, rangesDone: 8, rows: ROWS });
  });

  it('starts one execution however often the deploy is polled', async () => {
    await deploy('base');
    await seed(1000);
    stepFunctions.hold = true;
    const event = cfnEvent(
      'cfn-update',
      { TargetRevision: REV.backfill, ContextArgs: {} },
      { TargetRevision: REV.base },
    );
    current = 'backfill';
    const handler = handlerFor('backfill');
    const onEvent = (await handler(event, lambdaContext())) as unknown as Record<string, unknown>;
    const poll = { ...event, ...onEvent };
    // The first polls wait for the snapshot; then the framework (or a retry) asks again.
    const answers: unknown[] = [];
    while (answers.length < 3) {
      const answer = (await handler(poll, lambdaContext())) as { IsComplete: boolean };
      if (answer.IsComplete) answers.push(answer);
    }
    expect(stepFunctions.executions.size).toBe(1);
    const execution = stepFunctions.only();
    execution.release();
    await execution.done;
    expect(await rowsTouched()).toEqual({ 1: 1000 });
  });

  it('resumes a range from its checkpoint after a task fails or loses its connection mid-range, counting each', async () => {
    await deploy('base');
    await seed();
    // The batch that holds id 3,000 (the first range, its second batch) fails once, after its UPDATE
    // ran; the one that holds id 95,000 (the last range) loses its connection: the server ends its session.
    failOnce.add('3000');
    dropOnce.add('95000');
    await deploy('backfill', 'base');
    const execution = stepFunctions.only();
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(await rowsTouched()).toEqual({ 1: ROWS });
    // Both count, the lost one too (its session is gone: it is counted on a new one).
    expect(await run()).toMatchObject({
      state: 'completed',
      errors: 2,
      lastError: expect.stringMatching(
        /^range (0: batch failed on purpose at id 3000|7: terminating connection)/,
      ),
    });
    const walksOf = (range: number) =>
      stepFunctions.calls.filter(
        (call) =>
          call.state === 'Walk range' &&
          (call.input.RdsMigrateBackground as { range: number }).range === range,
      );
    // 5 batches, the end, and the failed call tried again.
    expect(walksOf(0)).toHaveLength(7);
    expect(walksOf(7)).toHaveLength(7);
  });

  it('fails a deploy that needs the backfill complete before a snapshot, saying how far it is', async () => {
    await deploy('base');
    await seed(10_000);
    stepFunctions.hold = true;
    await deploy('backfill', 'base');
    const snapshotsBefore = aws.rdsMock.commandCalls(CreateDBSnapshotCommand).length;

    const gated = await deploy('contract', 'backfill');
    expect(gated.status).toBe('FAILED');
    expect(gated.reason).toMatch(
      /migration c003e0a1b2c3 \(202611251000_require_email_lower.sql\) requires background migration bf02e0a1b2c3 complete, and it is running: not split yet, 0 of ~10,000 rows \(0%\)/,
    );
    expect(gated.reason).toMatch(/nothing was applied/);
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand).length).toBe(snapshotsBefore);

    const execution = stepFunctions.only();
    execution.release();
    await execution.done;
    expect((await deploy('contract', 'backfill')).status).toBe('SUCCESS');
  });

  it('stops the execution first when the stack rolls back during the run, and no batch runs after', async () => {
    await deploy('base');
    await seed();
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let walks = 0;
    stepFunctions.beforeTask = async (call) => {
      if (call.state === 'Walk range' && ++walks > 12) await held;
    };
    await deploy('backfill', 'base');
    const execution = stepFunctions.only();
    while (walks <= 12) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await rowsTouched())['1']).toBeGreaterThan(0);

    // CloudFormation rolls the stack back: the old function (the base bundle) gets the old properties.
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const rollback = await deploy('base', 'backfill');
    expect(rollback.status).toBe('SUCCESS');
    expect(execution.status).toBe('ABORTED');
    expect(await run()).toMatchObject({ state: 'reverted' });
    const reverted = await connection.db.query<{ left: string }>(
      'SELECT count(*) AS left FROM accounts WHERE email_lower IS NOT NULL',
    );
    expect(Number(reverted.rows[0]?.left)).toBe(0);

    // The calls that were waiting go on: each finds the migration reverted and does nothing.
    const during = await rowsTouched();
    release();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rowsTouched()).toEqual(during);
  });

  it('fails a stack rollback fast when a session sits on a checkpoint, naming it; the run stays paused saying so', async () => {
    await deploy('base');
    await seed(20_000);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let walks = 0;
    stepFunctions.beforeTask = async (call) => {
      if (call.state !== 'Walk range') return;
      walks += 1;
      await held;
    };
    await deploy('backfill', 'base');
    const execution = stepFunctions.only();
    while (walks === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    // What a batch holds, held by a session that sits idle: a walker stuck mid-batch.
    const stuck = await database.connect('stuck-walker');
    const pid = (await stuck.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    await stuck.db.query('BEGIN');
    await stuck.db.query(
      'SELECT last_key FROM rds_migrate.checkpoints WHERE revision = $1 ORDER BY name LIMIT 1 FOR UPDATE',
      [REV.backfill],
    );

    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const started = Date.now();
    const failed = await deploy('base', 'backfill');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(failed.status).toBe('FAILED');
    expect(failed.reason).toMatch(
      new RegExp(
        `pid ${pid} \\(application 'stuck-walker', idle in transaction for \\d+ s: SELECT last_key FROM rds_migrate\\.checkpoints WHERE revision = \\$1`,
      ),
    );
    expect(failed.reason).toContain(`end session ${pid} (SELECT pg_terminate_backend(${pid}))`);
    expect(failed.reason).not.toMatch(/Fix the migration/);
    // Never running without an execution: paused first, then stopped; the failure is on the run.
    expect(execution.status).toBe('ABORTED');
    expect(await run()).toMatchObject({
      state: 'paused',
      lastError: expect.stringMatching(
        /^the revert by deploy request \S+ failed: .*pid \d+.*resume the run\.$/,
      ),
    });

    await stuck.db.query('ROLLBACK');
    expect((await deploy('base', 'backfill')).status).toBe('SUCCESS');
    expect(await run()).toMatchObject({ state: 'reverted' });
    release();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rowsTouched()).toEqual({ 0: 20_000 });
  });

  it('records the completion exactly once, however often and however concurrently it is asked', async () => {
    await deploy('base');
    await seed(5000);
    await deploy('backfill', 'base');
    const execution = stepFunctions.only();
    await execution.done;
    const handler = handlerFor('backfill');
    const complete = {
      RdsMigrateBackground: { task: 'complete', revision: REV.backfill, execution: execution.arn, args: {} },
    };
    const answers = await Promise.all([1, 2, 3].map(() => handler(complete, lambdaContext())));
    expect(answers).toEqual([1, 2, 3].map(() => ({ completed: true, already: true })));
    const completions = await connection.db.query<{ completed_at: Date; completed_by: string }>(
      'SELECT completed_at, completed_by FROM rds_migrate.background_runs WHERE revision = $1',
      [REV.backfill],
    );
    expect(completions.rows).toHaveLength(1);
    expect(completions.rows[0]?.completed_by).toContain(execution.arn);
  });
});

describe('steering a background migration through the function', () => {
  async function started(rows = 20_000) {
    await deploy('base');
    await seed(rows);
    stepFunctions.hold = true;
    await deploy('backfill', 'base');
    return stepFunctions.only();
  }

  function invoke(payload: Record<string, unknown>) {
    return handlerFor(current)(payload, lambdaContext());
  }

  it('shows each run in status: state, ranges, rows, errors and its execution', async () => {
    const execution = await started();
    const status = (await invoke({ action: 'status' })) as unknown as {
      background: { revision: string; state: string; rows: number; estimatedTotal: number; errors: number }[];
      backgroundExecutions: Record<string, { status: string }>;
    };
    expect(status.background).toMatchObject([
      {
        revision: REV.backfill,
        state: 'running',
        rows: 0,
        estimatedTotal: 20_000,
        errors: 0,
        execution: execution.arn,
      },
    ]);
    expect(status.backgroundExecutions).toEqual({
      [REV.backfill]: expect.objectContaining({ status: 'RUNNING' }),
    });
  });

  it('wants "confirm": true to pause, resume or cancel', async () => {
    await started();
    await expect(invoke({ action: 'pause', revision: REV.backfill })).rejects.toThrow(
      /action 'pause' changes the database; add "confirm": true/,
    );
  });

  it('pauses (stops the execution, keeps the checkpoints) and resumes from them with a new execution', async () => {
    const first = await started();
    stepFunctions.hold = false;
    first.release();
    let walks = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    stepFunctions.beforeTask = async (call) => {
      if (call.state === 'Walk range' && ++walks > 6) await held;
    };
    while (walks <= 6) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await invoke({ action: 'pause', revision: REV.backfill, confirm: true })).toMatchObject({
      action: 'pause',
      state: 'paused',
      execution: first.arn,
    });
    expect(first.status).toBe('ABORTED');
    release();
    const paused = await rowsTouched();
    expect(paused['1']).toBeGreaterThan(0);
    expect(paused['0']).toBeGreaterThan(0);

    stepFunctions.beforeTask = () => undefined;
    const resumed = (await invoke({
      action: 'resume',
      revision: REV.backfill,
      confirm: true,
    })) as unknown as {
      execution: string;
      state: string;
    };
    expect(resumed.state).toBe('running');
    expect(resumed.execution).not.toBe(first.arn);
    const second = stepFunctions.executions.get(resumed.execution);
    await second?.done;
    expect(second?.status).toBe('SUCCEEDED');
    expect(await rowsTouched()).toEqual({ 1: 20_000 });
    expect(await run()).toMatchObject({ state: 'completed' });
  });

  it('cancels for good: the gate stays closed, resume is refused, down reverts it', async () => {
    const execution = await started();
    expect(await invoke({ action: 'cancel', revision: REV.backfill, confirm: true })).toMatchObject({
      state: 'cancelled',
    });
    expect(execution.status).toBe('ABORTED');
    await expect(invoke({ action: 'resume', revision: REV.backfill, confirm: true })).rejects.toThrow(
      /is cancelled, so it cannot resume.*reverted with down, then applied again/,
    );
    expect((await deploy('contract', 'backfill')).reason).toMatch(/and it is cancelled/);
    current = 'backfill';
    const down = await invoke({ action: 'down', revision: REV.base, confirm: true, snapshot: false });
    expect(down).toMatchObject({ action: 'down', status: 'applied', to: [REV.base] });
    expect(await run()).toMatchObject({ state: 'reverted' });
  });
});

describe('the same state machine with an inline Map', () => {
  it('backfills over 8 ranges, 2 at a time', async () => {
    const inline = synthesizedDefinition(join(FIXTURES, 'backfill'), {
      ranges: 8,
      maxConcurrency: 2,
      mapMode: 'inline',
    });
    const ranges = (inline.States as Record<string, { ItemProcessor?: { ProcessorConfig?: unknown } }>)
      .Ranges;
    expect(ranges?.ItemProcessor?.ProcessorConfig).toEqual({ Mode: 'INLINE' });
    stepFunctions = new LocalStepFunctions(inline, () => handlerFor(current));
    await deploy('base');
    await seed(20_000);
    await deploy('backfill', 'base');
    const execution = stepFunctions.only();
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(await rowsTouched()).toEqual({ 1: 20_000 });
    expect(stepFunctions.maxInFlight.get('Walk range')).toBe(2);
  });
});

describe('a run whose execution is over though it says running', () => {
  it('is taken over by resume, which goes on from the checkpoints', async () => {
    await deploy('base');
    await seed(5000);
    stepFunctions.hold = true;
    await deploy('backfill', 'base');
    const dead = stepFunctions.only();
    dead.abort();
    stepFunctions.hold = false;
    const resumed = (await handlerFor(current)(
      { action: 'resume', revision: REV.backfill, confirm: true },
      lambdaContext(),
    )) as unknown as { execution: string };
    await stepFunctions.executions.get(resumed.execution)?.done;
    expect(await run()).toMatchObject({ state: 'completed', execution: resumed.execution });
    expect(await rowsTouched()).toEqual({ 1: 5000 });
  });
});
