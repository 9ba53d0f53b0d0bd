/**
 * The integration tests' app (integ.lifecycle.ts), synthesized and checked offline: its test
 * cases and stacks against the committed snapshot, as integ-runner compares them. A difference is
 * a change in what the construct deploys: when it is meant, accept it with
 * `npm run integ:snapshot` and commit the snapshot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
