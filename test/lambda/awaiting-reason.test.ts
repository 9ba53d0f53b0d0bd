/**
 * A statement whose allow line awaits its reason is what autogenerate writes so that nobody runs
 * it before deciding. `up` refuses it on every path before anything runs: a deploy, a manual
 * invoke (here), the CLI (test/cli/cli.test.ts). Down steps are not held to it: a rollback is
 * never refused.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AwaitingReasonError } from '../../lib/engine/allow-lines.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { migrate } from '../../lib/engine/runner.ts';
import {
  bundleDir,
  cfnEvent,
  type Fakes,
  fakes,
  lambdaContext,
  REV,
  runProvider,
} from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration } from '../support/migrations.ts';

const NOTE = 'a0b1c2d3e4f5';
const RENAME = 'b1c2d3e4f5a6';

/** What autogenerate writes for a rename it took for a drop and an add: a data-losing pair. */
function renameMigration(reason: string): string {
  return `-- revision: ${RENAME}
-- down_revision: ${NOTE}
-- message: rename name to full_name

-- migrate:up
-- rds-migrate:allow drop-column${reason ? ` ${reason}` : ''}
ALTER TABLE customers DROP COLUMN name;

ALTER TABLE customers ADD COLUMN full_name text;

-- migrate:down
ALTER TABLE customers DROP COLUMN full_name;
ALTER TABLE customers ADD COLUMN name text;
`;
}

let database: TestDatabase;
let connection: Connection;
let aws: Fakes;
let bundle: string;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('test-inspector');
  aws = fakes(database.url);
  expect(
    (await runProvider(aws.handler('v1'), cfnEvent('cfn-create', { TargetRevision: REV.name }))).status,
  ).toBe('SUCCESS');
  await connection.db.query(
    `INSERT INTO customers (email, name) VALUES ('ada@example.com', 'Ada'), ('alan@example.com', 'Alan')`,
  );
  bundle = await mkdtemp(join(tmpdir(), 'rds-migrate-awaiting-'));
  await cp(bundleDir('v1'), bundle, { recursive: true });
  await writeFile(
    join(bundle, '202611040900_add_note.sql'),
    `-- revision: ${NOTE}\n-- down_revision: ${REV.name}\n-- message: add note\n\n-- migrate:up\n` +
      'ALTER TABLE customers ADD COLUMN note text;\n\n-- migrate:down\nALTER TABLE customers DROP COLUMN note;\n',
  );
  await writeFile(join(bundle, '202611040930_rename_name.sql'), renameMigration(''));
});
afterEach(async () => {
  await database.drop();
  await rm(bundle, { recursive: true, force: true });
});

/** The database as the v1 deploy left it: its head, its columns and both names. */
async function unchanged(): Promise<void> {
  expect((await new History().read(connection.db)).heads).toEqual([REV.name]);
  const columns = await connection.db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_name = 'customers' ORDER BY ordinal_position`,
  );
  expect(columns.rows.map((row) => row.column_name)).toEqual(['id', 'email', 'name']);
  const names = await connection.db.query('SELECT name FROM customers ORDER BY id');
  expect(names.rows).toEqual([{ name: 'Ada' }, { name: 'Alan' }]);
}

describe('an allow line awaiting its reason', () => {
  it('fails the deploy before its snapshot, naming the line, with nothing applied', async () => {
    aws.rdsMock.resetHistory();
    const outcome = await runProvider(
      aws.handler('v1', { migrationsDir: bundle }),
      cfnEvent('cfn-update', { TargetRevision: RENAME }, { TargetRevision: REV.name }),
    );
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toContain('nothing was applied: an allow line awaits its reason');
    expect(outcome.reason).toContain(
      '202611040930_rename_name.sql:6: -- rds-migrate:allow drop-column (no reason)',
    );
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
    await unchanged();
  });

  it('refuses a manual up, then applies it once the line says why', async () => {
    aws.rdsMock.resetHistory();
    const handler = aws.handler('v1', { migrationsDir: bundle });
    const error = await handler({ action: 'up', confirm: true }, lambdaContext()).then(
      () => undefined,
      (failed: Error) => failed,
    );
    expect(error?.message).toContain('an allow line awaits its reason');
    expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
    await unchanged();

    await writeFile(
      join(bundle, '202611040930_rename_name.sql'),
      renameMigration('names are rewritten by the app'),
    );
    const up = await aws.handler('v1', { migrationsDir: bundle })(
      { action: 'up', confirm: true },
      lambdaContext(),
    );
    expect(up).toMatchObject({ action: 'up', status: 'applied', to: [RENAME] });
  });

  it('does not hold back a down step, which a rollback must always be able to run', async () => {
    const graph = RevisionGraph.from([
      sqlMigration('keep01', 'CREATE TABLE kept (id int)', { down: 'DROP TABLE kept' }),
      sqlMigration('drop01', '-- rds-migrate:allow drop-table\nDROP TABLE kept', {
        parents: ['keep01'],
        down: 'CREATE TABLE kept (id int)',
      }),
    ]);
    const history = new History('awaiting_history');
    const upgrade = migrate(
      connection.db,
      graph,
      { action: 'upgrade', target: 'head' },
      { actor: 'test', history },
    );
    await expect(upgrade).rejects.toBeInstanceOf(AwaitingReasonError);
    expect((await history.read(connection.db)).exists).toBe(false);
    await migrate(connection.db, graph, { action: 'stamp', target: 'head' }, { actor: 'test', history });
    const down = await migrate(
      connection.db,
      graph,
      { action: 'downgrade', target: 'keep01' },
      { actor: 'test', history },
    );
    expect(down.status).toBe('applied');
  });
});
