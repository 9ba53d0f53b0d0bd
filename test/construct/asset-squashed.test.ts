/**
 * The function's asset leaves out the files a squash replaced (migrations/squashed/): they stay
 * in the repository for reference, never in the function.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFunctionAsset } from '../../lib/construct/bundling.ts';
import { SQUASHED_FOLDER } from '../../lib/engine/loader.ts';

const temp = mkdtempSync(join(tmpdir(), 'rds-migrate-asset-squashed-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('the function asset of a squashed folder', () => {
  it('has the squash and what follows it, not the replaced files', () => {
    const migrations = join(temp, 'migrations');
    cpSync(join(import.meta.dirname, '..', 'fixtures', 'construct', 'valid'), migrations, {
      recursive: true,
    });
    mkdirSync(join(migrations, SQUASHED_FOLDER));
    writeFileSync(join(migrations, SQUASHED_FOLDER, '202601010000_old.sql'), '-- revision: 0123456789ab\n');
    const output = join(temp, 'asset');
    mkdirSync(output);
    writeFunctionAsset(migrations, output);
    const shipped = readdirSync(join(output, 'migrations'));
    expect(shipped).not.toContain(SQUASHED_FOLDER);
    expect(shipped.filter((name) => name.endsWith('.sql')).sort()).toEqual(
      readdirSync(migrations)
        .filter((name) => name.endsWith('.sql'))
        .sort(),
    );
  }, 60_000);
});
