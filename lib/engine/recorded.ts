/**
 * Down steps kept in the history, so that code which lacks a migration can still revert it.
 * This is what makes a stack rollback safe when the function that handles it runs the older
 * bundle: the database carries the way back for every revision it holds.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MigrationLoadError } from './errors.ts';
import type { RecordedDownStep, RecordedRevision } from './history.ts';
import { migrationFromModule } from './loader.ts';
import type { Migration } from './migration.ts';

/** The down step of `migration` as the history stores it, or undefined when it has none. */
export async function recordDownStep(migration: Migration): Promise<RecordedDownStep | undefined> {
  if (!migration.down) return undefined;
  if (migration.down.kind === 'sql') return { kind: 'sql', text: migration.down.sql };
  if (!migration.modulePath) return undefined;
  return { kind: 'module', text: await selfContainedModule(migration.modulePath) };
}

/** A compiled `.mjs` (the Lambda bundle) is used as it is; a `.ts` source is bundled with esbuild. */
async function selfContainedModule(path: string): Promise<string> {
  if (path.endsWith('.mjs') || path.endsWith('.js')) return readFile(path, 'utf8');
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [path],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (!output) throw new MigrationLoadError(path, 'esbuild produced no output for its down step');
  return output.text;
}

/**
 * Migrations rebuilt from the history for revisions the bundle does not have. They can only go
 * down; their `up` refuses, naming the revision.
 */
export async function migrationsFromHistory(recorded: readonly RecordedRevision[]): Promise<Migration[]> {
  return Promise.all(recorded.map(fromRecord));
}

async function fromRecord(record: RecordedRevision): Promise<Migration> {
  const source = `history:${record.source}`;
  const base = {
    revision: record.revision,
    downRevisions: record.parents,
    ...(record.dependsOn ? { dependsOn: record.dependsOn } : {}),
    message: record.message,
    transaction: record.transactional,
    timeouts: {},
    source,
    checksum: record.checksum,
    up: {
      kind: 'code' as const,
      run: async () => {
        throw new MigrationLoadError(
          source,
          `revision ${record.revision} is known only from the history and cannot go up`,
        );
      },
    },
  };
  const step = record.downStep;
  if (!step) return base;
  if (step.kind === 'sql') return { ...base, down: { kind: 'sql', sql: step.text, line: 1 } };
  const loaded = await importModuleText(source, step.text);
  const migration = migrationFromModule(source, loaded, record.checksum);
  return { ...base, down: migration.down };
}

async function importModuleText(
  source: string,
  text: string,
): Promise<Parameters<typeof migrationFromModule>[1]> {
  const folder = await mkdtemp(join(tmpdir(), 'rds-migrate-'));
  const file = join(folder, 'recorded.mjs');
  try {
    await writeFile(file, text);
    const loaded = (await import(pathToFileURL(file).href)) as {
      default?: Parameters<typeof migrationFromModule>[1];
    };
    return loaded.default;
  } catch (error) {
    throw new MigrationLoadError(
      source,
      `its recorded down step cannot be imported: ${(error as Error).message}`,
    );
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
