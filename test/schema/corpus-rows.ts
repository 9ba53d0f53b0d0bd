/**
 * Rows for the corpus: a few made up for every table of a schema (from its catalog, so a case
 * need not write them), and what a migration must keep of them: the row count of each table
 * and the values of each column that is still there (renames followed).
 */
import type { Database } from '../../lib/engine/database.ts';

const HISTORY_SCHEMA = 'rds_migrate';
const ROWS = 3;

interface ColumnRow {
  schema: string;
  table: string;
  column: string;
  type: string;
  category: string;
  enum_first: string | null;
  range_subtype: string | null;
  nullable: boolean;
  has_default: boolean;
  /** `schema.table.column` this column references through a single-column foreign key. */
  references: string | null;
}

/**
 * One INSERT per table (parents before the tables that reference them) of `ROWS` rows whose
 * values follow from each column's type and the row's number: distinct (so unique keys hold),
 * positive (so `> 0` checks hold), non-null, and a foreign key takes the referenced table's values.
 */
export async function madeUpRows(db: Database): Promise<string[]> {
  const result = await db.query<ColumnRow>(
    `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            bt.typcategory AS category,
            (SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = bt.oid ORDER BY e.enumsortorder LIMIT 1) AS enum_first,
            (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = bt.oid) AS range_subtype,
            NOT a.attnotnull AS nullable, a.atthasdef AS has_default,
            (SELECT quote_ident(rn.nspname) || '.' || quote_ident(r.relname) || '.' || quote_ident(ra.attname)
               FROM pg_constraint k JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
               JOIN pg_attribute ra ON ra.attrelid = r.oid AND ra.attnum = k.confkey[1]
              WHERE k.contype = 'f' AND k.conrelid = c.oid AND k.conkey = ARRAY[a.attnum] LIMIT 1) AS references
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_type t ON t.oid = a.atttypid
     JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attgenerated = '' AND a.attidentity <> 'a'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${HISTORY_SCHEMA}') AND n.nspname NOT LIKE 'pg\\_%'
     ORDER BY n.nspname, c.relname, a.attnum`,
  );
  const tables = new Map<string, ColumnRow[]>();
  for (const row of result.rows) {
    const key = `${quoteIdent(row.schema)}.${quoteIdent(row.table)}`;
    tables.set(key, [...(tables.get(key) ?? []), row]);
  }
  const ordered: string[] = [];
  const place = (table: string, seen: Set<string>) => {
    if (ordered.includes(table) || seen.has(table)) return;
    seen.add(table);
    for (const column of tables.get(table) ?? []) {
      const parent = column.references?.replace(/\.[^.]+$/, '');
      if (parent && parent !== table && tables.has(parent)) place(parent, seen);
    }
    ordered.push(table);
  };
  for (const table of tables.keys()) place(table, new Set());
  return ordered.map((table) => {
    const columns = (tables.get(table) ?? []).filter((column) => rowValue(column) !== undefined);
    if (columns.length === 0) return `INSERT INTO ${table} SELECT FROM generate_series(1, ${ROWS})`;
    return (
      `INSERT INTO ${table} (${columns.map((column) => quoteIdent(column.column)).join(', ')}) ` +
      `SELECT ${columns.map((column) => rowValue(column)).join(', ')} FROM generate_series(1, ${ROWS}) i`
    );
  });
}

/** The value of row `i` for a column, as SQL; undefined to leave it to its default. */
function rowValue(column: ColumnRow): string | undefined {
  if (column.references) {
    const [schema, table, name] = column.references.split('.') as [string, string, string];
    return `(SELECT ${name} FROM ${schema}.${table} ORDER BY ${name} OFFSET i - 1 LIMIT 1)`;
  }
  const cast = `::${column.type}`;
  if (column.enum_first !== null) return `${quoteLiteral(column.enum_first)}${cast}`;
  if (column.range_subtype !== null) return `${column.type}(i * 10, i * 10 + 5)`;
  switch (column.category) {
    case 'N':
      return `i${cast}`;
    case 'S':
      return `('r' || i)${cast}`;
    case 'B':
      return `(i % 2 = 0)${cast}`;
    case 'D':
      return `(date '2026-01-01' + i)${cast}`;
    case 'U':
      return column.type === 'uuid'
        ? `md5(i::text)::uuid`
        : column.type.startsWith('json')
          ? `'{}'${cast}`
          : undefined;
    default:
      return column.nullable || column.has_default ? undefined : `NULL${cast}`;
  }
}

/** `schema.table` → its rows. */
export type TableRows = ReadonlyMap<string, Record<string, unknown>[]>;

/**
 * Every table's own rows, `schema.table` → rows (a table is read whole: a few rows). A partition's
 * are its own, not its parent's (ONLY): detached, it keeps them, while its parent has fewer.
 */
export async function tableRows(db: Database): Promise<TableRows> {
  const tables = await db.query<{ name: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${HISTORY_SCHEMA}') AND n.nspname NOT LIKE 'pg\\_%'`,
  );
  const rows = new Map<string, Record<string, unknown>[]>();
  for (const { name } of tables.rows) {
    const read = await db.query<{ row: Record<string, unknown> }>(
      `SELECT to_jsonb(t) AS row FROM ONLY ${name} t`,
    );
    rows.set(
      name.replace(/"/g, ''),
      read.rows.map((each) => each.row),
    );
  }
  return rows;
}

/**
 * What the rows after lost of the rows before: per table that is still there (under its new
 * name), a different count, or other values in a column that is still there. Empty when kept.
 */
export function rowsLost(before: TableRows, after: TableRows, renames: readonly string[] = []): string[] {
  // `--rename` pairs: `table=new`, `schema.table=schema.new`, `table.column=new`, `schema.table.column=new`.
  const inPublic = (name: string, parts: number) =>
    name.split('.').length === parts ? `public.${name}` : name;
  const tableRenames = new Map<string, string>();
  const columnRenames = new Map<string, string>();
  for (const pair of renames) {
    const [from, to] = pair.split('=') as [string, string];
    const isTable = !from.includes('.') || (from.split('.').length === 2 && to.includes('.'));
    if (isTable) tableRenames.set(inPublic(from, 1), inPublic(to, 1));
    else columnRenames.set(inPublic(from, 2), to);
  }
  const lost: string[] = [];
  for (const [table, rows] of before) {
    const renamed = tableRenames.get(table) ?? table;
    const now = after.get(renamed);
    if (!now) continue;
    if (now.length !== rows.length) {
      lost.push(`${table}: ${rows.length} rows before, ${now.length} after`);
      continue;
    }
    const kept = Object.keys(rows[0] ?? {}).flatMap((column) => {
      const newName = columnRenames.get(`${table}.${column}`) ?? column;
      return now[0] && newName in now[0] ? [[column, newName] as const] : [];
    });
    const project = (list: Record<string, unknown>[], side: 0 | 1) =>
      list.map((row) => JSON.stringify(kept.map((names) => row[names[side]]))).sort();
    const was = project(rows, 0);
    const is = project(now, 1);
    if (was.join('\n') !== is.join('\n'))
      lost.push(
        `${table}: values of ${kept.map(([column]) => column).join(', ')} changed: ${was} became ${is}`,
      );
  }
  return lost;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
