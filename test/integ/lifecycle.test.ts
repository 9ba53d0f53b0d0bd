/**
 * The integration tests' app (integ.lifecycle.ts), synthesized once and checked offline two ways:
 * 1. Its test cases and stacks against the committed snapshot, as integ-runner compares them. A
 *    difference is a change in what the construct deploys: when it is meant, accept it with
 *    `npm run integ:snapshot` and commit the snapshot.
 * 2. The function assets it synthesized, run under plain node as Lambda runs them, with the
 *    environment and custom resource properties of the synthesized templates, driven by the CDK
 *    Provider framework's own runtime (framework.js of aws-cdk-lib) through a deploy's whole life:
 *    create, update, an update the stack rolls back (the rollback reaching the older asset), and
 *    delete, against real PostgreSQL behind TLS the function verifies. Every AWS API they call is a
 *    stand-in on 127.0.0.1 reached through the SDK's endpoint settings (test/support/aws-stand-ins.ts):
 *    the bundle is run as built, nothing in it is mocked. The one thing replaced is the framework's
 *    PUT of the response to CloudFormation's presigned S3 URL (https only), which is captured.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { FUNCTION_ENV } from '../../lib/engine/function-contract.ts';
import { AssetContainer, type Invocation } from '../support/asset-container.ts';
import { AwsStandIns } from '../support/aws-stand-ins.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { testCertificates } from '../support/function-asset.ts';
import { startTlsProxy, type TlsProxy } from '../support/tls-proxy.ts';
import { INSTANCE_IDENTIFIER, LIFECYCLE_STACK_NAME, REVISION } from './lifecycle-stack.ts';
import { comparableTemplates, SNAPSHOT_DIR, testCases } from './snapshot.ts';
import { synthLifecycle } from './synth.ts';

const ACCEPT =
  'if the change is meant, run npm run integ:snapshot and commit test/integ/integ.lifecycle.ts.snapshot';
const outdir = mkdtempSync(join(tmpdir(), 'rds-migrate-integ-'));
const expected = comparableTemplates(SNAPSHOT_DIR);
let assembly: string;
let actual: Record<string, unknown>;

beforeAll(() => {
  assembly = synthLifecycle(outdir, { validate: false });
  actual = comparableTemplates(assembly);
}, 120_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('the integration tests, synthesized', () => {
  it('have the committed test cases, in their order, with their options', () => {
    expect(testCases(assembly), ACCEPT).toEqual(testCases(SNAPSHOT_DIR));
  });

  it.each(Object.keys(expected))('deploy stack %s as the committed snapshot does', (stack) => {
    expect(actual[stack], ACCEPT).toEqual(expected[stack]);
  });
});

// --- The synthesized assets through a deploy's life --------------------------------------------

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${LIFECYCLE_STACK_NAME}/${randomUUID()}`;
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:integ-secret-AbCdEf`;
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-secret' };
type Json = Record<string, unknown>;

interface Template {
  readonly Resources: Record<string, { readonly Type: string; readonly Properties?: Json }>;
}

/** One step's stack as CloudFormation would see it: its function and its custom resource. */
interface Step {
  readonly asset: string;
  readonly environment: Record<string, string>;
  readonly timeoutSeconds: number;
  readonly resourceLogicalId: string;
  /** As CloudFormation delivers them: every leaf a string. */
  readonly properties: Json;
}

/** What the intrinsic functions of the templates resolve to in this pretend account. */
function resolver(template: Template): (value: unknown) => unknown {
  const refs: Record<string, string> = {
    'AWS::StackId': STACK_ID,
    'AWS::StackName': LIFECYCLE_STACK_NAME,
    'AWS::Region': REGION,
    'AWS::AccountId': ACCOUNT,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::RDS::DBInstance') refs[id] = INSTANCE_IDENTIFIER;
    if (resource.Type === 'AWS::SecretsManager::SecretTargetAttachment') refs[id] = SECRET_ARN;
  }
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (!value || typeof value !== 'object') return value;
    const object = value as Json;
    if ('Ref' in object) {
      const name = String(object.Ref);
      if (!(name in refs)) throw new Error(`the test does not know what Ref ${name} resolves to`);
      return refs[name];
    }
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map(resolve).join(separator);
    }
    if ('Fn::GetAtt' in object) {
      const [id, attribute] = object['Fn::GetAtt'] as [string, string];
      if (attribute !== 'Arn') throw new Error(`the test does not know Fn::GetAtt ${id}.${attribute}`);
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${LIFECYCLE_STACK_NAME}-${id}`;
    }
    return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, resolve(item)]));
  };
  return resolve;
}

/** CloudFormation sends a custom resource's numbers and booleans as strings. */
function asDelivered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asDelivered);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, asDelivered(item)]));
  }
  return String(value);
}

function stepOf(stackId: string): Step {
  const template = JSON.parse(readFileSync(join(assembly, `${stackId}.template.json`), 'utf8')) as Template;
  const resolve = resolver(template);
  const resources = Object.entries(template.Resources);
  const [, fn] = resources.find(
    ([, resource]) =>
      resource.Type === 'AWS::Lambda::Function' &&
      FUNCTION_ENV.propertiesSha256 in
        (((resource.Properties?.Environment as Json)?.Variables as Json) ?? {}),
  ) ?? ['', undefined];
  const [resourceLogicalId, custom] = resources.find(
    ([, resource]) => resource.Type === 'Custom::RdsMigrate',
  ) ?? ['', undefined];
  if (!fn?.Properties || !custom?.Properties)
    throw new Error(`${stackId} has no migrations function or resource`);
  const code = fn.Properties.Code as { S3Key: string };
  return {
    asset: join(assembly, `asset.${code.S3Key.replace(/\.zip$/, '')}`),
    environment: resolve((fn.Properties.Environment as Json).Variables) as Record<string, string>,
    timeoutSeconds: Number(fn.Properties.Timeout),
    resourceLogicalId,
    properties: asDelivered(resolve(custom.Properties)) as Json,
  };
}

describe('the synthesized function assets, through a deploy, an update, a rollback and a delete', () => {
  const require = createRequire(import.meta.url);
  const runtime = join(
    require.resolve('aws-cdk-lib/package.json'),
    '..',
    'custom-resources/lib/provider-framework/runtime',
  );
  const framework = require(join(runtime, 'framework.js')) as Record<
    string,
    (event: unknown) => Promise<void>
  >;
  const outbound = require(join(runtime, 'outbound.js')) as Record<string, unknown>;
  const cfnResponse = require(join(runtime, 'cfn-response.js')) as { Retry: new () => Error };
  const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${LIFECYCLE_STACK_NAME}-MigrationsFunction`;
  const saved = { httpRequest: outbound.httpRequest };
  const submitted: Json[] = [];
  const containers: AssetContainer[] = [];
  let database: TestDatabase;
  let proxy: TlsProxy;
  let aws: AwsStandIns;
  let certificates: string;
  /** The code CloudFormation has deployed for the function now. */
  let current: AssetContainer;
  let steps: Record<'first' | 'update' | 'failing', { step: Step; container: AssetContainer }>;

  beforeAll(async () => {
    // The framework logs every step with console.log; keep the test's output readable.
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    database = await freshDatabase();
    const url = new URL(database.url);
    certificates = mkdtempSync(join(tmpdir(), 'rds-migrate-integ-tls-'));
    const files = testCertificates(certificates);
    proxy = await startTlsProxy({
      target: { host: url.hostname, port: Number(url.port) },
      cert: readFileSync(files.cert),
      key: readFileSync(files.key),
    });
    const update = stepOf('Update');
    aws = new AwsStandIns({
      region: REGION,
      secret: {
        arn: SECRET_ARN,
        value: {
          username: decodeURIComponent(url.username),
          password: decodeURIComponent(url.password),
          host: '127.0.0.1',
          port: proxy.port,
          dbname: database.name,
        },
      },
      instance: INSTANCE_IDENTIFIER,
      stack: { id: STACK_ID, name: LIFECYCLE_STACK_NAME, resourceLogicalId: update.resourceLogicalId },
      invoke: (name, event): Promise<Invocation> => {
        if (name !== FUNCTION_ARN) throw new Error(`invoked ${name}, not the migrations function`);
        return current.invoke(event, randomUUID());
      },
    });
    const endpoint = await aws.start();
    const container = (step: Step) => {
      const started = new AssetContainer(step.asset, {
        ...step.environment,
        ...CREDENTIALS,
        // What Lambda sets; the task root is the asset's folder here, not /var/task.
        AWS_REGION: REGION,
        AWS_LAMBDA_FUNCTION_NAME: `${LIFECYCLE_STACK_NAME}-MigrationsFunction`,
        FUNCTION_ARN,
        FUNCTION_TIMEOUT_MS: String(step.timeoutSeconds * 1000),
        MIGRATIONS_DIR: join(step.asset, 'migrations'),
        AWS_ENDPOINT_URL: endpoint,
        [FUNCTION_ENV.caBundle]: files.ca,
      });
      containers.push(started);
      return { step, container: started };
    };
    steps = {
      first: container(stepOf('FirstDeploy')),
      update: container(update),
      failing: container(stepOf('FailedUpdate')),
    };
    await Promise.all(containers.map((started) => started.ready));
    // The framework's own SDK clients (Lambda, Step Functions) reach the stand-ins the same way.
    const frameworkEnvironment = {
      ...CREDENTIALS,
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL: endpoint,
      USER_ON_EVENT_FUNCTION_ARN: FUNCTION_ARN,
      USER_IS_COMPLETE_FUNCTION_ARN: FUNCTION_ARN,
      WAITER_STATE_MACHINE_ARN: WAITER_ARN,
    };
    for (const [name, value] of Object.entries(frameworkEnvironment)) vi.stubEnv(name, value);
    outbound.httpRequest = async (_options: unknown, body: string) => {
      submitted.push(JSON.parse(body) as Json);
    };
  }, 60_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    outbound.httpRequest = saved.httpRequest;
    vi.unstubAllEnvs();
    for (const container of containers) container.stop();
    await aws?.close();
    await proxy?.close();
    await database?.drop();
    rmSync(certificates, { recursive: true, force: true });
  });

  let physicalResourceId = '';
  const WAITER_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:MigrationsProviderWaiter`;
  /** The framework's waiter executions: each one's input is the request isComplete is polled with. */
  const waiterExecutions = () =>
    aws.executions.filter((execution) => execution.stateMachineArn === WAITER_ARN);

  /**
   * One request through the framework as CloudFormation sends it while the stack and resource are
   * in `state`: onEvent, then isComplete with the waiter's input until the framework answers
   * (each poll is what the waiter state machine would invoke next; no waiting between polls).
   */
  async function deploy(
    request: {
      RequestType: 'Create' | 'Update' | 'Delete';
      ResourceProperties: Json;
      OldResourceProperties?: Json;
    },
    state: { status: string; resourceStatus: string },
    code: AssetContainer,
  ): Promise<Json> {
    aws.stack = state;
    current = code;
    submitted.length = 0;
    const waiters = waiterExecutions().length;
    const event = {
      ...request,
      ServiceToken: request.ResourceProperties.ServiceToken,
      ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/response',
      StackId: STACK_ID,
      RequestId: randomUUID(),
      LogicalResourceId: steps.update.step.resourceLogicalId,
      ResourceType: 'Custom::RdsMigrate',
      ...(request.RequestType === 'Create' ? {} : { PhysicalResourceId: physicalResourceId }),
    };
    await framework.onEvent?.(event);
    for (let poll = 0; submitted.length === 0 && poll < 10; poll++) {
      const started = waiterExecutions();
      const waiter = started[started.length - 1];
      if (started.length === waiters || !waiter) break;
      try {
        await framework.isComplete?.(JSON.parse(waiter.input));
      } catch (error) {
        if (!(error instanceof cfnResponse.Retry)) throw error;
      }
    }
    const [response] = submitted;
    if (!response)
      throw new Error(`no response to ${request.RequestType}; the function logged:\n${code.logs()}`);
    if (response.Status !== 'SUCCESS') throw new Error(`${request.RequestType} failed: ${response.Reason}`);
    return response;
  }

  let session: Promise<Connection> | undefined;
  /** A query on the database, in a session of the test's own (closed by the database's drop). */
  async function query(sql: string): Promise<unknown[]> {
    session ??= database.connect();
    return (await (await session).db.query(sql)).rows;
  }

  it('creates: snapshots the new database, then migrates it to the first revisions', async () => {
    const { first } = steps;
    const response = await deploy(
      { RequestType: 'Create', ResourceProperties: first.step.properties },
      { status: 'CREATE_IN_PROGRESS', resourceStatus: 'CREATE_IN_PROGRESS' },
      first.container,
    );
    physicalResourceId = String(response.PhysicalResourceId);
    expect(response.Data).toMatchObject({ Revision: REVISION.addEmailNormalized });
    expect(await query('SELECT count(*)::int AS n FROM accounts')).toEqual([{ n: 500 }]);
    expect([...aws.snapshots.values()].map((snapshot) => snapshot.tags['rds-migrate:to'])).toEqual([
      REVISION.addEmailNormalized,
    ]);
    // Before it changed anything, the function asked CloudFormation whether the request was real.
    expect(aws.calls).toEqual(
      expect.arrayContaining(['cloudformation:DescribeStacks', 'cloudformation:DescribeStackResource']),
    );
  });

  it('updates: a new snapshot, the added migration started in the background, the older snapshot pruned', async () => {
    const { first, update } = steps;
    const response = await deploy(
      {
        RequestType: 'Update',
        ResourceProperties: update.step.properties,
        OldResourceProperties: first.step.properties,
      },
      { status: 'UPDATE_IN_PROGRESS', resourceStatus: 'UPDATE_IN_PROGRESS' },
      update.container,
    );
    expect(response.PhysicalResourceId).toBe(physicalResourceId);
    expect(response.Data).toMatchObject({ Revision: REVISION.backfillEmailNormalized });
    // Only the newest snapshot is kept (snapshot.retain: 1).
    expect([...aws.snapshots.values()].map((snapshot) => snapshot.tags)).toEqual([
      expect.objectContaining({
        'rds-migrate:from': REVISION.addEmailNormalized,
        'rds-migrate:to': REVISION.backfillEmailNormalized,
      }),
    ]);
    // The background migration's run went to the construct's state machine.
    const background = aws.executions.filter(
      (execution) => execution.stateMachineArn === update.step.environment.BACKGROUND_STATE_MACHINE_ARN,
    );
    expect(background.map((execution) => JSON.parse(execution.input))).toEqual([
      expect.objectContaining({ revision: REVISION.backfillEmailNormalized }),
    ]);
  });

  it('refuses a hand-written Update to base invoked on the function while the stack rests, changing nothing', async () => {
    const { update } = steps;
    aws.stack = { status: 'UPDATE_COMPLETE', resourceStatus: 'UPDATE_COMPLETE' };
    const calls = aws.calls.length;
    const snapshots = [...aws.snapshots.keys()];
    const before = await update.container.invoke({ action: 'status' }, randomUUID());
    // What anyone granted lambda:InvokeFunction can send: CloudFormation's shape, every migration
    // reverted, no snapshot.
    const forged = await update.container.invoke(
      {
        RequestType: 'Update',
        ServiceToken: update.step.properties.ServiceToken,
        ResponseURL: 'https://example.com/response',
        StackId: STACK_ID,
        RequestId: randomUUID(),
        LogicalResourceId: update.step.resourceLogicalId,
        PhysicalResourceId: physicalResourceId,
        ResourceType: 'Custom::RdsMigrate',
        ResourceProperties: {
          ...update.step.properties,
          TargetRevision: 'base',
          Snapshot: { Policy: 'never' },
        },
        OldResourceProperties: update.step.properties,
      },
      randomUUID(),
    );
    expect(forged.functionError).toBe('Unhandled');
    expect(JSON.stringify(forged.payload)).toMatch(
      /request refused, nothing was changed: CloudFormation reports stack UPDATE_COMPLETE/,
    );
    expect(update.container.logs()).toContain('lifecycle request refused');
    // It asked CloudFormation, and nothing else: no snapshot, no change to the database.
    expect(aws.calls.slice(calls).filter((call) => !call.startsWith('secretsmanager:'))).toEqual(
      expect.arrayContaining(['cloudformation:DescribeStacks']),
    );
    expect(aws.calls.slice(calls).some((call) => call.startsWith('rds:Create'))).toBe(false);
    expect([...aws.snapshots.keys()]).toEqual(snapshots);
    expect(await query('SELECT count(*)::int AS n FROM accounts')).toEqual([{ n: 500 }]);
    const after = await update.container.invoke({ action: 'status' }, randomUUID());
    expect((after.payload as Json).current).toEqual((before.payload as Json).current);
    expect((after.payload as Json).current).toEqual([REVISION.backfillEmailNormalized]);
  });

  it('rolls back an update the stack fails after it, with the older code that lacks the migration', async () => {
    const { update, failing } = steps;
    const forward = await deploy(
      {
        RequestType: 'Update',
        ResourceProperties: failing.step.properties,
        OldResourceProperties: update.step.properties,
      },
      { status: 'UPDATE_IN_PROGRESS', resourceStatus: 'UPDATE_IN_PROGRESS' },
      failing.container,
    );
    expect(forward.Data).toMatchObject({ Revision: REVISION.addPlan });
    expect(
      await query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'plan'",
      ),
    ).toEqual([{ n: 1 }]);
    // A later resource failed: CloudFormation rolls the function back to the older code first,
    // then sends the custom resource the old properties.
    const rollback = await deploy(
      {
        RequestType: 'Update',
        ResourceProperties: update.step.properties,
        OldResourceProperties: failing.step.properties,
      },
      { status: 'UPDATE_ROLLBACK_IN_PROGRESS', resourceStatus: 'UPDATE_IN_PROGRESS' },
      update.container,
    );
    expect(rollback.Data).toMatchObject({ Revision: REVISION.backfillEmailNormalized });
    expect(
      await query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'plan'",
      ),
    ).toEqual([{ n: 0 }]);
    const status = await update.container.invoke({ action: 'status' }, randomUUID());
    expect(status.functionError).toBeUndefined();
    expect(status.payload).toMatchObject({
      current: [REVISION.backfillEmailNormalized],
      recent: expect.arrayContaining([
        expect.objectContaining({ revision: REVISION.addPlan, direction: 'down' }),
      ]),
    });
  });

  it('deletes without touching the schema or the data', async () => {
    const { update } = steps;
    const snapshots = [...aws.snapshots.keys()];
    await deploy(
      { RequestType: 'Delete', ResourceProperties: update.step.properties },
      { status: 'DELETE_IN_PROGRESS', resourceStatus: 'DELETE_IN_PROGRESS' },
      update.container,
    );
    expect(await query('SELECT count(*)::int AS n FROM accounts')).toEqual([{ n: 500 }]);
    expect(
      await query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'accounts'"),
    ).toEqual([{ n: 3 }]);
    expect([...aws.snapshots.keys()]).toEqual(snapshots);
  });
});
