/**
 * `check` on background migrations and the gate: a background migration changes data only, and
 * a requires_complete names a background migration that comes before it.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkMigrations } from '../../lib/check/check.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'background');
let folder: string;

beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'rds-migrate-check-background-'));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

async function problems(rule: string) {
  const report = await checkMigrations({ migrationsDir: folder, cwd: folder, static: true });
  return report.problems.filter((problem) => problem.rule === rule);
}

async function contract(requires: string): Promise<void> {
  await writeFile(
    join(folder, '202611251000_require.sql'),
    `-- revision: c003e0a1b2c3\n-- down_revision: bf02e0a1b2c3\n-- requires_complete: ${requires}\n\n-- migrate:up\nSELECT 1;\n\n-- migrate:down\nSELECT 1;\n`,
  );
}

describe('check on background migrations', () => {
  it('passes the expand, backfill and contract of the recipe', async () => {
    await cp(join(FIXTURES, 'contract'), folder, { recursive: true });
    const report = await checkMigrations({ migrationsDir: folder, cwd: folder, static: true });
    expect(report.problems).toEqual([]);
  });

  it('flags DDL in the batches of a background migration, with the recipe', async () => {
    await cp(join(FIXTURES, 'base'), folder, { recursive: true });
    await writeFile(
      join(folder, '202611250930_backfill.ts'),
      `export default {
  revision: 'bf02e0a1b2c3',
  downRevision: 'ac01e0a1b2c3',
  background: true,
  async up(ctx) {
    await ctx.batch({
      table: 'accounts',
      run: async (ids, sql) => {
        await sql\`ALTER TABLE accounts ADD COLUMN IF NOT EXISTS flag boolean\`;
        await sql\`UPDATE accounts SET flag = true WHERE id = ANY(\${ids}::bigint[])\`;
      },
    });
  },
  async down() {},
};
`,
    );
    const [found, ...more] = await problems('background-ddl');
    expect(more).toEqual([]);
    expect(found).toMatchObject({
      kind: 'lint',
      file: '202611250930_backfill.ts',
      revision: 'bf02e0a1b2c3',
    });
    expect(found?.message).toMatch(/runs AlterTableStmt in its batches .*changes data only/);
    expect(found?.fix).toMatch(/expand → backfill → contract/);
  });

  it('flags a requires_complete that names nothing, a migration that is not background, or one after it', async () => {
    await cp(join(FIXTURES, 'backfill'), folder, { recursive: true });
    await contract('ffff00001111');
    expect((await problems('requires-complete'))[0]?.message).toMatch(
      /names ffff00001111, which no migration/,
    );
    await contract('ac01e0a1b2c3');
    expect((await problems('requires-complete'))[0]?.message).toMatch(/is not a background migration/);
  });
});
