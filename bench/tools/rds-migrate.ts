/**
 * rds-migrate the way `rds-migrate up` / `down base` runs it: load the .sql files from disk,
 * build the graph, then migrate (lock, history, drift check, plan, apply) on an open session.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { loadMigrations } from '../../lib/engine/loader.ts';
import { type Intent, migrate } from '../../lib/engine/runner.ts';
import type { BenchMigration } from '../workload.ts';
import type { PhaseDetails, Tool } from './tool.ts';

export const rdsMigrate: Tool = {
  name: 'rds-migrate',
  transactions:
    'whole plan in one transaction; one round trip per migration; the history rows travel with the COMMIT',
  async prepare({ url, folder, migrations, applied = 0 }) {
    await writeMigrationFiles(folder, migrations);
    const connection = await connect({ connectionString: url }, 'bench-rds-migrate');
    const run = async (intent: Intent, expectedSteps: number): Promise<PhaseDetails> => {
      const started = performance.now();
      const graph = RevisionGraph.from(await loadMigrations(folder));
      const loaded = performance.now();
      const report = await migrate(connection.db, graph, intent, { actor: 'bench' });
      const migrated = performance.now();
      if (report.steps.length !== expectedSteps) {
        throw new Error(`rds-migrate ran ${report.steps.length} steps, expected ${expectedSteps}`);
      }
      return { 'load + graph': loaded - started, migrate: migrated - loaded };
    };
    return {
      phases: {
        up: () => run({ action: 'upgrade', target: 'head' }, migrations.length - applied),
        'no-op up': () => run({ action: 'upgrade', target: 'head' }, 0),
        down: () => run({ action: 'downgrade', target: 'base' }, migrations.length),
      },
      close: () => connection.close(),
    };
  },
};

async function writeMigrationFiles(folder: string, migrations: readonly BenchMigration[]): Promise<void> {
  const first = Date.UTC(2026, 0, 1);
  await Promise.all(
    migrations.map((migration, offset) => {
      const stamp = new Date(first + migration.index * 60_000).toISOString().replace(/\D/g, '').slice(0, 12);
      const parent = offset === 0 ? 'none' : (migrations[offset - 1] as BenchMigration).revision;
      const text = [
        `-- revision: ${migration.revision}`,
        `-- down_revision: ${parent}`,
        `-- message: bench ${migration.index}`,
        '',
        '-- migrate:up',
        migration.up,
        '',
        '-- migrate:down',
        migration.down,
        '',
      ].join('\n');
      return writeFile(join(folder, `${stamp}_bench_${migration.ordinal}.sql`), text);
    }),
  );
}
