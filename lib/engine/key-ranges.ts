/**
 * Splitting a table's key into K contiguous ranges, so K walkers can each take one: even in
 * keys for an integer key (min and max come from the index), even in rows for any other ordered
 * key (`percentile_disc` over it, one scan). Keys travel as text (JSON-safe, bigint included)
 * and PostgreSQL casts them back to the key's type in every comparison.
 */
import type { Database } from './database.ts';
import { escapeIdentifier } from './sql-quote.ts';

/**
 * One range of the key: above `after` (exclusive) up to `upTo` (inclusive). The first range has
 * no `after`, the last no `upTo`, so rows inserted below or above the keys seen at the split are
 * walked too.
 */
export interface KeyRange {
  readonly after?: string;
  readonly upTo?: string;
}

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

/** `public.products` → `"public"."products"`. */
export function quotedTable(table: string): string {
  return table.split('.').map(escapeIdentifier).join('.');
}

/**
 * At most `count` ranges covering every key of `table`: fewer when the table has fewer distinct
 * keys than that, one (everything) when it is empty or `count` is 1.
 */
export async function splitKeyRange(
  db: Database,
  table: string,
  key: string,
  count: number,
): Promise<KeyRange[]> {
  if (count <= 1) return [{}];
  const relation = quotedTable(table);
  const column = escapeIdentifier(key);
  const bounds = await db.query<{ low: string | null; high: string | null; type: string | null }>(
    `SELECT min(${column})::text AS low, max(${column})::text AS high,
            (SELECT pg_typeof(${column})::text FROM ${relation} LIMIT 1) AS type
     FROM ${relation}`,
  );
  const { low, high, type } = bounds.rows[0] ?? { low: null, high: null, type: null };
  if (low === null || high === null || low === high) return [{}];
  const boundaries = INTEGER_TYPES.has(type ?? '')
    ? integerBoundaries(BigInt(low), BigInt(high), count)
    : await percentileBoundaries(db, relation, column, count);
  return rangesBetween(boundaries);
}

/** The inclusive upper keys of ranges 1..count-1 of [low, high], evenly spaced, distinct. */
export function integerBoundaries(low: bigint, high: bigint, count: number): string[] {
  const span = high - low + 1n;
  const boundaries = new Set<string>();
  for (let index = 1; index < count; index++) {
    const upTo = low + (span * BigInt(index)) / BigInt(count) - 1n;
    if (upTo >= low && upTo < high) boundaries.add(upTo.toString());
  }
  return [...boundaries];
}

/** The keys at 1/count, 2/count, ... of the rows, in key order, distinct. */
async function percentileBoundaries(
  db: Database,
  relation: string,
  column: string,
  count: number,
): Promise<string[]> {
  const fractions = Array.from({ length: count - 1 }, (_, index) => (index + 1) / count);
  const result = await db.query<{ bound: string }>(
    `SELECT DISTINCT bound::text AS bound, bound AS typed FROM unnest(
       (SELECT percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY ${column}) FROM ${relation})
     ) AS bound
     WHERE bound < (SELECT max(${column}) FROM ${relation})
     ORDER BY typed`,
    [fractions],
  );
  return result.rows.map((row) => row.bound);
}

/** Boundaries b1 < b2 < ... as ranges (, b1], (b1, b2], ..., (bn, ). */
function rangesBetween(boundaries: readonly string[]): KeyRange[] {
  if (boundaries.length === 0) return [{}];
  const ranges: KeyRange[] = [{ upTo: boundaries[0] }];
  for (let index = 1; index < boundaries.length; index++) {
    ranges.push({ after: boundaries[index - 1], upTo: boundaries[index] });
  }
  ranges.push({ after: boundaries[boundaries.length - 1] });
  return ranges;
}
