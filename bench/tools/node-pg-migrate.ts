/**
 * node-pg-migrate through its programmatic `runner`, on SQL migration files generated in the
 * run's folder (`-- Up Migration` / `-- Down Migration`; its loader turns each section into a
 * `pgm.sql` call). Plain SQL files rather than .js modules: like rds-migrate's, they are read
 * afresh by every command, where .js modules would go through jiti's transpile cache (written
 * under node_modules/.cache) and stay in the process's module cache between phases.
 * Its runner wraps EACH migration in its own transaction unless `singleTransaction: true` (the
 * default of its CLI, not of `runner`).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type RunnerOption, runner } from 'node-pg-migrate';
import pg from 'pg';
import type { BenchMigration } from '../workload.ts';
import type { Tool } from './tool.ts';

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export function nodePgMigrate(singleTransaction: boolean): Tool {
  return {
    name: singleTransaction ? 'node-pg-migrate, single tx' : 'node-pg-migrate',
    transactions: singleTransaction
      ? 'singleTransaction: true (its CLI default): one transaction for the run'
      : 'runner() default: one transaction per migration (BEGIN, sql, history INSERT, COMMIT: 4 round trips)',
    async prepare({ url, folder, migrations, applied = 0 }) {
      await writeMigrationFiles(folder, migrations);
      const client = new pg.Client({ connectionString: url, application_name: 'bench-node-pg-migrate' });
      await client.connect();
      const run = async (direction: 'up' | 'down', expected: number) => {
        const options: RunnerOption = {
          dbClient: client,
          dir: folder,
          direction,
          migrationsTable: 'pgmigrations',
          count: Number.POSITIVE_INFINITY,
          singleTransaction,
          logger: silent,
        };
        const ran = await runner(options);
        if (ran.length !== expected)
          throw new Error(`node-pg-migrate ran ${ran.length}, expected ${expected}`);
        return undefined;
      };
      return {
        phases: {
          up: () => run('up', migrations.length - applied),
          'no-op up': () => run('up', 0),
          down: () => run('down', migrations.length),
        },
        close: () => client.end(),
      };
    },
  };
}

async function writeMigrationFiles(folder: string, migrations: readonly BenchMigration[]): Promise<void> {
  await Promise.all(
    migrations.map((migration) => {
      const text = `-- Up Migration\n${migration.up}\n\n-- Down Migration\n${migration.down}\n`;
      return writeFile(
        join(folder, `${1767225600000 + migration.index}_bench_${migration.ordinal}.sql`),
        text,
      );
    }),
  );
}
