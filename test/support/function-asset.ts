/** Runs a function asset the way Lambda would: plain `node`, the asset folder as the task root. */

import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Copies `asset` to a bare folder (no node_modules anywhere above it), imports its index.mjs
 * with the environment the construct sets, and sends a manual invoke with an unknown action.
 * Returns what the handler answered (its error message).
 */
export function answerUnknownAction(asset: string): string {
  const taskRoot = join(mkdtempSync(join(tmpdir(), 'rds-migrate-task-')), 'task');
  cpSync(asset, taskRoot, { recursive: true });
  const script =
    "const { handler } = await import('./index.mjs');" +
    "await handler({ action: 'no-such-action' }).then(() => console.log('resolved'), (error) => console.log(error.message));";
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: taskRoot,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'eu-west-1',
      MIGRATIONS_DIR: join(taskRoot, 'migrations'),
      DB_KIND: 'instance',
      DB_IDENTIFIER: 'app-db',
      AUTH_MODE: 'secret',
      SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf',
      LOG_LEVEL: 'CRITICAL',
    },
  });
}
