/**
 * Reading the parse tree for the lock model: the tables a query reads, the relations a COMMENT
 * names, and the options of VACUUM, REINDEX and CLUSTER.
 */
import type { Node, RangeVar } from 'libpg-query';
import { LOCKS, lock, table } from './effect-parts.ts';
import { fromNames, fromRangeVar, quoted, type RelationName } from './relation-name.ts';
import type { LockTaken, Work } from './statement-effect.ts';

/** Every table a query reads (RangeVar nodes), less the names of its CTEs. */
export function relationsRead(tree: unknown, exclude?: RangeVar): RelationName[] {
  const ctes = new Set<string>();
  const found: RelationName[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    const cte = record.CommonTableExpr as { ctename?: string } | undefined;
    if (cte?.ctename) ctes.add(cte.ctename);
    const rangeVar = record.RangeVar as RangeVar | undefined;
    if (rangeVar?.relname) found.push(fromRangeVar(rangeVar));
    for (const nested of Object.values(record)) visit(nested);
  };
  visit(tree);
  return found.filter(
    (name) =>
      !(name.schema === undefined && ctes.has(name.name)) && !(exclude && name.name === exclude.relname),
  );
}

export function readLocks(tree: unknown, exclude?: RangeVar): LockTaken[] {
  return relationsRead(tree, exclude).map((name) => lock(table(name), 'ACCESS SHARE', LOCKS));
}

/** Reading whole tables takes time in proportion to them: long, though it blocks nobody by itself. */
export function readWork(tree: unknown, what: string): Work[] {
  if (
    !tree ||
    (typeof tree === 'object' &&
      'SelectStmt' in tree &&
      !(tree as { SelectStmt: { fromClause?: unknown[] } }).SelectStmt.fromClause)
  ) {
    return [];
  }
  return relationsRead(tree).map((name) => ({
    kind: 'scan',
    target: table(name),
    message: `${what} reads table ${quoted(name)}`,
    doc: LOCKS,
  }));
}

export function rangeVars(nodes: readonly Node[] | undefined): RelationName[] {
  return (nodes ?? []).flatMap((node) => ('RangeVar' in node ? [fromRangeVar(node.RangeVar)] : []));
}

export function commentedRelation(
  objectType: string | undefined,
  object: Node | undefined,
): RelationName | undefined {
  if (!object || !('List' in object)) return undefined;
  const items = object.List.items ?? [];
  if (objectType === 'OBJECT_COLUMN') return fromNames(items.slice(0, -1));
  if (
    ['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_INDEX', 'OBJECT_SEQUENCE'].includes(
      objectType ?? '',
    )
  ) {
    return fromNames(items);
  }
  return undefined;
}

/** A VACUUM, REINDEX or CLUSTER option that is on: `FULL`, `FULL true`, `CONCURRENTLY`. */
export function isOptionOn(node: Node, name: string): boolean {
  if (!('DefElem' in node) || node.DefElem.defname !== name) return false;
  const value = node.DefElem.arg;
  if (!value) return true;
  if ('Boolean' in value) return value.Boolean.boolval === true;
  if ('Integer' in value) return (value.Integer.ival ?? 0) !== 0;
  if ('String' in value)
    return !['false', 'off', 'no', '0'].includes((value.String.sval ?? '').toLowerCase());
  return true;
}

export function optionIsOff(options: readonly Node[] | undefined, name: string): boolean {
  return (options ?? []).some(
    (option) => 'DefElem' in option && option.DefElem.defname === name && !isOptionOn(option, name),
  );
}
