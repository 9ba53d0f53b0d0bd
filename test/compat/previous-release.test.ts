/**
 * This release and the previous one on one database, as a stack's life puts them there: the
 * previous release deployed first, this one upgrades the history and applies more, then a stack
 * rollback runs the PREVIOUS release's prebuilt handler (the function is rolled back first),
 * which must revert the newer revisions from the history this release wrote. And the plain
 * direction: a history the previous release's CLI wrote is upgraded and used with nothing lost.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { CURRENT_FORMAT } from '../../lib/engine/history-format.ts';
import { loadMigrations } from '../../lib/engine/loader.ts';
import { migrate } from '../../lib/engine/runner.ts';
import type { SnapshotInfo, SnapshotService } from '../../lib/engine/snapshot.ts';
import { RELEASE } from '../../lib/engine/version.ts';
import {
  bundleDir,
  cfnEvent,
  DB_IDENTIFIER,
  type Fakes,
  fakes,
  REV,
  runProvider,
  SECRET_ARN,
  secretFor,
  silentLogger,
} from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { type BuiltRelease, buildPreviousRelease, PREVIOUS_RELEASE } from './previous-release.ts';

type Handler = (event: unknown, context?: unknown) => Promise<unknown>;
type HandlerModule = { createHandler(deps: Record<string, unknown>): Handler };

const BUILD_TIMEOUT = 300_000;
let previous: BuiltRelease;
let previousModule: HandlerModule;
let database: TestDatabase;
let connection: Connection;
let aws: Fakes;
let snapshots: MemorySnapshots;

beforeAll(async () => {
  previous = buildPreviousRelease();
  previousModule = (await import(pathToFileURL(previous.handlerModule).href)) as HandlerModule;
}, BUILD_TIMEOUT);

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect();
  aws = fakes(database.url);
  snapshots = new MemorySnapshots();
});
afterEach(async () => {
  await database.drop();
});

/** RDS snapshots stand-in both releases share (its shape is the SnapshotService both know). */
class MemorySnapshots implements SnapshotService {
  readonly made: SnapshotInfo[] = [];
  nameAt(at: Date, sequence = 1): string {
    return `rds-migrate-${DB_IDENTIFIER}-${at.getTime()}-${sequence}`;
  }
  async create(request: { name?: string; tags: Record<string, string> }): Promise<string> {
    const id = request.name ?? `rds-migrate-${DB_IDENTIFIER}-${this.made.length + 1}`;
    this.made.unshift({ id, createdAt: new Date(), state: 'available', tags: request.tags });
    return id;
  }
  async state(): Promise<'available'> {
    return 'available';
  }
  async list(): Promise<SnapshotInfo[]> {
    return [...this.made];
  }
  async delete(id: string): Promise<void> {
    this.made.splice(
      this.made.findIndex((snapshot) => snapshot.id === id),
      1,
    );
  }
}

/**
 * The previous release's prebuilt handler, with AWS faked at its dependency seams (it bundles
 * its own SDK, so only the shapes it calls matter): the secret, the stack status, snapshots.
 */
function previousHandler(bundle: 'v1' | 'v2'): Handler {
  return previousModule.createHandler({
    rds: { send: async () => ({}) },
    secrets: { send: async () => ({ SecretString: secretFor(database.url) }) },
    cloudformation: {
      send: async () => ({ Stacks: [{ StackName: 'MyAppStack', StackStatus: aws.stackStatus }] }),
    },
    env: {
      SECRET_ARN,
      DB_KIND: 'instance',
      DB_IDENTIFIER,
      AUTH_MODE: 'secret',
      MIGRATIONS_DIR: bundleDir(bundle),
    },
    tls: false,
    snapshots,
    logger: silentLogger(),
  });
}

const currentHandler = (bundle: 'v1' | 'v2') => aws.handler(bundle, { snapshots });

async function rows<T>(sql: string): Promise<T[]> {
  return (await connection.db.query<T>(sql)).rows;
}

async function tables(): Promise<string[]> {
  return (
    await rows<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
    )
  ).map((row) => row.name);
}

function previousCli(args: readonly string[]): string {
  return execFileSync(process.execPath, [...previous.cli, ...args, '--database-url', database.url], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, NODE_NO_WARNINGS: '1' },
  });
}

describe(`rds-migrate ${PREVIOUS_RELEASE.version} (the previous release) and ${RELEASE} on one database`, () => {
  it('builds the previous release from its commit, with its prebuilt handler', () => {
    const manifest = JSON.parse(readFileSync(join(previous.packageDir, 'package.json'), 'utf8'));
    expect(manifest.version).toBe(PREVIOUS_RELEASE.version);
    expect(previousCli(['status', '-d', bundleDir('v1')])).toContain('current    base');
    expect(typeof previousModule.createHandler).toBe('function');
  });

  it('a stack rollback on the previous release reverts what this release applied, from the history it wrote', async () => {
    // 1. The previous release deploys v1: a history of its own format.
    const created = await runProvider(
      previousHandler('v1') as never,
      cfnEvent('cfn-create', { TargetRevision: REV.name }),
    );
    expect(created.status).toBe('SUCCESS');
    expect(await new History().format(connection.db)).toBe(PREVIOUS_RELEASE.historyFormat);
    const v1Tables = await tables();

    // 2. This release deploys v2: it upgrades the history with its first change.
    const updated = await runProvider(
      currentHandler('v2'),
      cfnEvent('cfn-update', { TargetRevision: REV.tenant }, { TargetRevision: REV.name }),
    );
    expect(updated.status).toBe('SUCCESS');
    expect(await new History().format(connection.db)).toBe(CURRENT_FORMAT);
    expect((await new History().read(connection.db)).heads).toEqual([REV.tenant]);

    // 3. The stack rolls back: CloudFormation rolls the function back to the previous release's
    //    code first, then sends the Update with the old properties.
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const rolledBack = await runProvider(
      previousHandler('v1') as never,
      cfnEvent('cfn-rollback-update', { TargetRevision: REV.name }, { TargetRevision: REV.tenant }),
    );
    expect(rolledBack.status).toBe('SUCCESS');
    expect(rolledBack.data).toMatchObject({
      Revision: REV.name,
      PreviousRevision: REV.tenant,
      Reverted: '2',
    });
    expect(await tables()).toEqual(v1Tables);
    expect(await rows(`SELECT 1 FROM app_settings WHERE key = 'tenant'`)).toEqual([]);

    // The history keeps its newer format and every row, with the reverts the previous release logged.
    const history = new History();
    expect(await history.format(connection.db)).toBe(CURRENT_FORMAT);
    expect((await history.read(connection.db)).heads).toEqual([REV.name]);
    const log = await rows<{ direction: string; revision: string; release: string | null }>(
      'SELECT direction, revision, release FROM rds_migrate.log ORDER BY id',
    );
    expect(log).toEqual([
      { direction: 'up', revision: REV.customers, release: null },
      { direction: 'up', revision: REV.name, release: null },
      { direction: 'up', revision: REV.orders, release: RELEASE },
      { direction: 'up', revision: REV.tenant, release: RELEASE },
      { direction: 'down', revision: REV.tenant, release: null },
      { direction: 'down', revision: REV.orders, release: null },
    ]);

    // 4. The next deploy with this release goes forward again.
    aws.stackStatus = 'UPDATE_IN_PROGRESS';
    const again = await runProvider(
      currentHandler('v2'),
      cfnEvent('cfn-update', { TargetRevision: REV.tenant }, { TargetRevision: REV.name }),
    );
    expect(again.status).toBe('SUCCESS');
    expect(again.data).toMatchObject({ Applied: '2' });
  });

  it("upgrades a history the previous release's CLI wrote, losing nothing, and the previous CLI still reads it", async () => {
    expect(previousCli(['up', '-d', bundleDir('v1')])).toMatch(/2 migrations in 1 transaction/);
    const before = await rows(
      'SELECT id, revision, parents, direction, checksum, down_kind, down_text, run_id, actor FROM rds_migrate.log ORDER BY id',
    );
    expect(await new History().format(connection.db)).toBe(PREVIOUS_RELEASE.historyFormat);

    const graph = RevisionGraph.from(await loadMigrations(bundleDir('v2')));
    const report = await migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      {
        actor: 'test',
        args: { tenant: 'acme' },
      },
    );
    expect(report.steps.map((step) => step.revision)).toEqual([REV.orders, REV.tenant]);
    expect(await new History().format(connection.db)).toBe(CURRENT_FORMAT);
    expect(
      await rows(
        `SELECT id, revision, parents, direction, checksum, down_kind, down_text, run_id, actor FROM rds_migrate.log WHERE id <= ${before.length} ORDER BY id`,
      ),
    ).toEqual(before);

    // The previous release's CLI reads the newer history: status and history work.
    const status = JSON.parse(previousCli(['status', '--json', '-d', bundleDir('v2')]));
    expect(status.current).toEqual([REV.tenant]);
    expect(status.upToDate).toBe(true);
    expect(previousCli(['history', '-d', bundleDir('v2')])).toContain(REV.tenant);
    // ... and reverts with its own copy of the migrations.
    expect(previousCli(['down', REV.name, '-d', bundleDir('v2')])).toMatch(/reverted/);
    expect((await new History().read(connection.db)).heads).toEqual([REV.name]);
  });
});
