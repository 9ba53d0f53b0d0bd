/**
 * The user-visible schema of a database as sorted text lines, so two moments can be compared:
 * tables, columns with types, defaults and nullability, indexes, constraints, sequences, views
 * and functions of every schema but the system ones and our history schema.
 */
import { escapeLiteral } from 'pg';
import type { Database } from './database.ts';

export async function schemaSnapshot(db: Database, historySchema = 'rds_migrate'): Promise<string[]> {
  const filter = `NOT IN ('pg_catalog', 'information_schema', 'pg_toast', ${escapeLiteral(historySchema)})`;
  const queries = [
    `SELECT 'table ' || schemaname || '.' || tablename AS line FROM pg_tables WHERE schemaname ${filter}`,
    `SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type
        || ' null=' || is_nullable || ' default=' || coalesce(column_default, '-') AS line
     FROM information_schema.columns WHERE table_schema ${filter}`,
    `SELECT 'index ' || schemaname || '.' || indexname || ' ' || indexdef AS line FROM pg_indexes WHERE schemaname ${filter}`,
    `SELECT 'constraint ' || n.nspname || '.' || c.conname || ' ' || pg_get_constraintdef(c.oid)
        || ' valid=' || c.convalidated AS line
     FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname ${filter}`,
    `SELECT 'sequence ' || sequence_schema || '.' || sequence_name AS line
     FROM information_schema.sequences WHERE sequence_schema ${filter}`,
    `SELECT 'view ' || schemaname || '.' || viewname || ' ' || definition AS line FROM pg_views WHERE schemaname ${filter}`,
    `SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_arguments(p.oid) || ')' AS line
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname ${filter}`,
    `SELECT 'schema ' || nspname AS line FROM pg_namespace WHERE nspname ${filter} AND nspname NOT LIKE 'pg_temp%'
        AND nspname NOT LIKE 'pg_toast_temp%'`,
  ];
  const lines: string[] = [];
  for (const query of queries) {
    const result = await db.query<{ line: string }>(query);
    lines.push(...result.rows.map((row) => row.line));
  }
  return lines.sort();
}
