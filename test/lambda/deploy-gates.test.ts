/**
 * A background migration and the migration that needs it complete, in one deploy: onEvent runs
 * the backfill inside the deploy only for a small table, and refuses it, before any snapshot, at
 * more than 10,000 rows (lambda/deploy/plan.ts). One database for the file, taken from step to step.
 */
import { join } from 'node:path';
import { CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  type ProviderOutcome,
  runProvider,
  SECRET_ARN,
} from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;
let connection: Connection;
let aws: Fakes;

beforeAll(async () => {
  database = await freshDatabase();
  connection = await database.connect();
  aws = fakes(database.url);
});
afterAll(async () => {
  await database.drop();
});

/** A deploy of `bundle` to its head (or to `target`): Create the first time, then Update from `from`. */
function deploy(bundle: Bundle, from?: Bundle, target: Bundle = bundle): Promise<ProviderOutcome> {
  const handler = aws.handler('v1', {
    migrationsDir: join(FIXTURES, bundle),
    env: { SECRET_ARN, DB_KIND: 'instance', DB_IDENTIFIER, AUTH_MODE: 'secret' },
  });
  const event = from
    ? cfnEvent('cfn-update', { TargetRevision: REV[target], ContextArgs: {} }, { TargetRevision: REV[from] })
    : cfnEvent('cfn-create', { TargetRevision: REV[target], ContextArgs: {} });
  return runProvider(handler, event);
}

async function heads(): Promise<readonly string[]> {
  return (await new History().read(connection.db)).heads;
}

describe('a backfill and the migration that needs it complete, in one deploy', () => {
  it('runs the backfill inside the deploy for a table yet to be made, and for 10,000 rows; refuses 10,001', async () => {
    // A fresh database: the plan makes the table, so there is nothing to count.
    expect((await deploy('contract')).status).toBe('SUCCESS');
    expect(await heads()).toEqual([REV.contract]);
    expect((await deploy('contract', 'contract', 'base')).status).toBe('SUCCESS');

    await connection.db.query(
      `INSERT INTO accounts (email) SELECT 'User' || i || '@Example.COM' FROM generate_series(1, 10001) AS i`,
    );
    const snapshots = aws.rdsMock.commandCalls(CreateDBSnapshotCommand).length;
    const refused = await deploy('contract', 'base');
    expect(refused.status).toBe('FAILED');
    expect(refused.reason).toBe(
      `background migration ${REV.backfill} and ${REV.contract}, which requires it complete, are in the same deploy, ` +
        'and accounts has more than 10000 rows, too many to backfill inside the deploy; nothing was migrated. ' +
        `Deploy ${REV.backfill} first, and ${REV.contract} once it has completed.`,
    );
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(snapshots);
    expect(await heads()).toEqual([REV.base]);

    await connection.db.query('DELETE FROM accounts WHERE id = (SELECT max(id) FROM accounts)');
    expect((await deploy('contract', 'base')).status).toBe('SUCCESS');
    expect(await heads()).toEqual([REV.contract]);
    const filled = await connection.db.query(
      'SELECT count(*)::int AS n FROM accounts WHERE email_lower IS NOT NULL',
    );
    expect(filled.rows).toEqual([{ n: 10_000 }]);
  });
});
