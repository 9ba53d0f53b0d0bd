/**
 * The function as an attacker or a careless operator meets it: anyone granted
 * lambda:InvokeFunction can hand it an event shaped like CloudFormation's. Every forged request
 * is refused with a reason, nothing changed: the database's revision, schema and history, no
 * snapshot taken, no lease claimed.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jsonBytes } from '../../lambda/failure.ts';
import type { Handler } from '../../lambda/handler.ts';
import { schemaSnapshot } from '../../lib/engine/catalog.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { Deploys } from '../../lib/engine/deploys.ts';
import { FUNCTION_ENV, propertiesFingerprint } from '../../lib/engine/function-contract.ts';
import { History } from '../../lib/engine/history.ts';
import { RunLease } from '../../lib/engine/lease.ts';
import {
  bundleDir,
  CONSTRUCT_ENV,
  cfnEvent,
  DB_IDENTIFIER,
  type Fakes,
  fakes,
  LOGICAL_ID,
  lambdaContext,
  REV,
  runProvider,
  SECRET_ARN,
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

/** The v1 head, as a real deploy leaves it; CloudFormation then rests (UPDATE_COMPLETE) and stops following. */
const V1_PROPERTIES = { TargetRevision: REV.name, Snapshot: { Enabled: 'true', Retain: 'false' } };
async function deployedThenQuiet(): Promise<void> {
  const outcome = await runProvider(aws.handler('v1'), cfnEvent('cfn-create', V1_PROPERTIES));
  expect(outcome.status).toBe('SUCCESS');
  aws.followsRequests = false;
  aws.stackStatus = 'UPDATE_COMPLETE';
  aws.resourceStatus = 'CREATE_COMPLETE';
  aws.rdsMock.resetHistory();
  aws.cloudformationMock.resetHistory();
}

/** The function as the construct deployed it for V1_PROPERTIES, with `env` on top. */
function deployedFunction(env: Record<string, string | undefined> = {}, logger?: Logger): Handler {
  return aws.handler('v1', {
    ...(logger ? { logger } : {}),
    env: {
      SECRET_ARN,
      DB_KIND: 'instance',
      DB_IDENTIFIER,
      AUTH_MODE: 'secret',
      MIGRATIONS_DIR: bundleDir('v1'),
      ...CONSTRUCT_ENV,
      [FUNCTION_ENV.propertiesSha256]: propertiesFingerprint(
        cfnEvent('cfn-create', V1_PROPERTIES).ResourceProperties as Json,
      ),
      ...env,
    } as Record<string, string>,
  });
}

/** What an attacker wants: every migration reverted, no snapshot. */
function revertToBase(): Json {
  return cfnEvent('cfn-update', { TargetRevision: 'base', Snapshot: { Policy: 'never' } });
}

interface Unchanged {
  assert(): Promise<void>;
}

async function watchDatabase(): Promise<Unchanged> {
  const history = new History();
  const before = {
    heads: (await history.read(connection.db)).heads,
    log: (await history.log(connection.db)).length,
    schema: await schemaSnapshot(connection.db),
    deploys: (await new Deploys(history).recent(connection.db, 100)).length,
    lease: (await new RunLease(history).holder(connection.db))?.token,
  };
  return {
    assert: async () => {
      expect((await history.read(connection.db)).heads).toEqual(before.heads);
      expect((await history.log(connection.db)).length).toBe(before.log);
      expect(await schemaSnapshot(connection.db)).toEqual(before.schema);
      expect((await new Deploys(history).recent(connection.db, 100)).length).toBe(before.deploys);
      expect((await new RunLease(history).holder(connection.db))?.token).toBe(before.lease);
      expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
    },
  };
}

/** How the function begins every refusal's reason. */
const REFUSED = 'request refused, nothing was changed: ';

async function refusal(handler: Handler, event: unknown, context = lambdaContext()): Promise<string> {
  const error = (await handler(event, context).then(
    () => undefined,
    (thrown: unknown) => thrown,
  )) as Error | undefined;
  expect(error, 'the request was answered instead of refused').toBeInstanceOf(Error);
  return (error as Error).message;
}

describe('forged lifecycle requests', () => {
  it('refuses an Update to base while the stack is not deploying, leaving the database untouched', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const { logger, lines } = recordingLogger();
    const reason = await refusal(deployedFunction({}, logger), revertToBase());
    expect(reason).toMatch(
      /^request refused, nothing was changed: CloudFormation reports stack UPDATE_COMPLETE/,
    );
    expect(reason).toContain('it sends a Update only while the resource is UPDATE_IN_PROGRESS');
    // The function's log says it was a refusal, apart from the failures of real deploys.
    const refused = lines.find((line) => line.message === 'lifecycle request refused');
    expect(refused).toEqual({
      level: 'warn',
      message: 'lifecycle request refused',
      extra: {
        reason: expect.stringContaining('CloudFormation reports stack UPDATE_COMPLETE'),
        requestType: 'Update',
      },
    });
    await unchanged.assert();
  });

  it('refuses a Create and a rollback-shaped Update while the stack rests', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const handler = deployedFunction();
    expect(await refusal(handler, cfnEvent('cfn-create', V1_PROPERTIES))).toContain('request refused');
    aws.stackStatus = 'UPDATE_ROLLBACK_COMPLETE';
    expect(await refusal(handler, revertToBase())).toContain('UPDATE_ROLLBACK_COMPLETE');
    await unchanged.assert();
  });

  it('refuses an Update while the stack updates but this resource is not being updated', async () => {
    await deployedThenQuiet();
    aws.stackStatus = 'UPDATE_IN_PROGRESS';
    const unchanged = await watchDatabase();
    const reason = await refusal(deployedFunction(), revertToBase());
    expect(reason).toContain('DbMigrationsMigrationF3A1B2C4 CREATE_COMPLETE');
    await unchanged.assert();
  });

  it('refuses forged properties even while CloudFormation really updates the resource', async () => {
    await deployedThenQuiet();
    aws.stackStatus = 'UPDATE_IN_PROGRESS';
    aws.resourceStatus = 'UPDATE_IN_PROGRESS';
    const unchanged = await watchDatabase();
    const reason = await refusal(deployedFunction(), revertToBase());
    expect(reason).toContain("the request's properties are not the ones this stack deployed");
    await unchanged.assert();
  });

  it('refuses another stack and another resource before asking CloudFormation', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const handler = deployedFunction();
    const otherStack = {
      ...revertToBase(),
      StackId:
        'arn:aws:cloudformation:eu-west-1:123456789012:stack/Other/2b6f9e10-3c4d-11ef-9a1b-0a1b2c3d4e5f',
    };
    expect(await refusal(handler, otherStack)).toContain(
      'the request names stack arn:aws:cloudformation:eu-west-1:123456789012:stack/Other/',
    );
    expect(await refusal(handler, { ...revertToBase(), LogicalResourceId: 'SomethingElse' })).toContain(
      'the request names resource SomethingElse; this function serves DbMigrationsMigrationF3A1B2C4 only',
    );
    expect(aws.cloudformationMock.calls()).toHaveLength(0);
    await unchanged.assert();
  });

  it('refuses every lifecycle request when the function was not deployed with its stack and resource', async () => {
    await deployedThenQuiet();
    aws.followsRequests = true;
    const unchanged = await watchDatabase();
    const handler = deployedFunction({ [FUNCTION_ENV.stackId]: undefined });
    expect(await refusal(handler, revertToBase())).toContain('has no STACK_ID or RESOURCE_LOGICAL_ID');
    await unchanged.assert();
  });

  it('refuses when CloudFormation cannot be asked, saying so', async () => {
    await deployedThenQuiet();
    aws.cloudformationMock.rejects(
      Object.assign(new Error('connect ETIMEDOUT 10.0.0.1:443'), { code: 'ETIMEDOUT' }),
    );
    const unchanged = await watchDatabase();
    const reason = await refusal(deployedFunction(), revertToBase());
    expect(reason).toContain('CloudFormation could not confirm it (connect ETIMEDOUT');
    expect(reason).toContain('interface VPC endpoint for com.amazonaws.<region>.cloudformation');
    await unchanged.assert();
  });

  it('answers a forged Delete without claiming the lease of a deploy in flight', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const answer = (await deployedFunction()(cfnEvent('cfn-delete'), lambdaContext())) as Json;
    expect(answer).toMatchObject({
      Data: { Note: expect.stringContaining('leaves the schema and data in place') },
    });
    await unchanged.assert();
  });
});

describe('a stack rollback that reaches the newer function', () => {
  it("accepts the old properties when the request's old properties are the deployed ones, only while rolling back", async () => {
    // v1 deployed; the newer function (deployed with V2 properties) gets the rollback Update back to v1's first revision.
    await deployedThenQuiet();
    const newer = cfnEvent('cfn-update', { TargetRevision: REV.name });
    const rollback = cfnEvent(
      'cfn-update',
      { TargetRevision: REV.customers },
      newer.ResourceProperties as Json,
    );
    const handler = deployedFunction({
      [FUNCTION_ENV.propertiesSha256]: propertiesFingerprint(newer.ResourceProperties as Json),
    });
    aws.resourceStatus = 'UPDATE_IN_PROGRESS';
    aws.stackStatus = 'UPDATE_IN_PROGRESS';
    const unchanged = await watchDatabase();
    expect(await refusal(handler, rollback)).toContain(
      "the request's properties are not the ones this stack deployed",
    );
    await unchanged.assert();

    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const outcome = await runProvider(handler, rollback);
    expect(outcome.status).toBe('SUCCESS');
    expect((await new History().read(connection.db)).heads).toEqual([REV.customers]);
  });
});

describe('a stack rollback back to another branch, reaching the newer function', () => {
  it('accepts the old properties through the polls too, though its plan applies a revision as well as reverting one', async () => {
    // v1's head deployed; the newer function's bundle also holds a branch beside it, off its first revision.
    await deployedThenQuiet();
    const bundle = mkdtempSync(join(tmpdir(), 'rds-migrate-branches-'));
    cpSync(bundleDir('v1'), bundle, { recursive: true });
    writeFileSync(
      join(bundle, '202611011000_branch_notes.sql'),
      `-- revision: bbbb00000001\n-- down_revision: ${REV.customers}\n-- message: branch notes\n\n` +
        '-- migrate:up\nCREATE TABLE branch_notes (id int);\n\n-- migrate:down\nDROP TABLE branch_notes;\n',
    );
    const newer = cfnEvent('cfn-update', { TargetRevision: REV.name });
    // The stack rolls back to a template whose target is the branch.
    const rollback = cfnEvent(
      'cfn-update',
      { TargetRevision: 'bbbb00000001' },
      newer.ResourceProperties as Json,
    );
    const handler = deployedFunction({
      [FUNCTION_ENV.propertiesSha256]: propertiesFingerprint(newer.ResourceProperties as Json),
      MIGRATIONS_DIR: bundle,
    });
    aws.resourceStatus = 'UPDATE_IN_PROGRESS';
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const outcome = await runProvider(handler, rollback).finally(() =>
      rmSync(bundle, { recursive: true, force: true }),
    );
    expect(outcome.reason).toBeUndefined();
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.responses[0]?.RdsMigrate).toMatchObject({ plan: [`down ${REV.name}`, 'up bbbb00000001'] });
    expect((await new History().read(connection.db)).heads).toEqual(['bbbb00000001']);
  });
});

describe('forged polls', () => {
  it('refuses a poll that says done for a request never recorded', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const event = cfnEvent('cfn-update', V1_PROPERTIES);
    const poll = {
      ...event,
      RdsMigrate: { phase: 'done', requestId: event.RequestId, target: '', from: [], plan: [] },
    };
    expect(await refusal(deployedFunction(), poll)).toBe(
      `${REFUSED}no deploy of request ${event.RequestId} is recorded in the history's deploys, so this poll has nothing to ` +
        'continue; onEvent records every request CloudFormation sends before it acts',
    );
    await unchanged.assert();
  });

  it('refuses a poll naming another stack or resource, or reaching a function deployed with neither, naming what it serves', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const event = cfnEvent('cfn-update', V1_PROPERTIES);
    const poll = {
      ...event,
      RdsMigrate: {
        phase: 'migrate',
        requestId: event.RequestId,
        target: REV.name,
        from: [REV.name],
        plan: [],
      },
    };
    const otherStack =
      'arn:aws:cloudformation:eu-west-1:123456789012:stack/Other/2b6f9e10-3c4d-11ef-9a1b-0a1b2c3d4e5f';
    expect(await refusal(deployedFunction(), { ...poll, StackId: otherStack })).toBe(
      `${REFUSED}the poll names stack Other and resource ${LOGICAL_ID}; this function serves MyAppStack and ${LOGICAL_ID} only`,
    );
    expect(await refusal(deployedFunction(), { ...poll, LogicalResourceId: 'SomethingElse' })).toBe(
      `${REFUSED}the poll names stack MyAppStack and resource SomethingElse; this function serves MyAppStack and ${LOGICAL_ID} only`,
    );
    expect(await refusal(deployedFunction({ [FUNCTION_ENV.stackId]: undefined }), poll)).toBe(
      `${REFUSED}the poll names stack MyAppStack and resource ${LOGICAL_ID}; this function serves no stack ` +
        `(no STACK_ID in its environment) and ${LOGICAL_ID} only`,
    );
    expect(await refusal(deployedFunction({ [FUNCTION_ENV.resourceLogicalId]: undefined }), poll)).toBe(
      `${REFUSED}the poll names stack MyAppStack and resource ${LOGICAL_ID}; this function serves MyAppStack and no resource only`,
    );
    await unchanged.assert();
  });

  it('refuses a poll that says done for a deploy still taking its snapshot', async () => {
    const handler = aws.handler('v1');
    const event = cfnEvent('cfn-create', V1_PROPERTIES);
    const onEvent = (await handler(event, lambdaContext())) as Json;
    const marker = onEvent.RdsMigrate as Json;
    expect(marker.phase).toBe('snapshot');
    aws.rdsMock.resetHistory();
    const unchanged = await watchDatabase();
    expect(await refusal(handler, { ...event, ...onEvent, RdsMigrate: { ...marker, phase: 'done' } })).toBe(
      `${REFUSED}the poll says request ${event.RequestId} is done; its record says snapshot`,
    );
    await unchanged.assert();
  });

  it("refuses a poll of another stack's request that shares this history", async () => {
    await deployedThenQuiet();
    const event = cfnEvent('cfn-update', V1_PROPERTIES);
    const requestId = event.RequestId as string;
    // Another stack's function, on the same database and history schema, recorded this request.
    const history = new History();
    await new Deploys(history).insert(connection.db, {
      requestId,
      stack: 'OtherStack',
      target: REV.name,
      from: [REV.name],
      plan: [],
      phase: 'migrate',
      startedAt: new Date(),
    });
    await new RunLease(history).claim(connection.db, requestId);
    const unchanged = await watchDatabase();
    const poll = {
      ...event,
      RdsMigrate: { phase: 'migrate', requestId, target: REV.name, from: [REV.name], plan: [] },
    };
    expect(await refusal(deployedFunction(), poll)).toBe(
      `${REFUSED}request ${requestId} belongs to stack OtherStack, not to this poll's stack`,
    );
    await unchanged.assert();
  });

  it('refuses a poll to migrate a request never recorded, and one whose marker names another request', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const event = cfnEvent('cfn-update', { TargetRevision: 'base' });
    const marker = {
      phase: 'migrate',
      requestId: event.RequestId,
      target: 'base',
      from: [REV.name],
      plan: [],
    };
    const handler = deployedFunction();
    expect(await refusal(handler, { ...event, RdsMigrate: marker })).toMatch(/refused|superseded/);
    expect(
      await refusal(handler, { ...event, RdsMigrate: { ...marker, requestId: randomUUID() } }),
    ).toContain('marker names another request');
    await unchanged.assert();
  });

  it("refuses a poll of a real deploy in flight whose properties were swapped, and migrates with the record's target", async () => {
    const handler = aws.handler('v1');
    const event = cfnEvent('cfn-create', V1_PROPERTIES);
    const onEvent = (await handler(event, lambdaContext())) as Json;
    expect(onEvent.RdsMigrate).toMatchObject({ phase: 'snapshot' });
    const forged = {
      ...event,
      ...onEvent,
      ResourceProperties: { ...(event.ResourceProperties as Json), TargetRevision: 'base' },
    };
    expect(await refusal(handler, forged)).toBe(
      `${REFUSED}the poll's properties are not the ones this stack deployed`,
    );
    // The real poll goes on and reaches the recorded target.
    const poll = { ...event, ...onEvent };
    let answer: Json = {};
    for (let polls = 0; polls < 5 && !answer.IsComplete; polls++)
      answer = (await handler(poll, lambdaContext())) as Json;
    expect(answer.IsComplete).toBe(true);
    expect((await new History().read(connection.db)).heads).toEqual([REV.name]);
  });
});

describe('malformed and oversized input', () => {
  const bounded = (message: string) => expect(jsonBytes(message)).toBeLessThan(2100);

  it('refuses a megabyte RequestId, StackId or action without echoing it', async () => {
    const handler = deployedFunction();
    const huge = 'x'.repeat(1_000_000);
    for (const event of [
      { ...revertToBase(), RequestId: huge },
      { ...revertToBase(), StackId: huge },
      { ...revertToBase(), LogicalResourceId: huge },
      { action: huge },
      { action: 'show', revision: huge },
    ]) {
      const message = await refusal(handler, event);
      bounded(message);
      expect(message.length).toBeLessThan(600);
    }
  });

  it('range-checks the numbers of the properties, naming them', async () => {
    await deployedThenQuiet();
    aws.followsRequests = true;
    const handler = aws.handler('v1');
    expect(await refusal(handler, cfnEvent('cfn-update', { LockRetries: '1e30' }))).toContain(
      'property LockRetries must be a whole number from 0 to 100',
    );
    expect(await refusal(handler, cfnEvent('cfn-update', { LockRetries: '101' }))).toContain('from 0 to 100');
    expect(await refusal(handler, cfnEvent('cfn-update', { Snapshot: { Retain: '100000' } }))).toContain(
      'property Snapshot.Retain must be a whole number from 1 to 1000',
    );
    const args = Object.fromEntries(Array.from({ length: 101 }, (_, index) => [`k${index}`, 'v']));
    expect(await refusal(handler, cfnEvent('cfn-update', { ContextArgs: args }))).toContain(
      'property ContextArgs has 101 keys; at most 100 are taken',
    );
  });

  it('escapes control characters it echoes', async () => {
    const message = await refusal(deployedFunction(), { action: 'st\u001b[31matus\nforged line' });
    expect(message).not.toMatch(/\p{Cc}/u);
    expect(message).toContain('\\u001b[31matus\\u000aforged line');
  });
});

describe('manual writes', () => {
  it('are refused while the construct leaves them off; reads still answer', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const readOnly = deployedFunction({
      [FUNCTION_ENV.manualWrites]: undefined,
      [FUNCTION_ENV.operateAlias]: undefined,
    });
    for (const payload of [
      { action: 'down', revision: 'base', confirm: true, snapshot: false },
      { action: 'up', confirm: true },
      { action: 'stamp', revision: REV.customers, confirm: true },
      { action: 'pause', revision: REV.name, confirm: true },
    ]) {
      expect(await refusal(readOnly, payload)).toContain('this function is read-only by hand');
    }
    expect(await readOnly({ action: 'status' }, lambdaContext())).toMatchObject({ action: 'status' });
    await unchanged.assert();
  });

  it('are refused through the unqualified function when they are on', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const reason = await refusal(
      deployedFunction(),
      { action: 'down', revision: 'base', confirm: true },
      lambdaContext(undefined, null),
    );
    expect(reason).toContain("invoke the function's 'operate' alias");
    expect(reason).toContain('this call came through the unqualified function');
    await unchanged.assert();
  });

  it('refuse "snapshot": false unless the construct allows it', async () => {
    await deployedThenQuiet();
    const unchanged = await watchDatabase();
    const handler = deployedFunction({ [FUNCTION_ENV.manualWithoutSnapshot]: undefined });
    expect(
      await refusal(handler, { action: 'down', revision: 'base', confirm: true, snapshot: false }),
    ).toContain('"snapshot": false is refused');
    await unchanged.assert();
  });

  it("refuse a snapshotId that is not this database's managed snapshot", async () => {
    await deployedThenQuiet();
    aws.rds.seed('instance', 'someone-elses-backup', new Date(), false);
    const unchanged = await watchDatabase();
    const handler = deployedFunction();
    const down = { action: 'down', revision: 'base', confirm: true };
    // RDS lists it for this database, but this function did not make it (no managed tag).
    expect(await refusal(handler, { ...down, snapshotId: 'someone-elses-backup' })).toContain(
      '"snapshotId" someone-elses-backup is not a snapshot this function made of instance app-db',
    );
    expect(await refusal(handler, { ...down, snapshotId: 'rds-migrate-other-db-20261125103005' })).toContain(
      'none of that name is listed for it',
    );
    await unchanged.assert();
  });

  it('record who asked: the invocation and the "by" the payload names', async () => {
    await deployedThenQuiet();
    const context = lambdaContext();
    await deployedFunction()(
      { action: 'down', revision: REV.customers, confirm: true, by: 'alice@example.com' },
      context,
    );
    const [last] = await new History().log(connection.db, 1);
    expect(last?.actor).toBe(
      `lambda:MyAppStack-DbMigrationsHandler:invoke:${context.awsRequestId}:by=alice@example.com`,
    );
    expect(await refusal(deployedFunction(), { action: 'up', confirm: true, by: 'x\ny' })).toContain(
      '"by" names who asks',
    );
  });
});

describe('what CloudFormation shows of a failed migration', () => {
  it('carries the SQLSTATE, the revision and the message, never the row in DETAIL', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'rds-migrate-rowdata-'));
    const phones = mkdtempSync(join(tmpdir(), 'rds-migrate-rowdata-'));
    writeFileSync(
      join(folder, '202612010900_users.sql'),
      '-- revision: aa11bb22cc33\n-- down_revision: none\n\n-- migrate:up\n' +
        'CREATE TABLE users (email text UNIQUE);\n' +
        "INSERT INTO users VALUES ('alice@example.com'), ('alice@example.com');\n\n" +
        '-- migrate:down\nDROP TABLE users;\n',
    );
    writeFileSync(
      join(phones, '202612010910_phone.sql'),
      '-- revision: dd44ee55ff66\n-- down_revision: none\n\n-- migrate:up\n' +
        "CREATE TABLE phones (number text);\nINSERT INTO phones VALUES ('+1 555 0100');\n" +
        'ALTER TABLE phones ALTER COLUMN number TYPE integer USING number::integer;\n\n' +
        '-- migrate:down\nDROP TABLE phones;\n',
    );
    const handler = aws.handler('v1', { migrationsDir: folder });
    const unique = await runProvider(handler, cfnEvent('cfn-create', { TargetRevision: 'aa11bb22cc33' }));
    expect(unique.status).toBe('FAILED');
    expect(unique.reason).toContain('migration aa11bb22cc33');
    expect(unique.reason).toContain('[23505]');
    expect(unique.reason).toContain('duplicate key value violates unique constraint');
    expect(unique.reason).not.toContain('alice@example.com');
    const cast = await runProvider(
      aws.handler('v1', { migrationsDir: phones }),
      cfnEvent('cfn-create', { TargetRevision: 'dd44ee55ff66' }),
    );
    expect(cast.status).toBe('FAILED');
    expect(cast.reason).toContain('[22P02]');
    expect(cast.reason).toContain(
      'invalid input syntax for type integer: (value left out: see the function log)',
    );
    expect(cast.reason).not.toContain('555');
    // A value PostgreSQL quotes within its message, not at the end.
    const counts = mkdtempSync(join(tmpdir(), 'rds-migrate-rowdata-'));
    writeFileSync(
      join(counts, '202612010920_counts.sql'),
      '-- revision: 1a2b3c4d5e6f\n-- down_revision: none\n\n-- migrate:up\n' +
        "CREATE TABLE counts (n text);\nINSERT INTO counts VALUES ('73314159265');\n" +
        'ALTER TABLE counts ALTER COLUMN n TYPE integer USING n::integer;\n\n' +
        '-- migrate:down\nDROP TABLE counts;\n',
    );
    const range = await runProvider(
      aws.handler('v1', { migrationsDir: counts }),
      cfnEvent('cfn-create', { TargetRevision: '1a2b3c4d5e6f' }),
    );
    expect(range.status).toBe('FAILED');
    expect(range.reason).toContain('[22003]');
    expect(range.reason).toContain('value (value left out: see the function log) is out of range');
    expect(range.reason).not.toContain('73314159265');
  });
});

describe('forged polls of an upgrade in flight', () => {
  /** The v2 upgrade's onEvent done, its snapshot being made: the poll a waiter would send. */
  async function upgradeInFlight(): Promise<{ event: Json; poll: Json; handler: Handler }> {
    await runProvider(aws.handler('v1'), cfnEvent('cfn-create', V1_PROPERTIES));
    const handler = aws.handler('v2');
    const event = cfnEvent('cfn-update', { TargetRevision: REV.tenant }, V1_PROPERTIES);
    const onEvent = (await handler(event, lambdaContext())) as Json;
    aws.rdsMock.resetHistory();
    return { event, poll: { ...event, ...onEvent }, handler };
  }

  it('refuses swapped properties even when the old properties are the deployed ones: those count only in a stack rollback CloudFormation confirms', async () => {
    const { event, poll, handler } = await upgradeInFlight();
    const deployed = event.ResourceProperties as Json;
    const forged = {
      ...poll,
      ResourceProperties: { ...deployed, ContextArgs: { tenant: 'attacker' } },
      OldResourceProperties: deployed,
    };
    const unchanged = await watchDatabase();
    expect(await refusal(handler, forged)).toBe(
      `${REFUSED}the request's properties are not the ones this stack deployed (their fingerprint differs from the ` +
        "construct's); only CloudFormation, from the stack's template, sends them",
    );
    await unchanged.assert();
  });

  it('refuses a poll whose deployed properties target another revision than the request recorded', async () => {
    const { event, poll } = await upgradeInFlight();
    // The stack was deployed since with properties that target v1's head.
    const redeployed = { ...(event.ResourceProperties as Json), TargetRevision: REV.name };
    const handler = aws.handler('v2', {
      env: {
        SECRET_ARN,
        DB_KIND: 'instance',
        DB_IDENTIFIER,
        AUTH_MODE: 'secret',
        MIGRATIONS_DIR: bundleDir('v2'),
        ...CONSTRUCT_ENV,
        [FUNCTION_ENV.propertiesSha256]: propertiesFingerprint(redeployed),
      } as Record<string, string>,
    });
    aws.followsRequests = false;
    const unchanged = await watchDatabase();
    expect(await refusal(handler, { ...poll, ResourceProperties: redeployed })).toBe(
      `${REFUSED}the poll targets ${REV.name}; request ${event.RequestId} was recorded for ${REV.tenant}`,
    );
    await unchanged.assert();
  });
});

describe('forged polls of a downgrade in flight', () => {
  /** v2's head deployed, then a downgrade to v1's head onEvent accepted, its snapshot being made. */
  async function downgradeInFlight(): Promise<{ event: Json; poll: Json; handler: Handler }> {
    const v2 = { ...V1_PROPERTIES, TargetRevision: REV.tenant };
    await runProvider(aws.handler('v2'), cfnEvent('cfn-create', v2));
    const handler = aws.handler('v2');
    const event = cfnEvent('cfn-update', V1_PROPERTIES, v2);
    const onEvent = (await handler(event, lambdaContext())) as Json;
    expect(onEvent.RdsMigrate).toMatchObject({ plan: [`down ${REV.tenant}`, `down ${REV.orders}`] });
    aws.rdsMock.resetHistory();
    return { event, poll: { ...event, ...onEvent }, handler };
  }

  it('refuses swapped properties when the poll carries no old properties', async () => {
    const { event, poll, handler } = await downgradeInFlight();
    const { OldResourceProperties: _dropped, ...withoutOld } = poll;
    const forged = {
      ...withoutOld,
      ResourceProperties: { ...(event.ResourceProperties as Json), ContextArgs: { tenant: 'attacker' } },
    };
    const unchanged = await watchDatabase();
    expect(await refusal(handler, forged)).toBe(
      `${REFUSED}the poll's properties are not the ones this stack deployed`,
    );
    await unchanged.assert();
  });

  it('refuses swapped properties when the old properties are not the deployed ones either', async () => {
    const { event, poll, handler } = await downgradeInFlight();
    // The old properties are the ones the downgrade replaces, not the ones the stack deployed.
    const forged = {
      ...poll,
      ResourceProperties: { ...(event.ResourceProperties as Json), ContextArgs: { tenant: 'attacker' } },
    };
    const unchanged = await watchDatabase();
    expect(await refusal(handler, forged)).toBe(
      `${REFUSED}the poll's properties are not the ones this stack deployed`,
    );
    await unchanged.assert();
    // The real poll, its properties the deployed ones, goes on to v1's head.
    let answer: Json = {};
    for (let polls = 0; polls < 5 && !answer.IsComplete; polls++)
      answer = (await handler(poll, lambdaContext())) as Json;
    expect(answer.IsComplete).toBe(true);
    expect((await new History().read(connection.db)).heads).toEqual([REV.name]);
  });
});
