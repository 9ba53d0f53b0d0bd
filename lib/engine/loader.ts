/**
 * Reads a migrations folder: `<yyyymmddHHMM>_<slug>.sql` files with a header comment and
 * `-- migrate:up` / `-- migrate:down` sections (sql-migration.ts), and `.ts` modules whose default
 * export is a migration object (module-migration.ts). In a Lambda bundle each `.ts` has a compiled
 * `.mjs` beside it, which is what gets imported; the checksum is always of the `.ts` source, so
 * the CLI and the function agree on drift. Every name is checked before any file is read.
 */
// Synchronous reads on purpose: 500 small files read in 4 ms this way, 40-80 ms through the
// promise API's thread pool, and loading is most of a no-op `up`.
import { type Dirent, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MigrationLoadError } from './errors.ts';
import type { Migration, MigrationProvider } from './migration.ts';
import { checkInsideFolder, isLink } from './migration-fields.ts';
import { loadModuleMigration } from './module-migration.ts';
import { hasUnprintable, printable } from './printable.ts';
import { parseSqlMigration } from './sql-migration.ts';

const MIGRATION_FILE = /\.(sql|ts)$/;

export class FileMigrationProvider implements MigrationProvider {
  constructor(readonly directory: string) {}

  async getMigrations(): Promise<readonly Migration[]> {
    return loadMigrations(this.directory);
  }
}

/**
 * Where `rds-migrate squash` keeps the files it replaced, inside the migrations folder: the
 * loader reads only the folder's top level, and the deployed function's asset leaves it out.
 */
export const SQUASHED_FOLDER = 'squashed';

export async function loadMigrations(directory: string): Promise<Migration[]> {
  let entries: Dirent[];
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch (error) {
    throw new MigrationLoadError(
      directory,
      `cannot read the migrations folder (${(error as NodeJS.ErrnoException).code ?? String(error)}); ` +
        'create it or point --migrations-dir at the right one',
    );
  }
  const links = new Set(entries.filter((entry) => entry.isSymbolicLink()).map((entry) => entry.name));
  const files = entries
    .map((entry) => entry.name)
    .filter((name) => MIGRATION_FILE.test(name) && !name.endsWith('.d.ts'))
    .sort();
  // Every name is checked before any file is read or imported.
  for (const name of files) checkFile(directory, name, links.has(name));
  // SQL files are parsed as they are read; only modules are awaited (imports).
  const loaded: (Migration | Promise<Migration>)[] = [];
  try {
    for (const name of files) {
      loaded.push(
        name.endsWith('.sql')
          ? checkMessage(parseSqlMigration(name, readFileSync(join(directory, name), 'utf8')))
          : loadModuleMigration(name, join(directory, name)).then(checkMessage),
      );
    }
  } catch (error) {
    // The imports already started are abandoned: their failures must not surface unhandled.
    for (const pending of loaded) if (pending instanceof Promise) pending.catch(() => undefined);
    throw error;
  }
  return loaded.some((migration) => migration instanceof Promise)
    ? Promise.all(loaded)
    : (loaded as Migration[]);
}

export async function loadMigrationFile(directory: string, name: string): Promise<Migration> {
  const path = join(directory, name);
  checkFile(directory, name, isLink(path));
  if (name.endsWith('.sql')) return checkMessage(parseSqlMigration(name, readFileSync(path, 'utf8')));
  return checkMessage(await loadModuleMigration(name, path));
}

// ---------- what the loader refuses to read ----------

/**
 * A migration file whose name holds control characters (a newline, an escape): printed in a
 * report, a terminal or a comment of `up --sql`, such a name would end its line and start
 * another, e.g. a runnable `DROP TABLE` in the script a DBA runs with psql. Its `source` is the
 * name escaped (`\n` for a newline). A message with them is refused the same way.
 *
 * Its `name` stays 'MigrationLoadError' (the base class fixes it): tell it apart by its class.
 */
export class UnprintableMigrationName extends MigrationLoadError {}

/** Refuses a file named with control characters, or a link that leads out of the folder. */
function checkFile(directory: string, name: string, link: boolean): void {
  if (hasUnprintable(name)) {
    throw new UnprintableMigrationName(
      printable(name),
      'has control characters in its name (shown escaped here), which could end the line it is ' +
        "printed on (a comment of up --sql, a terminal); rename it, e.g. in bash: mv $'<the name above>' <new name>",
    );
  }
  if (link) checkInsideFolder(directory, name, join(directory, name));
}

/** A message is printed as the file name is (reports, comments of up --sql): the same rule. */
function checkMessage(migration: Migration): Migration {
  if (!hasUnprintable(migration.message)) return migration;
  const where = migration.source.endsWith('.sql') ? "its '-- message:' line" : "the module's 'message'";
  throw new UnprintableMigrationName(
    migration.source,
    `has control characters in its message ('${printable(migration.message)}'); write ${where} as ` +
      'one line of printable text',
  );
}

export { checksumOf, MigrationOutsideFolder, NAME_RULE } from './migration-fields.ts';
export { importModule, migrationFromModule } from './module-migration.ts';
export { parseSqlMigration } from './sql-migration.ts';
