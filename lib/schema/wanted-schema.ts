/**
 * Where the schema the app wants comes from, and building it on an empty database:
 * - a declarative SQL folder (`schema/` by default): the CREATE statements of the whole schema,
 *   in `.sql` files applied in name order; any ORM or none;
 * - Drizzle models (`drizzle:src/db/schema.ts`), turned into SQL by drizzle-kit (drizzle-schema.ts).
 * It is named by `--wanted-schema <source>`, else by `wantedSchema` in `rds-migrate.config.json`
 * of the working directory, else `schema/` is used when that folder exists.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Database } from '../engine/database.ts';
import { RdsMigrateError, UsageError } from '../engine/errors.ts';
import { CONFIG_FILE } from '../local/project-config.ts';
import { drizzleSchemaSql } from './drizzle-schema.ts';

const DEFAULT_SCHEMA_DIR = 'schema';
const DRIZZLE_PREFIX = 'drizzle:';

type WantedSchemaSource =
  | { readonly kind: 'sql'; readonly directory: string }
  | { readonly kind: 'drizzle'; readonly file: string };

/** The source, and how it was chosen (for messages: "schema/ (default)"). */
export interface WantedSchema {
  readonly source: WantedSchemaSource;
  readonly chosenBy: 'option' | 'config' | 'default';
  /** As the user would write it: `schema/`, `drizzle:src/db/schema.ts`. */
  readonly label: string;
}

/** The wanted schema cannot be read or built: the message names the file and what to do. */
class WantedSchemaError extends RdsMigrateError {
  override readonly name = 'WantedSchemaError';
}

/** `drizzle:<file>` or a folder of SQL files, relative to `cwd`. */
function parseWantedSchema(spec: string, cwd: string): WantedSchemaSource {
  const trimmed = spec.trim();
  if (trimmed === '' || trimmed === DRIZZLE_PREFIX) {
    throw new UsageError(
      `--wanted-schema '${spec}': give a folder of SQL files (schema/) or drizzle:<models file> (drizzle:src/db/schema.ts)`,
    );
  }
  if (trimmed.startsWith(DRIZZLE_PREFIX))
    return { kind: 'drizzle', file: resolve(cwd, trimmed.slice(DRIZZLE_PREFIX.length)) };
  return { kind: 'sql', directory: resolve(cwd, trimmed) };
}

function describeWantedSchema(source: WantedSchemaSource, cwd: string): string {
  if (source.kind === 'drizzle') return `${DRIZZLE_PREFIX}${relative(cwd, source.file) || source.file}`;
  return `${relative(cwd, source.directory) || '.'}/`;
}

/**
 * The wanted schema: `option` (the flag), else the config file's `wantedSchema`, else `schema/`
 * when it exists; undefined when none is configured and there is no `schema/` folder.
 */
export async function findWantedSchema(options: {
  readonly option?: string;
  readonly cwd: string;
}): Promise<WantedSchema | undefined> {
  const { cwd } = options;
  const found = (source: WantedSchemaSource, chosenBy: WantedSchema['chosenBy']): WantedSchema => ({
    source,
    chosenBy,
    label: describeWantedSchema(source, cwd),
  });
  if (options.option !== undefined) return found(parseWantedSchema(options.option, cwd), 'option');
  const configured = await configuredWantedSchema(cwd);
  if (configured !== undefined) return found(parseWantedSchema(configured, cwd), 'config');
  const directory = join(cwd, DEFAULT_SCHEMA_DIR);
  if (existsSync(directory) && (await stat(directory)).isDirectory())
    return found({ kind: 'sql', directory }, 'default');
  return undefined;
}

async function configuredWantedSchema(cwd: string): Promise<string | undefined> {
  const file = join(cwd, CONFIG_FILE);
  if (!existsSync(file)) return undefined;
  let config: unknown;
  try {
    config = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new WantedSchemaError(`${CONFIG_FILE} is not valid JSON (${(error as Error).message}); fix it`);
  }
  const value = (config as { wantedSchema?: unknown } | null)?.wantedSchema;
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new WantedSchemaError(
      `${CONFIG_FILE}: "wantedSchema" must be a string, e.g. "schema" or "drizzle:src/db/schema.ts"`,
    );
  }
  return value;
}

/** One piece of SQL of the wanted schema, and where it comes from (for errors). */
interface WantedSql {
  readonly file: string;
  readonly sql: string;
}

/** The SQL that builds the wanted schema on an empty database, in the order it runs. */
export async function wantedSchemaSql(source: WantedSchemaSource, cwd: string): Promise<WantedSql[]> {
  if (source.kind === 'drizzle') {
    const file = relative(cwd, source.file) || source.file;
    return (await drizzleSchemaSql(source.file, cwd)).map((sql) => ({ file, sql }));
  }
  let names: string[];
  try {
    names = (await readdir(source.directory)).filter((name) => name.endsWith('.sql')).sort();
  } catch (error) {
    throw new WantedSchemaError(
      `cannot read the wanted schema folder ${relative(cwd, source.directory) || '.'}: ${(error as Error).message}; ` +
        `create it with the CREATE statements of the schema the app wants, or name another with --wanted-schema`,
    );
  }
  if (names.length === 0) {
    throw new WantedSchemaError(
      `${relative(cwd, source.directory) || '.'}/ has no .sql files: put the CREATE statements of the schema ` +
        'the app wants there (applied in name order, e.g. 010_users.sql)',
    );
  }
  return Promise.all(
    names.map(async (name) => {
      const path = join(source.directory, name);
      return { file: relative(cwd, path) || path, sql: await readFile(path, 'utf8') };
    }),
  );
}

/** Runs the wanted schema's SQL on `db` (an empty scratch database), piece by piece. */
export async function buildWantedSchema(db: Database, pieces: readonly WantedSql[]): Promise<void> {
  for (const piece of pieces) {
    try {
      await db.query(piece.sql);
    } catch (error) {
      const failure = error as { message?: string; position?: string; code?: string };
      const line = failure.position ? lineAt(piece.sql, Number(failure.position)) : undefined;
      throw new WantedSchemaError(
        `${piece.file}${line ? `:${line}` : ''}: PostgreSQL refused the wanted schema: ` +
          `${failure.code ? `[${failure.code}] ` : ''}${failure.message ?? String(error)}; ` +
          'it must build the whole schema on an empty database, in file name order',
      );
    }
  }
}

function lineAt(text: string, position: number): number {
  return text.slice(0, Math.max(0, position - 1)).split('\n').length;
}
