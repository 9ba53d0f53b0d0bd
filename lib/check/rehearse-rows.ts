/**
 * The row behind a failure, when PostgreSQL names none: `SET NOT NULL` says only that a column
 * "contains null values", so the rehearsal looks one up on the copy (and counts them, up to a
 * bound). Row data: for the local report only.
 */
import type { Database } from '../engine/database.ts';

/** A row that breaks a statement, as found on the copy. */
export interface FailingRow {
  readonly relation: string;
  readonly column: string;
  /** The first such row, as JSON (at most 500 characters). */
  readonly sample: string;
  /** Rows like it, counted up to `ROWS_COUNTED`. */
  readonly count: number;
  /** More than `ROWS_COUNTED` rows are like it. */
  readonly more: boolean;
}

/** The fields of PostgreSQL's error that name where it failed. */
export interface FailedAt {
  readonly code?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
}

const ROWS_COUNTED = 1000;

/** SQLSTATE of not_null_violation. */
const NOT_NULL_VIOLATION = '23502';

export async function findFailingRow(db: Database, failed: FailedAt): Promise<FailingRow | undefined> {
  if (failed.code !== NOT_NULL_VIOLATION || !failed.table || !failed.column) return undefined;
  // Quoted by the server: this part of rds-migrate speaks SQL through the engine only.
  const built = await db.query<{ text: string }>(
    `SELECT format('SELECT (SELECT row_to_json(r)::text FROM %1$I.%2$I r WHERE %3$I IS NULL LIMIT 1) AS sample,
       (SELECT count(*) FROM (SELECT 1 FROM %1$I.%2$I WHERE %3$I IS NULL LIMIT %4$s) c) AS count',
       coalesce($1::text, current_schema()), $2::text, $3::text, $4::int) AS text`,
    [failed.schema ?? null, failed.table, failed.column, ROWS_COUNTED + 1],
  );
  const result = await db.query<{ sample: string | null; count: string }>(built.rows[0]?.text ?? '');
  const row = result.rows[0];
  if (!row?.sample) return undefined;
  const count = Number(row.count);
  return {
    relation: failed.schema ? `${failed.schema}.${failed.table}` : failed.table,
    column: failed.column,
    sample: row.sample.length > 500 ? `${row.sample.slice(0, 497)}...` : row.sample,
    count: Math.min(count, ROWS_COUNTED),
    more: count > ROWS_COUNTED,
  };
}
