/**
 * Partitions, where the diff library gets them wrong: it drops tables in no particular order, so
 * a partitioned table's drop can come before its partition's (gone with it, the partition's drop
 * then fails); it attaches a partition the wrong way round (`alter table <partition> attach
 * partition <parent>`, which PostgreSQL refuses: the parent is the one altered); and it does not
 * see PostgreSQL 18's NOT NULL constraints, which a partition has under its parent's names
 * (`events_id_not_null`) and a table made on its own under its own (`events_2026_id_not_null`).
 * A partition detached is given the names the wanted table has, and one attached the names the
 * wanted partition has, before the attach (an inherited constraint cannot be renamed).
 */
import { escapeIdentifier } from '../engine/sql-quote.ts';
import type { NotNullConstraint } from './diff-gaps.ts';

/** A table as the diff library inspects it, as far as partitions go. */
export interface PartitionedTable {
  readonly schema: string;
  readonly name: string;
  readonly quoted_full_name: string;
  /** The quoted name of its parent (a partition's, or an inheriting table's); empty or null for none. */
  readonly parent_table?: string | null;
  /** A partition's bounds (`FOR VALUES ...`), or a partitioned table's key; empty or null for neither. */
  readonly partition_def?: string | null;
}

/** One side of the comparison: the library's tables, and the NOT NULL constraints it does not list. */
export interface PartitionSide {
  readonly tables: Readonly<Record<string, PartitionedTable>>;
  readonly notNull: readonly NotNullConstraint[];
}

/** The library's statements with the partitions' drops, detaches and attaches put right. */
export function mendPartitions(
  statements: readonly string[],
  from: PartitionSide,
  to: PartitionSide,
): string[] {
  const attaches = new Map<string, PartitionedTable>();
  const detaches = new Map<string, PartitionedTable>();
  for (const table of Object.values(to.tables))
    if (isPartition(table)) attaches.set(wrongAttach(table), table);
  for (const table of Object.values(from.tables)) if (isPartition(table)) detaches.set(detach(table), table);
  const mended = statements.flatMap((sql) => {
    const attached = attaches.get(sql);
    if (attached) return [...notNullNamesAsIn(attached, from, to), rightAttach(attached)];
    const detached = detaches.get(sql);
    if (detached) return [sql, ...notNullNamesAsIn(detached, from, to)];
    return [sql];
  });
  return partitionsDroppedFirst(mended, from.tables);
}

/** What the library writes to attach a partition: the partition altered, which PostgreSQL refuses. */
function wrongAttach(table: PartitionedTable): string {
  return `alter table ${table.quoted_full_name} attach partition ${table.parent_table} ${table.partition_def};`;
}

function rightAttach(table: PartitionedTable): string {
  return `alter table ${table.parent_table} attach partition ${table.quoted_full_name} ${table.partition_def};`;
}

/** The library's detach (right as it is). */
function detach(table: PartitionedTable): string {
  return `alter table ${table.parent_table} detach partition ${table.quoted_full_name};`;
}

/** RENAME CONSTRAINT for each NOT NULL of `table` whose name on `from` is not the one on `to`. */
function notNullNamesAsIn(table: PartitionedTable, from: PartitionSide, to: PartitionSide): string[] {
  const on = (side: PartitionSide) =>
    side.notNull.filter(
      (constraint) => constraint.schema === table.schema && constraint.table === table.name,
    );
  const wanted = on(to);
  return on(from).flatMap((constraint) => {
    const name = wanted.find((other) => other.column === constraint.column)?.name;
    if (name === undefined || name === constraint.name) return [];
    return [
      `alter table ${table.quoted_full_name} rename constraint ${escapeIdentifier(constraint.name)} to ${escapeIdentifier(name)};`,
    ];
  });
}

/**
 * The `drop table`s of the statements reordered among themselves so that a partition (of any
 * depth) is dropped before its parent; every other statement keeps its place.
 */
function partitionsDroppedFirst(
  statements: readonly string[],
  from: Readonly<Record<string, PartitionedTable>>,
): string[] {
  const dropped = (sql: string) => /^drop table (.+);$/.exec(sql)?.[1];
  const depth = (name: string, seen = 0): number => {
    const table = from[name];
    return table?.parent_table && isPartition(table) && seen < 64
      ? 1 + depth(table.parent_table, seen + 1)
      : 0;
  };
  const drops = statements.filter((sql) => dropped(sql) !== undefined);
  if (!drops.some((sql) => depth(dropped(sql) as string) > 0)) return [...statements];
  const ordered = drops
    .map((sql, index) => ({ sql, index, depth: depth(dropped(sql) as string) }))
    .sort((a, b) => b.depth - a.depth || a.index - b.index)
    .map((drop) => drop.sql);
  let next = 0;
  return statements.map((sql) => (dropped(sql) === undefined ? sql : (ordered[next++] as string)));
}

/** A partition has a parent and bounds (an inheriting table has a parent and none). */
function isPartition(table: PartitionedTable): boolean {
  return Boolean(table.parent_table) && /^(?:for values|default)\b/i.test(table.partition_def ?? '');
}
