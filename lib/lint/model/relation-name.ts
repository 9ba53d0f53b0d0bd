/**
 * Names of tables, indexes, views, sequences and types as migrations write them: schema-qualified
 * or not. Two names match when the names do and the schemas do wherever both are written, since
 * the linter cannot know the search_path a statement will run with.
 */
import type { Node, RangeVar } from 'libpg-query';

export interface RelationName {
  readonly schema?: string;
  readonly name: string;
}

export function fromRangeVar(relation: RangeVar): RelationName {
  return { schema: relation.schemaname, name: relation.relname ?? '' };
}

/** A list of String nodes (`DROP TABLE a.b`, a type name): the last one is the object's name. */
export function fromNames(names: readonly Node[] | undefined): RelationName | undefined {
  const parts = (names ?? []).flatMap((item) => ('String' in item ? [item.String.sval ?? ''] : []));
  const name = parts.at(-1);
  if (name === undefined) return undefined;
  return { schema: parts.length > 1 ? parts.at(-2) : undefined, name };
}

/** A DROP object or similar: a List of String nodes. */
export function fromNameList(object: Node | undefined): RelationName | undefined {
  if (!object || !('List' in object)) return undefined;
  return fromNames(object.List.items);
}

export function sameRelation(a: RelationName, b: RelationName): boolean {
  return a.name === b.name && (a.schema === undefined || b.schema === undefined || a.schema === b.schema);
}

/** For messages: `"users"`, `"billing.invoices"`. */
export function quoted(name: RelationName | string): string {
  if (typeof name === 'string') return `"${name}"`;
  return name.schema ? `"${name.schema}.${name.name}"` : `"${name.name}"`;
}

/**
 * Relations keyed by bare name, so a lookup is a map hit plus a schema check, not a scan: the
 * linter looks names up for every statement of hundreds of migrations.
 */
export class RelationMap<T> {
  private readonly byName = new Map<string, { relation: RelationName; value: T }[]>();

  get(relation: RelationName): T | undefined {
    return this.byName.get(relation.name)?.find((entry) => sameRelation(entry.relation, relation))?.value;
  }

  has(relation: RelationName): boolean {
    return this.get(relation) !== undefined;
  }

  set(relation: RelationName, value: T): void {
    this.delete(relation);
    const entries = this.byName.get(relation.name) ?? [];
    entries.push({ relation, value });
    this.byName.set(relation.name, entries);
  }

  delete(relation: RelationName): void {
    const entries = this.byName.get(relation.name);
    if (!entries) return;
    const kept = entries.filter((entry) => !sameRelation(entry.relation, relation));
    if (kept.length > 0) this.byName.set(relation.name, kept);
    else this.byName.delete(relation.name);
  }

  clear(): void {
    this.byName.clear();
  }

  forEach(visit: (relation: RelationName, value: T) => void): void {
    for (const entries of this.byName.values())
      for (const entry of entries) visit(entry.relation, entry.value);
  }
}
