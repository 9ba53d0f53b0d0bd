/**
 * The CLI's deploy-side commands: `invoke` (the deployed function, with Lambda mocked) and the
 * local snapshots `backup`, `backup list`, `restore` (on a real database).
 */
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { type CliResult, runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;

beforeEach(async () => {
  database = await freshDatabase();
});
afterEach(async () => {
  await database.drop();
});

function cli(...argv: string[]): Promise<CliResult> {
  return runCliCaptured(argv, {
    env: { DATABASE_URL: database.url, AWS_REGION: 'eu-west-1' },
    cwd: import.meta.dirname,
  });
}

/** What the Lambda client hands back: the payload's bytes (the SDK wraps them in a blob adapter). */
const encode = (value: unknown) =>
  new TextEncoder().encode(JSON.stringify(value)) as unknown as InvokeCommandOutput['Payload'];

describe('rds-migrate invoke', () => {
  const lambda = mockClient(LambdaClient);
  beforeEach(() => lambda.reset());

  it('sends the action and prints the status as the local status does', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        action: 'status',
        current: ['aaaa00000001'],
        heads: ['aaaa00000002'],
        head: 'aaaa00000002',
        pending: [{ revision: 'aaaa00000002', message: 'two', source: 'two.sql', transactional: true }],
        upToDate: false,
        unknown: [],
        drift: [],
        batches: [],
        recent: [],
        historySchema: 'rds_migrate',
        snapshots: [
          {
            id: 'rds-migrate-app-db-20261125103000',
            createdAt: '2026-11-25T10:30:00.000Z',
            state: 'available',
            tags: {},
          },
        ],
      }),
    });
    const result = await cli('invoke', 'status', '--function-name', 'MyApp-Migrations');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain('database   through MyApp-Migrations');
    expect(result.stdout).toContain('pending    1 migration');
    expect(result.stdout).toContain(
      'snapshot   rds-migrate-app-db-20261125103000  2026-11-25T10:30:00.000Z  available',
    );
    const sent = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(sent?.FunctionName).toBe('MyApp-Migrations');
    expect(JSON.parse(new TextDecoder().decode(sent?.Payload as Uint8Array))).toEqual({ action: 'status' });
  });

  it('passes revision, confirm and -x arguments for a mutating action, and prints JSON', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        action: 'down',
        status: 'applied',
        from: ['b'],
        to: ['a'],
        steps: [],
        remaining: 0,
        durationMs: 5,
      }),
    });
    const result = await cli(
      'invoke',
      'down',
      '--revision',
      'aaaa',
      '--confirm',
      '-x',
      'k=v',
      '--function-name',
      'fn',
      '--json',
    );
    expect(result.code).toBe(EXIT.ok);
    expect(JSON.parse(result.stdout)).toMatchObject({ action: 'down', to: ['a'] });
    const sent = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(JSON.parse(new TextDecoder().decode(sent?.Payload as Uint8Array))).toEqual({
      action: 'down',
      revision: 'aaaa',
      confirm: true,
      args: { k: 'v' },
    });
  });

  it('passes --no-snapshot and --snapshot-id, and prints the snapshot the function took', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        action: 'up',
        status: 'applied',
        from: ['a'],
        to: ['b'],
        steps: [],
        remaining: 0,
        durationMs: 5,
        snapshotId: 'rds-migrate-app-db-20261125103005',
      }),
    });
    const taken = await cli('invoke', 'up', '--confirm', '--function-name', 'fn');
    expect(taken.stdout).toContain('snapshot   rds-migrate-app-db-20261125103005 taken first');
    await cli('invoke', 'up', '--confirm', '--no-snapshot', '--function-name', 'fn');
    await cli('invoke', 'up', '--confirm', '--snapshot-id', 'rds-migrate-app-db-1', '--function-name', 'fn');
    const sent = lambda
      .commandCalls(InvokeCommand)
      .map((call) => JSON.parse(new TextDecoder().decode(call.args[0].input.Payload as Uint8Array)));
    expect(sent).toEqual([
      { action: 'up', confirm: true },
      { action: 'up', confirm: true, snapshot: false },
      { action: 'up', confirm: true, snapshotId: 'rds-migrate-app-db-1' },
    ]);
  });

  it('passes --purge on a stamp, and says what the function forgot', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        action: 'stamp',
        status: 'stamped',
        from: ['ffff00000009'],
        to: ['aaaa00000001'],
        steps: [],
        remaining: 0,
        durationMs: 5,
        purged: ['ffff00000009'],
      }),
    });
    const stamped = await cli(
      'invoke',
      'stamp',
      '--revision',
      'aaaa00000001',
      '--purge',
      '--confirm',
      '--function-name',
      'fn',
    );
    expect(stamped.stdout).toContain('ffff00000009 -> aaaa00000001 (no SQL ran; purged ffff00000009');
    const sent = JSON.parse(
      new TextDecoder().decode(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array),
    );
    expect(sent).toEqual({ action: 'stamp', revision: 'aaaa00000001', confirm: true, purge: true });
  });

  it("exits 1 with the function's own error message", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({
        errorType: 'UsageError',
        errorMessage: 'action \'up\' changes the database: add "confirm": true',
      }),
    });
    const result = await cli('invoke', 'up', '--function-name', 'fn');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toContain(
      'fn answered with an error: action \'up\' changes the database: add "confirm": true',
    );
  });

  it('exits 2 on an action the function does not have, without calling it', async () => {
    const result = await cli('invoke', 'explode', '--function-name', 'fn');
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('status, history, show, heads, up, down, stamp');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it('says what to check when the call itself fails', async () => {
    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Function not found: fn'), { name: 'ResourceNotFoundException' }));
    const result = await cli('invoke', 'status', '--function-name', 'fn');
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toContain('cannot invoke fn: ResourceNotFoundException');
    expect(result.stderr).toContain('FunctionName output');
  });
});

describe('rds-migrate backup and restore', () => {
  async function query(sql: string): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  }

  afterEach(async () => {
    const admin = new pg.Client({ connectionString: inject('postgresAdminUrl') });
    await admin.connect();
    const copies = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      [`${database.name}_%`],
    );
    for (const copy of copies.rows)
      await admin.query(`DROP DATABASE IF EXISTS "${copy.datname}" WITH (FORCE)`);
    await admin.end();
  });

  it('copies the database, lists the copy, and restores it over a change', async () => {
    await query(`CREATE TABLE precious (id int); INSERT INTO precious VALUES (1), (2)`);
    const made = await cli('backup', '--json');
    expect(made.code).toBe(EXIT.ok);
    const copy = JSON.parse(made.stdout) as { id: string; state: string };
    expect(copy.id.startsWith(`${database.name}_`)).toBe(true);

    const listed = await cli('backup', 'list');
    expect(listed.stdout).toContain(copy.id);

    await query('DROP TABLE precious');
    const restored = await cli('restore', copy.id);
    expect(restored.code).toBe(EXIT.ok);
    expect(restored.stdout).toContain(`from ${copy.id}`);
    expect((await query('SELECT count(*)::int AS n FROM precious')).rows[0]).toEqual({ n: 2 });
  });

  it('says which sessions block a copy and what to do', async () => {
    const blocker = new pg.Client({ connectionString: database.url, application_name: 'busy-app' });
    await blocker.connect();
    try {
      const result = await cli('backup');
      expect(result.code).toBe(EXIT.failed);
      expect(result.stderr).toContain('busy-app');
    } finally {
      await blocker.end();
    }
  }, 20_000);

  it('refuses an unknown subcommand', async () => {
    const result = await cli('backup', 'everything');
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('rds-migrate backup list');
  });
});
