/**
 * `npm run demo:deploy`: the deployed function's whole story on one machine. The real handler
 * runs as the CDK Provider framework would drive it, against an embedded PostgreSQL, with a local
 * template-database copy standing in for the RDS snapshot, and fakes for Secrets Manager and
 * CloudFormation:
 *   1. Create: the first deploy, a bundle of all but the last migration of ./migrations;
 *   2. Background: the background migrations that deploy started, run as the state machine runs
 *      them (split, range walks, completion), here in-process with worker connections;
 *   3. Update: a second deploy with one more migration (snapshot, poll, apply);
 *   4. Rollback: CloudFormation rolls the stack back and the OLD bundle, which lacks the new
 *      migration, reverts it with the down step the history recorded when it was applied.
 */
import { randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import {
  CloudFormationClient,
  DescribeStackResourceCommand,
  DescribeStacksCommand,
  type ResourceStatus,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import { RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createHandler, type Handler } from '../lambda/handler.ts';
import { runBackgroundLocally } from '../lib/engine/background-local.ts';
import { bundleHash } from '../lib/engine/bundle.ts';
import { connect } from '../lib/engine/connection.ts';
import { FUNCTION_ENV, propertiesFingerprint } from '../lib/engine/function-contract.ts';
import { RevisionGraph } from '../lib/engine/graph.ts';
import { History } from '../lib/engine/history.ts';
import { loadMigrations } from '../lib/engine/loader.ts';
import type { Migration } from '../lib/engine/migration.ts';
import type { SnapshotService } from '../lib/engine/snapshot.ts';
import { startEmbedded } from '../lib/local/embedded.ts';
import { LocalSnapshots } from '../lib/local/snapshots.ts';

const STACK_ID =
  'arn:aws:cloudformation:eu-west-1:123456789012:stack/DemoStack/2b6f9e10-3c4d-11ef-9a1b-0a1b2c3d4e5f';
const LOGICAL_ID = 'DbMigrationsMigration';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo-db-credentials-AbCdEf';
const SERVICE_TOKEN = 'arn:aws:lambda:eu-west-1:123456789012:function:DemoStack-ProviderframeworkonEvent';
const PHYSICAL_ID = 'rds-migrate/demo-db';

type Json = Record<string, unknown>;

const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const line = (label: string, text: string) => console.log(`  ${label.padEnd(11)} ${text}`);

async function main(): Promise<void> {
  const migrationsDir = resolve('migrations');
  const migrations = inGraphOrder(await loadMigrations(migrationsDir));
  if (migrations.length < 2) throw new Error(`${migrationsDir} needs at least two migrations for the demo`);
  const folder = await mkdtemp(join(tmpdir(), 'rds-migrate-demo-'));
  await chmod(folder, 0o755);
  const oldBundle = await bundleOf(migrationsDir, migrations.slice(0, -1), join(folder, 'bundle-old'));
  const newBundle = await bundleOf(migrationsDir, migrations, join(folder, 'bundle-new'));
  const oldHead = migrations.at(-2)?.revision as string;
  const newHead = migrations.at(-1)?.revision as string;

  console.log(bold('rds-migrate deploy demo'));
  console.log(
    dim(`  migrations from ${migrationsDir}: old bundle ${oldBundle.count}, new bundle ${newBundle.count}`),
  );
  const server = await startEmbedded({ dataDir: join(folder, 'data'), throwaway: true, database: 'app' });
  const admin = await connect({ connectionString: server.url('postgres') }, 'rds-migrate demo admin');
  try {
    const aws = fakeAws(server.url('app'));
    const snapshots = pollsLikeRds(new LocalSnapshots({ admin: admin.db, database: 'app' }));
    // Each code version is deployed with its own properties, as the construct does it: the
    // function refuses requests whose properties are not the ones its stack deployed.
    const handlerFor = (directory: string, deployed: Json): Handler =>
      createHandler({
        rds: aws.rds,
        secrets: aws.secrets,
        cloudformation: aws.cloudformation,
        env: {
          SECRET_ARN,
          DB_KIND: 'instance',
          DB_IDENTIFIER: 'demo-db',
          AUTH_MODE: 'secret',
          [FUNCTION_ENV.stackId]: STACK_ID,
          [FUNCTION_ENV.resourceLogicalId]: LOGICAL_ID,
          [FUNCTION_ENV.propertiesSha256]: propertiesFingerprint(deployed),
        },
        tls: false,
        snapshots,
        migrationsDir: directory,
        logger: new Logger({ serviceName: 'rds-migrate-demo', logLevel: 'SILENT' }),
      });
    const properties = (target: string, hash: string): Json => ({
      ServiceToken: SERVICE_TOKEN,
      TargetRevision: target,
      MigrationsHash: hash,
      Snapshot: { Enabled: 'true', Retain: '5' },
      ContextArgs: { dev_data: 'true' },
    });
    const oldProperties = properties(oldHead, oldBundle.hash);
    const newProperties = properties(newHead, newBundle.hash);
    const oldCode = handlerFor(oldBundle.directory, oldProperties);
    const newCode = handlerFor(newBundle.directory, newProperties);

    step(1, `Create: first deploy, the old bundle (${oldBundle.count} migrations)`);
    await deploy(oldCode, request('Create', oldProperties));
    await showDatabase(server.url('app'));

    step(2, 'Background: what the first deploy started, run as its state machine runs it (here in-process)');
    const runs = await runBackgroundLocally({
      connect: () => connect({ connectionString: server.url('app') }, 'rds-migrate demo background'),
      history: new History(),
      graph: RevisionGraph.from(migrations),
      args: { dev_data: 'true' },
      log: { info: () => undefined, warn: (message) => line('warning', message) },
      ranges: 4,
      concurrency: 2,
      actor: 'demo',
    });
    for (const run of runs) {
      line(
        'background',
        `${run.revision}: ${run.rows} rows over ${run.ranges} ranges, ${run.completed ? 'completed' : `not completed: ${run.reason}`}`,
      );
    }
    if (runs.length === 0) line('background', 'none started');

    step(
      3,
      `Update: second deploy, one more migration (${describeMigration(migrations.at(-1) as Migration)})`,
    );
    aws.stackStatus = 'UPDATE_IN_PROGRESS';
    aws.resourceStatus = 'UPDATE_IN_PROGRESS';
    await deploy(newCode, request('Update', newProperties, oldProperties));
    await showDatabase(server.url('app'));

    step(4, 'Rollback: another resource failed; CloudFormation rolls the stack back');
    console.log(
      dim('  The function was rolled back first (the custom resource depends on it), so the OLD code\n') +
        dim(`  handles the rollback Update: it has no ${newHead}, and reverts it from the history.`),
    );
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    await deploy(oldCode, request('Update', oldProperties, newProperties));
    await showDatabase(server.url('app'));

    step(5, 'Manual invoke: {"action":"status"}');
    const status = (await oldCode({ action: 'status' }, lambdaContext())) as unknown as Json;
    line('current', String(status.current));
    line('head', String(status.head));
    line('pending', JSON.stringify((status.pending as Json[]).map((item) => item.revision)));
    for (const snapshot of status.snapshots as { id: string; tags: Json }[]) {
      line('snapshot', `${snapshot.id} ${dim(JSON.stringify(snapshot.tags))}`);
    }
    console.log(`\n${bold('done')}: deployed, upgraded, rolled back; every step through the same handler.`);
  } finally {
    await admin.close();
    await server.stop();
    await rm(folder, { recursive: true, force: true });
  }
}

/** What the Provider framework does with one request: onEvent, then isComplete until complete. */
async function deploy(handler: Handler, event: Json): Promise<void> {
  const properties = event.ResourceProperties as Json;
  const old = event.OldResourceProperties as Json | undefined;
  line(
    'event',
    `${event.RequestType}  TargetRevision ${properties.TargetRevision}${old ? ` (was ${old.TargetRevision})` : ''}`,
  );
  try {
    const onEventResult = (await handler(event, lambdaContext())) as unknown as Json;
    const marker = onEventResult.RdsMigrate as {
      phase: string;
      from: string[];
      plan: string[];
      snapshotId?: string;
    };
    line('onEvent', `from ${marker.from.join(', ') || 'base'}: ${marker.plan.join(', ') || 'nothing to do'}`);
    if (marker.snapshotId)
      line('snapshot', `${marker.snapshotId} requested ${dim('(a local copy standing in for RDS)')}`);
    const pollEvent = { ...event, ...onEventResult };
    for (let poll = 1; poll <= 20; poll++) {
      const result = (await handler(pollEvent, lambdaContext())) as unknown as Json;
      line(`isComplete`, `poll ${poll}: IsComplete ${result.IsComplete}`);
      if (result.IsComplete) {
        const data = { ...(onEventResult.Data as Json | undefined), ...(result.Data as Json | undefined) };
        line('result', `SUCCESS ${JSON.stringify(data)}`);
        return;
      }
    }
    line('result', 'FAILED Operation timed out');
  } catch (error) {
    line('result', `FAILED ${(error as Error).message}`);
    throw error;
  }
}

async function showDatabase(url: string): Promise<void> {
  const session = await connect({ connectionString: url }, 'rds-migrate demo');
  try {
    const state = await new History().read(session.db);
    const tables = await session.db.query<{ name: string; rows: string }>(
      `SELECT c.relname AS name, c.reltuples::bigint::text AS rows FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`,
    );
    const counts: string[] = [];
    for (const table of tables.rows) {
      const count = await session.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM public.${table.name}`,
      );
      counts.push(`${table.name} (${count.rows[0]?.n ?? 0} rows)`);
    }
    line('database', `revision ${state.heads.join(', ') || 'base'}; tables: ${counts.join(', ') || 'none'}`);
    const last = (await new History().log(session.db, 1))[0];
    if (last)
      line('last step', `${last.direction} ${last.revision} from ${last.source} ${dim(`by ${last.actor}`)}`);
  } finally {
    await session.close();
  }
}

function request(type: 'Create' | 'Update', properties: Json, oldProperties?: Json): Json {
  return {
    RequestType: type,
    ServiceToken: SERVICE_TOKEN,
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/demo',
    StackId: STACK_ID,
    RequestId: randomUUID(),
    LogicalResourceId: LOGICAL_ID,
    ResourceType: 'Custom::RdsMigrate',
    ResourceProperties: properties,
    ...(type === 'Update' ? { PhysicalResourceId: PHYSICAL_ID, OldResourceProperties: oldProperties } : {}),
  };
}

function lambdaContext(): Context {
  return {
    awsRequestId: randomUUID(),
    functionName: 'DemoStack-DbMigrationsHandler',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:DemoStack-DbMigrationsHandler',
    memoryLimitInMB: '512',
    logGroupName: '/aws/lambda/DemoStack-DbMigrationsHandler',
    logStreamName: 'demo',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 300_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Secrets Manager returns the embedded server's credentials; CloudFormation reports `stackStatus`. */
function fakeAws(url: string) {
  const parsed = new URL(url);
  const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
  mockClient(secrets)
    .on(GetSecretValueCommand, { SecretId: SECRET_ARN })
    .resolves({
      SecretString: JSON.stringify({
        username: parsed.username,
        password: decodeURIComponent(parsed.password),
        host: parsed.hostname,
        port: Number(parsed.port),
        dbname: 'app',
      }),
    });
  const cloudformation = new CloudFormationClient({ region: 'eu-west-1' });
  const rds = new RDSClient({ region: 'eu-west-1' });
  mockClient(rds).rejects(new Error('the demo takes local snapshots; RDS is not called'));
  const state = {
    secrets,
    cloudformation,
    rds,
    stackStatus: 'CREATE_IN_PROGRESS' as StackStatus,
    resourceStatus: 'CREATE_IN_PROGRESS' as ResourceStatus,
  };
  mockClient(cloudformation)
    .on(DescribeStackResourceCommand)
    .callsFake(() => ({
      StackResourceDetail: {
        LogicalResourceId: LOGICAL_ID,
        ResourceType: 'Custom::RdsMigrate',
        ResourceStatus: state.resourceStatus,
        LastUpdatedTimestamp: new Date(),
      },
    }))
    .on(DescribeStacksCommand)
    .callsFake(() => ({
      Stacks: [
        {
          StackName: 'DemoStack',
          StackId: STACK_ID,
          StackStatus: state.stackStatus,
          CreationTime: new Date(),
        },
      ],
    }));
  return state;
}

/** A local copy is ready at once; RDS takes minutes. Report `creating` on the first poll, as RDS would. */
function pollsLikeRds(local: LocalSnapshots): SnapshotService {
  const polled = new Set<string>();
  return {
    nameAt: (at, sequence) => local.nameAt(at, sequence),
    create: (request) => local.create(request),
    state: async (id) => {
      if (polled.has(id)) return local.state(id);
      polled.add(id);
      return 'creating';
    },
    list: () => local.list(),
    delete: (id) => local.delete(id),
  };
}

function inGraphOrder(migrations: Migration[]): Migration[] {
  const graph = RevisionGraph.from(migrations);
  return graph.order.map((revision) => graph.get(revision));
}

/** A folder holding copies of `migrations`' files: the function's bundle for one deploy. */
async function bundleOf(
  source: string,
  migrations: readonly Migration[],
  directory: string,
): Promise<{ directory: string; count: number; hash: string }> {
  await mkdir(directory, { recursive: true });
  for (const migration of migrations)
    await copyFile(join(source, migration.source), join(directory, migration.source));
  return { directory, count: migrations.length, hash: bundleHash(migrations) };
}

function describeMigration(migration: Migration): string {
  return `${migration.revision} ${migration.source}`;
}

function step(number: number, title: string): void {
  console.log(`\n${bold(`━━ ${number}. ${title}`)}`);
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
