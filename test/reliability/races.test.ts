/**
 * Ten runners at once on one database, CLI processes and handler invocations mixed: exactly one
 * applies each revision, the rest wait and find nothing to do (or, with a tiny --lock-wait,
 * report the lock and exit 3), and the history has no duplicate.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import { History } from '../../lib/engine/history.ts';
import { bundleDir, cfnEvent, fakes, REV, runProvider } from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

let database: TestDatabase;
let connection: Connection;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('inspector');
});
afterEach(async () => {
  await database.drop();
});

async function cliUp(lockWait: string): Promise<number> {
  try {
    await run(
      process.execPath,
      ['--import', 'tsx', resolve(repo, 'bin/cli.ts'), 'up', '-d', bundleDir('v2'), '--lock-wait', lockWait],
      {
        cwd: repo,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database.url },
      },
    );
    return EXIT.ok;
  } catch (error) {
    return (error as { code: number }).code;
  }
}

describe('ten concurrent runners', () => {
  it('apply each revision exactly once', async () => {
    const aws = fakes(database.url);
    // CloudFormation may deliver the same request more than once: five copies of one event.
    const event = cfnEvent('cfn-create', { TargetRevision: REV.tenant, Snapshot: { Enabled: 'false' } });
    const deploy = () => runProvider(aws.handler('v2'), structuredClone(event));
    const [cli, handlers] = await Promise.all([
      Promise.all([cliUp('60'), cliUp('60'), cliUp('60'), cliUp('0.001'), cliUp('0.001')]),
      Promise.all([deploy(), deploy(), deploy(), deploy(), deploy()]),
    ]);

    expect(cli.slice(0, 3)).toEqual([EXIT.ok, EXIT.ok, EXIT.ok]);
    for (const code of cli.slice(3)) expect([EXIT.ok, EXIT.locked]).toContain(code);
    expect(handlers.map((outcome) => outcome.status)).toEqual([
      'SUCCESS',
      'SUCCESS',
      'SUCCESS',
      'SUCCESS',
      'SUCCESS',
    ]);
    expect(handlers.map((outcome) => outcome.data.Revision)).toEqual(Array(5).fill(REV.tenant));

    const history = new History();
    expect((await history.read(connection.db)).heads).toEqual([REV.tenant]);
    const ups = (await history.log(connection.db))
      .filter((row) => row.direction === 'up')
      .map((row) => row.revision);
    expect(ups.sort()).toEqual([REV.customers, REV.name, REV.orders, REV.tenant].sort());
  }, 60_000);
});
