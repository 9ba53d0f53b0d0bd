/**
 * The difference between two schemas as the SQL that turns one into the other, from a well-kept
 * diff library: `@pgkit/migra`, the TypeScript port of migra. Each side is inspected once (one
 * `SchemaInspection`, kept in memory), so a schema can be compared with several others without
 * reading it again. The library talks to PostgreSQL through our own session (an adapter to its
 * query interface), so it reaches every server the CLI reaches, with the same settings.
 */
import type { Database } from '../engine/database.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import { type Comments, mendComments, readComments } from './comment-changes.ts';
import { type DiffGapFacts, type GapSide, mendDiff, readDiffGapFacts } from './diff-gaps.ts';
import { type DomainFacts, mendDomains, readDomains } from './domain-changes.ts';
import { nameLibraryQueriesOnce } from './library-query-names.ts';
import { mendPartitions, type PartitionedTable } from './partition-changes.ts';

type Migra = typeof import('@pgkit/migra');
type Inspector = Awaited<ReturnType<Migra['PostgreSQL']['create']>>;

/** A schema as the diff library read it, with what it does not read (diff-gaps.ts). Opaque: pass it to `diffSchemas`. */
export interface SchemaInspection {
  readonly inspector: Inspector;
  readonly gaps: DiffGapFacts;
  /** `schema.domain` → its facts: our code writes the domains' statements (domain-changes.ts). */
  readonly domains: ReadonlyMap<string, DomainFacts>;
  /** The comments, which the library does not read (comment-changes.ts). */
  readonly comments: Comments;
}

/** The library failed to read or compare a schema: the message names what it was doing. */
class SchemaDiffError extends RdsMigrateError {
  override readonly name = 'SchemaDiffError';
}

let loaded: Promise<Migra> | undefined;

/** The library, loaded on first use: commands that never diff do not pay for it. */
function migra(): Promise<Migra> {
  loaded ??= import('@pgkit/migra').then((library) => {
    nameLibraryQueriesOnce();
    return library;
  });
  return loaded;
}

/** Reads the schema of `db`, leaving out `excludeSchemas` (the history schema, always). */
export async function inspectSchema(
  db: Database,
  options: { readonly excludeSchemas: readonly string[] },
): Promise<SchemaInspection> {
  const { PostgreSQL } = await migra();
  let inspector: Inspector;
  try {
    inspector = await PostgreSQL.create(queryableOf(db) as Parameters<typeof PostgreSQL.create>[0]);
  } catch (error) {
    throw new SchemaDiffError(`cannot read the schema to compare it: ${(error as Error).message}`);
  }
  for (const schema of options.excludeSchemas) inspector.exclude_schema(schema);
  return {
    inspector,
    gaps: await readDiffGapFacts(db, options.excludeSchemas),
    domains: await readDomains(db, options.excludeSchemas),
    comments: await readComments(db, options.excludeSchemas),
  };
}

/**
 * The statements that turn `from` into `to`, in the library's order (dependencies first), drops
 * included (the caller decides what is safe). Empty when the schemas are the same.
 */
export async function diffSchemas(from: SchemaInspection, to: SchemaInspection): Promise<string[]> {
  return viewsAroundEnumRecasts(await libraryDiff(from, to), from, to);
}

/**
 * The library's statements, mended where it does not see (diff-gaps.ts) and where it errs
 * (partition-changes.ts); the domains' and the comments' are ours (domain-changes.ts, comment-changes.ts).
 */
async function libraryDiff(from: SchemaInspection, to: SchemaInspection): Promise<string[]> {
  const { Migration } = await migra();
  try {
    const migration = await Migration.create(from.inspector, to.inspector, {});
    migration.set_safety(false);
    migration.add_all_changes();
    const statements = [...migration.statements].map(tidyStatement).filter((statement) => statement !== '');
    const partitions = (inspection: SchemaInspection) => ({
      tables: inspection.inspector.tables as unknown as Record<string, PartitionedTable>,
      notNull: inspection.gaps.notNullConstraints,
    });
    const mended = mendPartitions(
      mendDiff(statements, gapSide(from), gapSide(to)),
      partitions(from),
      partitions(to),
    );
    return mendComments(mendDomains(mended, from.domains, to.domains), from.comments, to.comments);
  } catch (error) {
    throw new SchemaDiffError(`cannot compare the schemas: ${(error as Error).message}`);
  }
}

interface LibraryView {
  readonly drop_statement: string;
  readonly create_statement: string;
  readonly dependents_all?: readonly string[];
  readonly dependent_on_all?: readonly string[];
}

/**
 * A column converted to a recreated enum (`using col::text::type`) cannot change type while a
 * view uses it, and the library leaves the views be: each view on such a table (and each view on
 * those) is dropped before the enum is set aside and created again, as `to` has it, once the old
 * one is dropped.
 */
function viewsAroundEnumRecasts(
  statements: readonly string[],
  from: SchemaInspection,
  to: SchemaInspection,
): string[] {
  const recast = /^alter table (\S+) alter column .+ using .+::text::\S+;$/i;
  const tables = statements.flatMap((sql) => recast.exec(sql)?.slice(1, 2) ?? []);
  if (tables.length === 0) return [...statements];
  const selectables = from.inspector.selectables as unknown as Record<string, LibraryView>;
  const views = from.inspector.views as unknown as Record<string, LibraryView>;
  const dependent = [...new Set(tables.flatMap((table) => selectables[table]?.dependents_all ?? []))].filter(
    (key) => key in views,
  );
  if (dependent.length === 0) return [...statements];
  // A view that names another has more behind it: dropped first, created last.
  const depth = (key: string) => (views[key] as LibraryView).dependent_on_all?.length ?? 0;
  const ordered = dependent.sort((a, b) => depth(b) - depth(a));
  const drops = ordered.map((key) => tidyStatement((views[key] as LibraryView).drop_statement));
  const wanted = to.inspector.views as unknown as Record<string, LibraryView>;
  const creates = [...ordered]
    .reverse()
    .flatMap((key) => (wanted[key] ? [tidyStatement((wanted[key] as LibraryView).create_statement)] : []));
  const rest = statements.filter((sql) => !drops.includes(sql) && !creates.includes(sql));
  const setAside = rest.findIndex((sql) => /^alter type \S+ rename to /i.test(sql));
  const dropped = rest.findLastIndex((sql) => /^drop type \S+__old_version_to_be_dropped"?;$/i.test(sql));
  if (setAside < 0 || dropped < setAside) return [...statements];
  return [
    ...rest.slice(0, setAside),
    ...drops,
    ...rest.slice(setAside, dropped + 1),
    ...creates,
    ...rest.slice(dropped + 1),
  ];
}

function gapSide(inspection: SchemaInspection): GapSide {
  return { tables: inspection.inspector.tables as unknown as GapSide['tables'], facts: inspection.gaps };
}

/**
 * Whether two schemas are the same, as `diffSchemas` sees them less one thing it over-reports:
 * a table whose columns are the same but in another order (a column dropped and added back,
 * which no migration can reorder) makes the library recreate every view on it, with the same
 * definition. Those recreations are left out here; what remains is a real difference.
 */
export async function differences(from: SchemaInspection, to: SchemaInspection): Promise<string[]> {
  const statements = await libraryDiff(from, to);
  const unchanged = new Set<string>();
  for (const [key, view] of Object.entries(to.inspector.views)) {
    const before = from.inspector.views[key] as { definition?: string } | undefined;
    const after = view as unknown as { definition?: string };
    if (before?.definition !== undefined && before.definition === after.definition) unchanged.add(key);
  }
  const real = statements.filter((statement) => {
    const view = /^(?:drop view if exists|create or replace view) (\S+)/i.exec(statement);
    return !(view && unchanged.has((view[1] as string).replace(/;$/, '')));
  });
  return viewsAroundEnumRecasts(real, from, to);
}

/** The enum types of a schema, with their values in order: for rewriting value changes. */
export function enumsOf(inspection: SchemaInspection): ReadonlyMap<string, readonly string[]> {
  const enums = new Map<string, readonly string[]>();
  for (const found of Object.values(inspection.inspector.enums)) {
    const inspected = found as unknown as { schema: string; name: string; elements: string[] };
    enums.set(`${inspected.schema}.${inspected.name}`, [...inspected.elements]);
  }
  return enums;
}

/** Every index of a schema, `schema.index` → the `schema.table` it is on. */
export function indexTablesOf(inspection: SchemaInspection): ReadonlyMap<string, string> {
  const tables = new Map<string, string>();
  for (const found of Object.values(inspection.inspector.indexes)) {
    const index = found as unknown as { schema: string; name: string; table_name: string };
    tables.set(`${index.schema}.${index.name}`, `${index.schema}.${index.table_name}`);
  }
  return tables;
}

/** A column as the rename detection needs it. */
export interface InspectedColumn {
  readonly name: string;
  readonly type: string;
  readonly notNull: boolean;
}

/** Every table (not view) of a schema, `schema.table` → its columns in order. */
export function tablesOf(inspection: SchemaInspection): ReadonlyMap<string, readonly InspectedColumn[]> {
  const tables = new Map<string, readonly InspectedColumn[]>();
  for (const found of Object.values(inspection.inspector.tables)) {
    const table = found as unknown as {
      schema: string;
      name: string;
      columns: Record<string, { name: string; dbtypestr: string; not_null: boolean }>;
    };
    tables.set(
      `${table.schema}.${table.name}`,
      Object.values(table.columns).map((column) => ({
        name: column.name,
        type: column.dbtypestr,
        notNull: Boolean(column.not_null),
      })),
    );
  }
  return tables;
}

/** A name PostgreSQL may have derived from a table's or column's: a constraint, an index, a sequence. */
export interface NamedObject {
  readonly kind: 'constraint' | 'index' | 'sequence';
  readonly schema: string;
  readonly name: string;
  /** The table it is on (a sequence: the table whose column owns it); undefined for none. */
  readonly table: string | undefined;
}

/**
 * The constraints, the indexes that back none (a constraint's index is renamed with it) and the
 * sequences a column owns (serial; the library does not list identity sequences) of a schema.
 */
export function namedObjectsOf(inspection: SchemaInspection): NamedObject[] {
  const { inspector } = inspection;
  type Found = { schema: string; name: string; table_name?: string; constraint?: unknown };
  const all = (objects: object, kind: NamedObject['kind']) =>
    Object.values(objects).map((found) => ({ kind, found: found as unknown as Found }));
  return [
    ...all(inspector.constraints, 'constraint'),
    ...all(inspector.indexes, 'index').filter(({ found }) => found.constraint === undefined),
    ...all(inspector.sequences, 'sequence'),
  ]
    .map(
      ({ kind, found }): NamedObject => ({
        kind,
        schema: found.schema,
        name: found.name,
        table: found.table_name ?? undefined,
      }),
    )
    .concat(
      inspection.gaps.notNullConstraints.map(({ schema, table, name }) => ({
        kind: 'constraint' as const,
        schema,
        table,
        name,
      })),
      inspection.gaps.identitySequences.map((found) => ({ kind: 'sequence', ...found })),
    );
}

/**
 * Reads the schema `statements` would leave on `db` without leaving it: they run in a transaction
 * that is rolled back after the reading (`db` is one session, a shadow database's).
 */
export async function inspectSchemaAfter(
  db: Database,
  statements: readonly string[],
  options: { readonly excludeSchemas: readonly string[] },
): Promise<SchemaInspection> {
  await db.query('BEGIN');
  try {
    for (const statement of statements) await db.query(statement);
    return await inspectSchema(db, options);
  } finally {
    await db.query('ROLLBACK');
  }
}

/** The library's text as a migration shows it: no blank padding, one statement, ending in ';'. */
function tidyStatement(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.replace(/\s+$/, ''))
    .filter((line, index, all) => line !== '' || (index > 0 && index < all.length - 1));
  const body = dedent(lines).join('\n').trim();
  if (body === '') return '';
  return body.endsWith(';') ? body : `${body};`;
}

function dedent(lines: readonly string[]): string[] {
  const indents = lines.filter((line) => line.trim() !== '').map((line) => /^ */.exec(line)?.[0].length ?? 0);
  const common = Math.min(...indents);
  return common > 0 && Number.isFinite(common) ? lines.map((line) => line.slice(common)) : [...lines];
}

/**
 * The query interface the library expects, over our `Database`: it only reads (`any` and
 * `oneFirst` over raw SQL), so the rest answer from the same rows.
 */
function queryableOf(db: Database): unknown {
  type RawQuery = { readonly sql: string; readonly values?: readonly unknown[] };
  const rows = async (query: RawQuery) =>
    (await db.query<Record<string, unknown>>(query.sql, query.values?.length ? query.values : undefined))
      .rows;
  const first = (row: Record<string, unknown> | undefined) =>
    row === undefined ? undefined : Object.values(row)[0];
  const queryable = {
    query: async (query: RawQuery) => {
      const found = await rows(query);
      return { rows: found, fields: [], command: 'SELECT', rowCount: found.length };
    },
    any: rows,
    many: rows,
    one: async (query: RawQuery) => (await rows(query))[0],
    maybeOne: async (query: RawQuery) => (await rows(query))[0] ?? null,
    oneFirst: async (query: RawQuery) => first((await rows(query))[0]),
    maybeOneFirst: async (query: RawQuery) => first((await rows(query))[0]) ?? null,
    anyFirst: async (query: RawQuery) => (await rows(query)).map(first),
    manyFirst: async (query: RawQuery) => (await rows(query)).map(first),
  };
  return { ...queryable, noNulls: queryable };
}
