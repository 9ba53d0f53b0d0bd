/**
 * rds-migrate the way `rds-migrate up` / `down base` runs it: load the .sql files from disk,
 * build the graph, then migrate (lock, history, drift check, plan, apply) on an open session.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '../../lib/engine/connection.ts';
import type { Database } from '../../lib/engine/database.ts';
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
      const parts = new Map<string, number>();
      const db = timedParts(connection.db, parts);
      const started = performance.now();
      const graph = RevisionGraph.from(await loadMigrations(folder));
      const loaded = performance.now();
      const report = await migrate(db, graph, intent, { actor: 'bench' });
      const migrated = performance.now();
      if (report.steps.length !== expectedSteps) {
        throw new Error(`rds-migrate ran ${report.steps.length} steps, expected ${expectedSteps}`);
      }
      return { 'load + graph': loaded - started, migrate: migrated - loaded, ...Object.fromEntries(parts) };
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

/**
 * The statements of a run that are not the migrations' own SQL, by what they are for, timed from
 * the client (round trip included): where a run's time goes besides the floor's work.
 */
const PARTS: readonly (readonly [string, RegExp])[] = [
  // The record: the schema's lines with the catalog stamp, then the row.
  ['fingerprint after', /^SELECT true AS extra[\s\S]*\)::text AS stamp\n/],
  ['fingerprint after', /^INSERT INTO "[^"]+"\.schema_fingerprints/],
  ['fingerprint check', /^WITH last AS MATERIALIZED/],
  // The lines the check reads only when the catalog changed since the last fingerprint.
  ['fingerprint check', /^SELECT true AS extra[\s\S]*\)::text AS last_id\n/],
  ['history setup', /^BEGIN;\nDO \$rds_migrate\$/],
  // What every run pays around its plan besides the fingerprint: the lock with the history's
  // probe, the history read, the unlock.
  ['lock', /^BEGIN;\nSELECT set_config\('rds_migrate\.locked'/],
  ['history read', /^SELECT \(SELECT coalesce\(array_agg\(revision\)/],
  ['lock', /^SELECT pg_advisory_unlock/],
];

function timedParts(db: Database, parts: Map<string, number>): Database {
  return {
    query: async (text, values) => {
      const part = PARTS.find(([, pattern]) => pattern.test(text))?.[0];
      if (!part) return db.query(text, values);
      const started = performance.now();
      try {
        return await db.query(text, values);
      } finally {
        parts.set(part, (parts.get(part) ?? 0) + performance.now() - started);
      }
    },
  } as Database;
}

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
