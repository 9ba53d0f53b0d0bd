/**
 * The user-visible schema of a database as sorted text lines, so two moments can be compared:
 * tables, columns with types, defaults and nullability, indexes, constraints, sequences, views,
 * functions (with their result and a hash of their body), enum types with their values, domains,
 * triggers and extensions of every schema but the system ones and our history schema. One query on
 * pg_catalog (information_schema's views cost tens of milliseconds on a large schema, and the
 * round trip of `check` takes two snapshots per migration). Each line also names the object it
 * belongs to (a column, index or constraint belongs to its table), so a fingerprint of the
 * schema can say which objects changed.
 */
import { escapeLiteral } from 'pg';
import type { Database } from './database.ts';

/** One line of the schema and the object it describes, e.g. `table public.users`. */
export interface CatalogEntry {
  readonly object: string;
  readonly line: string;
}

export async function schemaSnapshot(db: Database, historySchema = 'rds_migrate'): Promise<string[]> {
  return (await schemaCatalog(db, historySchema)).map((entry) => entry.line);
}

/** The same snapshot, each line with its object, sorted by line. */
export async function schemaCatalog(db: Database, historySchema = 'rds_migrate'): Promise<CatalogEntry[]> {
  const result = await db.query<{ object: string; line: string }>(catalogQuery(historySchema));
  return result.rows
    .map((row) => ({ object: row.object, line: row.line }))
    .sort((a, b) => (a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
}

/** The query behind the snapshot: rows of `object` and `line`, unsorted. */
export function catalogQuery(historySchema: string): string {
  const excluded = `('pg_catalog', 'information_schema', 'pg_toast', ${escapeLiteral(historySchema)})`;
  const userSchema = (column: string) =>
    `${column} NOT IN ${excluded} AND ${column} NOT LIKE 'pg_temp%' AND ${column} NOT LIKE 'pg_toast_temp%'`;
  const relationKind = (relkind: string) =>
    `CASE ${relkind} WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' ELSE 'table ' END`;
  // Objects an extension owns come and go with the extension, not with migrations.
  const notFromExtension = (catalog: string, oid: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;
  return `SELECT 'schema ' || n.nspname AS object, 'schema ' || n.nspname AS line
    FROM pg_namespace n WHERE ${userSchema('n.nspname')}
    UNION ALL
    SELECT ${relationKind('c.relkind')} || n.nspname || '.' || c.relname,
           ${relationKind('c.relkind')} || n.nspname || '.' || c.relname
           || CASE WHEN c.relkind IN ('v', 'm') THEN ' ' || pg_get_viewdef(c.oid) ELSE '' END
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ${userSchema('n.nspname')}
    UNION ALL
    SELECT ${relationKind('c.relkind')} || n.nspname || '.' || c.relname,
           'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' null=' || CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND ${userSchema('n.nspname')}
    UNION ALL
    SELECT ${relationKind('t.relkind')} || tn.nspname || '.' || t.relname,
           'index ' || n.nspname || '.' || ic.relname || ' ' || pg_get_indexdef(i.indexrelid)
           || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = ic.relnamespace
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace tn ON tn.oid = t.relnamespace
    WHERE ${userSchema('n.nspname')}
    UNION ALL
    SELECT coalesce(${relationKind('r.relkind')} || rn.nspname || '.' || r.relname,
                    'type ' || tn.nspname || '.' || ty.typname, 'constraint ' || n.nspname || '.' || c.conname),
           'constraint ' || n.nspname || '.' || c.conname || ' ' || pg_get_constraintdef(c.oid) || ' valid=' || c.convalidated
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    LEFT JOIN pg_class r ON r.oid = c.conrelid
    LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
    LEFT JOIN pg_type ty ON ty.oid = c.contypid
    LEFT JOIN pg_namespace tn ON tn.oid = ty.typnamespace
    -- PostgreSQL 18 names NOT NULL constraints by what was free at the time: the column's
    -- null=NO says it, the name is incidental.
    WHERE ${userSchema('n.nspname')} AND c.contype <> 'n'
    UNION ALL
    SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_arguments(p.oid) || ')'
           || coalesce(' returns ' || pg_get_function_result(p.oid), '') || ' body=' || left(md5(coalesce(p.prosrc, '')), 12)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE ${userSchema('n.nspname')} AND ${notFromExtension('pg_proc', 'p.oid')}
    UNION ALL
    SELECT 'type ' || n.nspname || '.' || t.typname,
           CASE t.typtype
             WHEN 'e' THEN 'type ' || n.nspname || '.' || t.typname || ' enum ('
               || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                   FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
             ELSE 'domain ' || n.nspname || '.' || t.typname || ' ' || format_type(t.typbasetype, t.typtypmod)
               || ' null=' || CASE WHEN t.typnotnull THEN 'NO' ELSE 'YES' END || ' default=' || coalesce(t.typdefault, '-')
           END
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd') AND ${userSchema('n.nspname')} AND ${notFromExtension('pg_type', 't.oid')}
    UNION ALL
    SELECT 'extension ' || x.extname, 'extension ' || x.extname || ' in ' || n.nspname
    FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
    WHERE ${userSchema('n.nspname')}
    UNION ALL
    SELECT ${relationKind('c.relkind')} || n.nspname || '.' || c.relname,
           'trigger ' || n.nspname || '.' || c.relname || '.' || tg.tgname || ' ' || pg_get_triggerdef(tg.oid)
    FROM pg_trigger tg
    JOIN pg_class c ON c.oid = tg.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT tg.tgisinternal AND ${userSchema('n.nspname')}`;
}
