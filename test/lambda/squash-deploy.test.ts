/**
 * A squash through the deploy: the bundle with the squashed file deploys cleanly onto a database
 * the old files migrated (the squash is not run again, its checksum is no drift), the stack's
 * rollback (delivered to the previous bundle, the old files) takes the database back, and a new
 * environment deploys from the one file.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import {
  bundleDir,
  cfnEvent,
  DB_IDENTIFIER,
  type Fakes,
  fakes,
  REV,
  runProvider,
  SECRET_ARN,
} from '../fixtures/handler/harness.ts';
import { runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const NOTE = 'fe00000000a1';

let database: TestDatabase;
let connection: Connection;
let aws: Fakes;
let squashed: string;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('test-inspector');
  aws = fakes(database.url);
  // The next release's bundle: v1 squashed into one file, and a migration after it.
  squashed = await mkdtemp(join(tmpdir(), 'rds-migrate-squash-bundle-'));
  await cp(bundleDir('v1'), squashed, { recursive: true });
  const squash = await runCliCaptured(['squash', REV.name, '-d', '.'], {
    env: { DATABASE_URL: database.url },
    cwd: squashed,
  });
  expect(squash.code, squash.stderr).toBe(0);
  await writeFile(
    join(squashed, '202611030900_customer_note.sql'),
    `-- revision: ${NOTE}\n-- down_revision: ${REV.name}\n-- message: customer note\n\n-- migrate:up\n` +
      'ALTER TABLE customers ADD COLUMN note text;\n\n-- migrate:down\nALTER TABLE customers DROP COLUMN note;\n',
  );
});
afterEach(async () => {
  await connection.close();
  await database.drop();
  await rm(squashed, { recursive: true, force: true });
});

/** The function with one bundle or the other, as CloudFormation updates (and rolls back) its code. */
function handlerWith(migrationsDir: string) {
  return aws.handler('v1', {
    env: {
      SECRET_ARN,
      DB_KIND: 'instance',
      DB_IDENTIFIER,
      AUTH_MODE: 'secret',
      MIGRATIONS_DIR: migrationsDir,
    },
  });
}

async function heads(): Promise<string[]> {
  return [...(await new History().read(connection.db)).heads];
}

async function columns(): Promise<string[]> {
  const result = await connection.db.query<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers' ORDER BY column_name",
  );
  return result.rows.map((row) => row.column_name);
}

describe('a squashed bundle through the deploy', () => {
  it('deploys onto a database the old files migrated, and rolls back with the old bundle', async () => {
    const created = await runProvider(
      handlerWith(bundleDir('v1')),
      cfnEvent('cfn-create', { TargetRevision: REV.name }),
    );
    expect(created.status).toBe('SUCCESS');

    const update = await runProvider(
      handlerWith(squashed),
      cfnEvent('cfn-update', { TargetRevision: NOTE }, { TargetRevision: REV.name }),
    );
    expect(update.reason).toBeUndefined();
    expect(update.status).toBe('SUCCESS');
    expect(update.data).toMatchObject({ Revision: NOTE, Applied: '1', Reverted: '0' });
    expect(await heads()).toEqual([NOTE]);
    expect(await columns()).toEqual(['email', 'id', 'name', 'note']);

    // The stack rolls back: the previous bundle (the old files) gets the rollback Update.
    aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
    const rollback = await runProvider(
      handlerWith(bundleDir('v1')),
      cfnEvent('cfn-rollback-update', { TargetRevision: REV.name }, { TargetRevision: NOTE }),
    );
    expect(rollback.reason).toBeUndefined();
    expect(rollback.status).toBe('SUCCESS');
    expect(rollback.data).toMatchObject({ Revision: REV.name, Reverted: '1', Applied: '0' });
    expect(await heads()).toEqual([REV.name]);
    expect(await columns()).toEqual(['email', 'id', 'name']);

    // Deployed again, and asked for its status: no drift from the squash's new checksum.
    aws.stackStatus = 'UPDATE_IN_PROGRESS';
    const again = await runProvider(
      handlerWith(squashed),
      cfnEvent('cfn-update', { TargetRevision: NOTE }, { TargetRevision: REV.name }),
    );
    expect(again.status).toBe('SUCCESS');
    const status = (await handlerWith(squashed)({ action: 'status' })) as unknown as {
      drift: unknown[];
      upToDate: boolean;
    };
    expect(status).toMatchObject({ drift: [], upToDate: true });
  });

  it('creates a new environment from the one file', async () => {
    const created = await runProvider(
      handlerWith(squashed),
      cfnEvent('cfn-create', { TargetRevision: NOTE }),
    );
    expect(created.status).toBe('SUCCESS');
    expect(created.data).toMatchObject({ Revision: NOTE, Applied: '2' });
    expect(await columns()).toEqual(['email', 'id', 'name', 'note']);
    const log = await new History().log(connection.db);
    expect(log.map((row) => `${row.direction} ${row.revision}`).reverse()).toEqual([
      `up ${REV.name}`,
      `up ${NOTE}`,
    ]);
  });
});
