/**
 * A TS migration module (or the .mjs the function's asset compiled from it): imported as an ES
 * module whatever the project's module system, its default export read into a Migration.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MigrationLoadError } from './errors.ts';
import type { Migration, MigrationContext, MigrationStep } from './migration.ts';
import {
  checkInsideFolder,
  checksumOf,
  isLink,
  messageFromFileName,
  oneLine,
  optionalNames,
  optionalString,
  validName,
  validRevision,
} from './migration-fields.ts';
import { backgroundFields, backgroundTransaction, lockRetriesFrom, timeoutsFrom } from './sql-migration.ts';

// ---------- TS modules ----------

interface MigrationModule {
  revision?: unknown;
  downRevision?: unknown;
  message?: unknown;
  transaction?: unknown;
  lockTimeout?: unknown;
  lockRetries?: unknown;
  statementTimeout?: unknown;
  irreversible?: unknown;
  branchLabels?: unknown;
  dependsOn?: unknown;
  background?: unknown;
  requiresComplete?: unknown;
  replaces?: unknown;
  up?: unknown;
  down?: unknown;
}

export async function loadModuleMigration(source: string, path: string): Promise<Migration> {
  const text = readFileSync(path, 'utf8');
  const compiled = path.replace(/\.ts$/, '.mjs');
  const modulePath = existsSync(compiled) ? compiled : path;
  if (modulePath === compiled && isLink(compiled))
    checkInsideFolder(dirname(path), basename(compiled), compiled);
  let loaded: { default?: MigrationModule };
  try {
    loaded = (await importModule(modulePath)) as { default?: MigrationModule };
  } catch (error) {
    throw new MigrationLoadError(source, `cannot be imported: ${oneLine((error as Error).message)}`);
  }
  return migrationFromModule(source, loaded.default, checksumOf(text), modulePath);
}

/**
 * Node cannot import TypeScript by itself on every version we support (20 has no type
 * stripping, 22+ strips types but refuses enums and the like). The installed CLI is plain
 * JavaScript, so a TypeScript module Node refuses (a `.ts` migration, Drizzle models) goes
 * through tsx, registered once and only then. Under a loader that already speaks TypeScript
 * (tsx, vitest) the first import works.
 */
const NEEDS_TYPESCRIPT_LOADER = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
]);
let typeScriptImport: Promise<(specifier: string, parent: string) => Promise<unknown>> | undefined;

export async function importModule(path: string): Promise<unknown> {
  const url = pathToFileURL(path).href;
  try {
    return asEsModule(await import(url));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!/\.[cm]?ts$/.test(path) || !code || !NEEDS_TYPESCRIPT_LOADER.has(code)) throw error;
  }
  typeScriptImport ??= import('tsx/esm/api').then(
    ({ register }) => register({ namespace: 'rds-migrate' }).import,
  );
  return asEsModule(await (await typeScriptImport)(url, import.meta.url));
}

/**
 * A module's exports as its source wrote them, however it was loaded. tsx loads a `.ts` file
 * of a CommonJS project (no `"type": "module"`, as `cdk init` makes it) as CommonJS: its
 * `export default` becomes `exports.default`, flagged `__esModule`, and `import()` nests that
 * one level deeper (the namespace's `default` is the whole `module.exports`). The function's
 * compiled `.mjs` is always an ES module, so unwrapping here makes both read the same exports.
 */
function asEsModule(namespace: unknown): unknown {
  const commonJsExports = (namespace as { default?: unknown }).default;
  const transpiled =
    typeof commonJsExports === 'object' &&
    commonJsExports !== null &&
    (commonJsExports as { __esModule?: unknown }).__esModule === true;
  return transpiled ? commonJsExports : namespace;
}

/** Checks the default export of a migration module and turns it into a `Migration`. */
export function migrationFromModule(
  source: string,
  exported: MigrationModule | undefined,
  checksum: string,
  modulePath?: string,
): Migration {
  if (!exported || typeof exported !== 'object') {
    throw new MigrationLoadError(
      source,
      'has no default export; export default { revision, downRevision, up, down }',
    );
  }
  if (typeof exported.revision !== 'string') {
    throw new MigrationLoadError(source, "has no string 'revision' in its default export");
  }
  if (typeof exported.up !== 'function') throw new MigrationLoadError(source, "has no 'up(ctx)' function");
  if (exported.down !== undefined && typeof exported.down !== 'function') {
    throw new MigrationLoadError(source, "has a 'down' that is not a function");
  }
  const irreversible = typeof exported.irreversible === 'string' ? exported.irreversible : undefined;
  if (irreversible && exported.down) {
    throw new MigrationLoadError(source, "is marked 'irreversible' but has a down step; keep one of the two");
  }
  const up = exported.up as (ctx: MigrationContext) => Promise<void>;
  const down = exported.down as ((ctx: MigrationContext) => Promise<void>) | undefined;
  return {
    revision: validRevision(source, exported.revision),
    downRevisions: moduleParents(source, exported.downRevision),
    ...optionalNames('branchLabels', moduleNames(source, 'branchLabels', exported.branchLabels)),
    ...optionalNames('dependsOn', moduleNames(source, 'dependsOn', exported.dependsOn)),
    ...optionalNames('replaces', moduleReplaces(source, exported.replaces)),
    ...backgroundFields(
      source,
      moduleBackground(source, exported.background),
      moduleNames(source, 'requiresComplete', exported.requiresComplete),
    ),
    message: typeof exported.message === 'string' ? exported.message : messageFromFileName(source),
    transaction: moduleBackground(source, exported.background)
      ? backgroundTransaction(
          source,
          true,
          exported.transaction === undefined ? undefined : String(exported.transaction),
        )
      : moduleTransaction(source, exported.transaction),
    timeouts: timeoutsFrom(optionalString(exported.lockTimeout), optionalString(exported.statementTimeout)),
    ...lockRetriesFrom(
      source,
      exported.lockRetries === undefined ? undefined : String(exported.lockRetries as string | number),
    ),
    up: codeStep(up),
    down: down ? codeStep(down) : undefined,
    irreversible,
    source,
    checksum,
    modulePath,
  };
}

function codeStep(run: (ctx: MigrationContext) => Promise<void>): MigrationStep {
  return { kind: 'code', run: async (ctx) => run(ctx) };
}

function moduleParents(source: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [validRevision(source, value)];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    return value.map((item) => validRevision(source, item));
  }
  throw new MigrationLoadError(
    source,
    "has a 'downRevision' that is neither a string, a list of strings, nor null",
  );
}

/** `branchLabels` / `dependsOn` of a module: a string, a list of strings, or nothing. */
function moduleNames(source: string, key: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [validName(source, key, value)];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    return value.map((item) => validName(source, key, item));
  }
  throw new MigrationLoadError(
    source,
    `has a '${key}' that is neither a string, a list of strings, nor null`,
  );
}

/** `replaces` of a module: a list of revision ids, or nothing. */
function moduleReplaces(source: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    return value.map((item) => validRevision(source, item));
  }
  throw new MigrationLoadError(source, "has a 'replaces' that is not a list of revision ids");
}

function moduleBackground(source: string, value: unknown): boolean {
  if (value === undefined || value === false) return false;
  if (value === true) return true;
  throw new MigrationLoadError(source, "has a 'background' that is not true or false");
}

function moduleTransaction(source: string, value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value === 'boolean') return value;
  throw new MigrationLoadError(source, "has a 'transaction' that is not true or false");
}
