/**
 * The user-visible schema of a database as sorted text lines, so two moments can be compared:
 * tables, columns with types, defaults and nullability, indexes, constraints, sequences, views
 * and functions of every schema but the system ones and our history schema. One query on
 * pg_catalog (information_schema's views cost tens of milliseconds on a large schema, and the
 * round trip of `check` takes two snapshots per migration).
 */
import { escapeLiteral } from 'pg';
import type { Database } from './database.ts';

export async function schemaSnapshot(db: Database, historySchema = 'rds_migrate'): Promise<string[]> {
  const excluded = `('pg_catalog', 'information_schema', 'pg_toast', ${escapeLiteral(historySchema)})`;
  const userSchema = (column: string) =>
    `${column} NOT IN ${excluded} AND ${column} NOT LIKE 'pg_temp%' AND ${column} NOT LIKE 'pg_toast_temp%'`;
  const result = await db.query<{ line: string }>(`
    SELECT 'schema ' || n.nspname AS line FROM pg_namespace n WHERE ${userSchema('n.nspname')}
    UNION ALL
    SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence '
             ELSE 'table ' END || n.nspname || '.' || c.relname
           || CASE WHEN c.relkind IN ('v', 'm') THEN ' ' || pg_get_viewdef(c.oid) ELSE '' END
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ${userSchema('n.nspname')}
    UNION ALL
    SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' null=' || CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND ${userSchema('n.nspname')}
    UNION ALL
    SELECT 'index ' || n.nspname || '.' || ic.relname || ' ' || pg_get_indexdef(i.indexrelid)
           || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = ic.relnamespace
    WHERE ${userSchema('n.nspname')}
    UNION ALL
    SELECT 'constraint ' || n.nspname || '.' || c.conname || ' ' || pg_get_constraintdef(c.oid) || ' valid=' || c.convalidated
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE ${userSchema('n.nspname')}
    UNION ALL
    SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_arguments(p.oid) || ')'
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE ${userSchema('n.nspname')}`);
  return result.rows.map((row) => row.line).sort();
}
