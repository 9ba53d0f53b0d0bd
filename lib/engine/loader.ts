/**
 * Reads a migrations folder: `<yyyymmddHHMM>_<slug>.sql` files with a header comment and
 * `-- migrate:up` / `-- migrate:down` sections, and `.ts` modules whose default export is a
 * migration object. In a Lambda bundle each `.ts` has a compiled `.mjs` beside it, which is
 * what gets imported; the checksum is always of the `.ts` source, so the CLI and the function
 * agree on drift.
 */
import { hash } from 'node:crypto';
// Synchronous reads on purpose: 500 small files read in 4 ms this way, 40-80 ms through the
// promise API's thread pool, and loading is most of a no-op `up`.
import {
  type Dirent,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MigrationLoadError } from './errors.ts';
import type {
  Migration,
  MigrationContext,
  MigrationProvider,
  MigrationStep,
  MigrationTimeouts,
} from './migration.ts';
import { hasUnprintable, printable } from './printable.ts';
import { isValidName } from './target.ts';

const MIGRATION_FILE = /\.(sql|ts)$/;

/** sha256 of a file's text with line endings normalised, so a checkout with CRLF is not drift. */
export function checksumOf(text: string): string {
  return sha256Hex(text.includes('\r') ? text.replace(/\r\n/g, '\n') : text);
}

// One-shot hashing: no Hash object per file (loading every file is most of a no-op `up`).
function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

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

/** A file or link of the migrations folder that resolves outside it: the loader reads only the folder. */
export class MigrationOutsideFolder extends MigrationLoadError {
  constructor(
    source: string,
    /** Where the link leads, every link on the way resolved. */
    readonly target: string,
    folder: string,
  ) {
    super(
      source,
      `is a symbolic link to ${printable(target)}, outside the migrations folder ${printable(folder)}; ` +
        'copy the migration into the folder instead (a link may only lead to a file inside it)',
    );
  }
}

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

/** A link must resolve into the folder itself (its real path, so a linked folder is fine). */
function checkInsideFolder(directory: string, name: string, path: string): void {
  const folder = realpathSync(directory);
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    throw new MigrationLoadError(
      name,
      `is a symbolic link to ${printable(resolve(dirname(path), readlinkSync(path)))}, which does not exist; ` +
        'remove the link or put the migration in its place',
    );
  }
  const inside = relative(folder, target);
  if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new MigrationOutsideFolder(name, target, folder);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    // Missing: the read that follows says so.
    return false;
  }
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

// ---------- SQL files ----------

const HEADER_LINE = /^--\s*([a-z_]+)\s*:\s*(.*?)\s*$/;
const SECTION_MARKER = /^--\s*migrate:(up|down)\s*$/;
const KNOWN_HEADER_KEYS = new Set([
  'revision',
  'down_revision',
  'message',
  'transaction',
  'lock_timeout',
  'statement_timeout',
  'irreversible',
  'branch_labels',
  'depends_on',
  'lock_retries',
  'background',
  'requires_complete',
  'batch_table',
  'batch_key',
  'batch_size',
  'replaces',
]);

/** Parses the text of a SQL migration file; `source` names it in errors. */
export function parseSqlMigration(source: string, text: string): Migration {
  const normalized = text.includes('\r') ? text.replace(/\r\n/g, '\n') : text;
  const markers = sectionMarkers(normalized);
  const header = parseHeader(source, normalized.slice(0, markers[0]?.lineStart ?? normalized.length));
  const sections: Record<'up' | 'down', SectionText | undefined> = { up: undefined, down: undefined };
  for (const [index, marker] of markers.entries()) {
    if (sections[marker.section]) {
      throw new MigrationLoadError(source, `has two '-- migrate:${marker.section}' sections`);
    }
    const next = markers[index + 1];
    sections[marker.section] = sectionText(normalized, marker, next ? next.lineStart - 1 : normalized.length);
  }

  const revision = header.get('revision');
  if (!revision) {
    throw new MigrationLoadError(
      source,
      "has no '-- revision: <id>' line in its header; add one (rds-migrate create writes it)",
    );
  }
  const up = sections.up;
  if (!up)
    throw new MigrationLoadError(source, "has no '-- migrate:up' line; put the migration's SQL under one");
  const irreversible = header.get('irreversible') || undefined;
  const down = sections.down;
  const downText = down?.sql ?? '';
  if (irreversible && downText !== '') {
    throw new MigrationLoadError(source, "is marked 'irreversible' but has a down step; keep one of the two");
  }
  const background = parseBoolean(source, 'background', header.get('background'), false);
  const upSql = up.sql;
  return {
    revision: validRevision(source, revision),
    downRevisions: parseParents(source, header.get('down_revision')),
    ...optionalNames('branchLabels', headerNames(source, 'branch_labels', header.get('branch_labels'))),
    ...optionalNames('dependsOn', headerNames(source, 'depends_on', header.get('depends_on'))),
    ...optionalNames('replaces', parseParents(source, header.get('replaces'))),
    ...backgroundFields(
      source,
      background,
      headerNames(source, 'requires_complete', header.get('requires_complete')),
    ),
    message: header.get('message') ?? messageFromFileName(source),
    transaction: backgroundTransaction(source, background, header.get('transaction')),
    timeouts: timeoutsFrom(header.get('lock_timeout'), header.get('statement_timeout')),
    ...lockRetriesFrom(source, header.get('lock_retries')),
    up: background ? sqlBatchStep(source, upSql, header) : { kind: 'sql', sql: upSql, line: up.line },
    // An empty down section is a down step that does nothing (a merge); no section is no down step.
    down: down && !irreversible ? { kind: 'sql', sql: downText, line: down.line } : undefined,
    irreversible,
    source,
    checksum: sha256Hex(normalized),
  };
}

/** A `-- migrate:up` or `-- migrate:down` line: where it starts, and where the line after it does. */
interface SectionMarker {
  readonly section: 'up' | 'down';
  readonly lineStart: number;
  readonly bodyStart: number;
}

/** A section's SQL, trimmed, and the file line where it begins. */
interface SectionText {
  readonly sql: string;
  readonly line: number;
}

/**
 * The section markers of a file, in order. Only a line with `migrate:` in it can be one, so the
 * SQL's other lines are never looked at one by one: a no-op `up` parses every file.
 */
function sectionMarkers(text: string): SectionMarker[] {
  const markers: SectionMarker[] = [];
  for (let at = text.indexOf('migrate:'); at !== -1; ) {
    const lineStart = text.lastIndexOf('\n', at) + 1;
    const newline = text.indexOf('\n', at);
    const lineEnd = newline === -1 ? text.length : newline;
    const marker = SECTION_MARKER.exec(text.slice(lineStart, lineEnd).trim());
    if (marker) markers.push({ section: marker[1] as 'up' | 'down', lineStart, bodyStart: lineEnd + 1 });
    at = newline === -1 ? -1 : text.indexOf('migrate:', newline);
  }
  return markers;
}

/** The header's known keys, from the lines before the first section. */
function parseHeader(source: string, text: string): Map<string, string> {
  const header = new Map<string, string>();
  for (const line of text.split('\n')) {
    const field = HEADER_LINE.exec(line.trim());
    if (!field) continue;
    const [, key = '', value = ''] = field;
    if (!KNOWN_HEADER_KEYS.has(key)) continue;
    if (header.has(key)) throw new MigrationLoadError(source, `names '${key}' twice in its header`);
    header.set(key, value);
  }
  return header;
}

/** The lines after `marker` up to `end` (the newline before the next marker, or the end of the file). */
function sectionText(text: string, marker: SectionMarker, end: number): SectionText {
  const body = text.slice(marker.bodyStart, end);
  const content = body.search(/\S/);
  const line =
    content === -1
      ? lineNumberAt(text, marker.lineStart) + 1
      : lineNumberAt(text, marker.bodyStart + content);
  return { sql: body.trim(), line };
}

/** The 1-based line of the character at `position`. */
function lineNumberAt(text: string, position: number): number {
  let line = 1;
  for (let at = text.indexOf('\n'); at !== -1 && at < position; at = text.indexOf('\n', at + 1)) line++;
  return line;
}

function parseParents(source: string, value: string | undefined): string[] {
  if (value === undefined || value === '' || value === 'none' || value === 'null') return [];
  return value.split(',').map((parent) => validRevision(source, parent.trim()));
}

/** `-- branch_labels: billing, payments` and `-- depends_on: 3f2a9c1b7d4e, billing`: a comma list. */
function headerNames(source: string, key: string, value: string | undefined): string[] {
  if (value === undefined || value === '' || value === 'none' || value === 'null') return [];
  return value.split(',').map((name) => validName(source, key, name.trim()));
}

function parseTransaction(source: string, value: string | undefined): boolean {
  return parseBoolean(source, 'transaction', value, true);
}

function parseBoolean(source: string, key: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new MigrationLoadError(source, `has '${key}: ${value}'; write true or false`);
}

/**
 * A background migration runs outside the plan's transaction (its batches commit one by one), so
 * `transaction: false` is implied; `transaction: true` contradicts it.
 */
function backgroundTransaction(source: string, background: boolean, value: string | undefined): boolean {
  if (!background) return parseTransaction(source, value);
  if (value === 'true') {
    throw new MigrationLoadError(
      source,
      "is 'background: true' and 'transaction: true'; a background migration commits batch by batch: leave transaction out",
    );
  }
  return false;
}

/** `background` and `requiresComplete`, present only when set. */
function backgroundFields(
  source: string,
  background: boolean,
  requiresComplete: readonly string[],
): { background?: true; requiresComplete?: readonly string[] } {
  if (background && requiresComplete.length > 0) {
    throw new MigrationLoadError(
      source,
      'is a background migration with requires_complete; put the wait on the migration that needs the data (the contract step)',
    );
  }
  return {
    ...(background ? { background: true as const } : {}),
    ...(requiresComplete.length > 0 ? { requiresComplete } : {}),
  };
}

/**
 * The up step of a SQL background migration: its one statement runs once per batch of
 * `batch_table` (walked by `batch_key`, `batch_size` rows at a time), with `$1` bound to the
 * batch's keys (`WHERE id = ANY($1::bigint[])`).
 */
function sqlBatchStep(source: string, text: string, header: ReadonlyMap<string, string>): MigrationStep {
  const table = header.get('batch_table');
  if (!table) {
    throw new MigrationLoadError(
      source,
      "is 'background: true' without '-- batch_table: <table>'; name the table its statement walks " +
        "(the statement gets the batch's keys as $1)",
    );
  }
  if (!text.includes('$1')) {
    throw new MigrationLoadError(
      source,
      'is a background migration whose up statement does not use $1, the keys of each batch: ' +
        'e.g. UPDATE t SET ... WHERE id = ANY($1::bigint[])',
    );
  }
  const key = header.get('batch_key') || 'id';
  const sizeText = header.get('batch_size');
  if (sizeText !== undefined && !/^[1-9]\d*$/.test(sizeText)) {
    throw new MigrationLoadError(
      source,
      `has 'batch_size: ${sizeText}'; write a whole number of rows, e.g. 1000`,
    );
  }
  const size = sizeText === undefined ? undefined : Number(sizeText);
  return {
    kind: 'code',
    run: async (ctx) => {
      await ctx.batch({
        table,
        key,
        ...(size === undefined ? {} : { size }),
        run: async (keys, sql) => {
          await sql.unsafe(text, [keys]);
        },
      });
    },
  };
}

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

async function loadModuleMigration(source: string, path: string): Promise<Migration> {
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

/** `{ [key]: names }` when there are any, so a migration without them has no such field. */
function optionalNames<K extends 'branchLabels' | 'dependsOn' | 'replaces'>(
  key: K,
  names: readonly string[],
): Partial<Record<K, readonly string[]>> {
  return names.length === 0 ? {} : ({ [key]: names } as Partial<Record<K, readonly string[]>>);
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

// ---------- shared ----------

/** Compiler errors span lines; the CLI promises one. */
function oneLine(message: string): string {
  const text = message
    .replace(/Transform failed with \d+ errors?:/, '')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/** What a revision id or branch label may be (isValidName), as messages say it. */
export const NAME_RULE = '1 to 64 of a-z, A-Z, 0-9, _; not base/head/heads/current';

function validRevision(source: string, revision: string): string {
  if (!isValidName(revision)) {
    throw new MigrationLoadError(
      source,
      `has revision '${revision}', which is not a valid id (${NAME_RULE})`,
    );
  }
  return revision;
}

function validName(source: string, key: string, name: string): string {
  if (!isValidName(name)) {
    const what = key.startsWith('branch') ? 'a branch label' : 'a revision id or branch label';
    throw new MigrationLoadError(source, `has ${key} '${name}', which is not ${what} (${NAME_RULE})`);
  }
  return name;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function lockRetriesFrom(source: string, value: string | undefined): { lockRetries?: number } {
  if (value === undefined) return {};
  if (!/^\d+$/.test(value)) {
    throw new MigrationLoadError(
      source,
      `has 'lock_retries: ${value}'; write a whole number (0: no retries)`,
    );
  }
  return { lockRetries: Number(value) };
}

function timeoutsFrom(
  lockTimeout: string | undefined,
  statementTimeout: string | undefined,
): MigrationTimeouts {
  return {
    ...(lockTimeout ? { lockTimeout } : {}),
    ...(statementTimeout ? { statementTimeout } : {}),
  };
}

/** `202611251030_add_user_profile.sql` → `add user profile`. */
function messageFromFileName(source: string): string {
  return basename(source)
    .replace(/\.(sql|ts)$/, '')
    .replace(/^\d+_/, '')
    .replace(/_/g, ' ');
}
