/**
 * Enums: the diff library recreates a type whose values changed (rename, create, convert each
 * column, drop), which rewrites every table using it. Values only added, in order, are ADD VALUE
 * instead; values removed or reordered are a note for the person reviewing.
 */
import { quotedQualified } from './sql-names.ts';

/** A note for the person reviewing (one of safe-migrations.ts's ReviewNote kinds). */
interface EnumNote {
  readonly kind: 'enum-value-removed';
  readonly message: string;
}

export interface EnumRewrites {
  /** Whether the enum (`schema.name`) only gains values, in order: ADD VALUE, not a recreation. */
  addsValuesTo(type: string): boolean;
  /** Its ADD VALUE statements, each also as it runs when committed first (IF NOT EXISTS). */
  addValues(type: string): readonly AddValue[];
  readonly notes: readonly EnumNote[];
  /** The values added, as the literals a statement using them would hold (`'meh'`). */
  readonly addedValues: readonly string[];
}

interface AddValue {
  readonly sql: string;
  readonly committedFirst: string;
}

export function enumChanges(facts: {
  readonly enumsBefore: ReadonlyMap<string, readonly string[]>;
  readonly enumsAfter: ReadonlyMap<string, readonly string[]>;
}): EnumRewrites {
  const addable = new Map<string, AddValue[]>();
  const addedValues: string[] = [];
  const notes: EnumNote[] = [];
  for (const [name, after] of facts.enumsAfter) {
    const before = facts.enumsBefore.get(name);
    if (!before || sameValues(before, after)) continue;
    const kept = after.filter((value) => before.includes(value));
    if (!sameValues(kept, before)) {
      notes.push({
        kind: 'enum-value-removed',
        message:
          `enum ${name} loses or reorders values (${before.join(', ')} → ${after.join(', ')}): PostgreSQL cannot drop a ` +
          'value, so the type is recreated and every column using it converted (a table rewrite); make sure no row holds a removed value',
      });
      continue;
    }
    addable.set(name, addValueStatements(name, before, after));
    for (const value of after) if (!before.includes(value)) addedValues.push(enumLiteral(value));
  }
  return {
    notes,
    addedValues,
    addsValuesTo: (type) => addable.has(type),
    addValues: (type) => addable.get(type) ?? [],
  };
}

function enumLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

function addValueStatements(name: string, before: readonly string[], after: readonly string[]): AddValue[] {
  const statements: AddValue[] = [];
  const literal = enumLiteral;
  let previous: string | undefined;
  for (const value of after) {
    if (!before.includes(value)) {
      const where =
        previous === undefined ? `before ${literal(before[0] as string)}` : `after ${literal(previous)}`;
      const type = quotedQualified(name);
      statements.push({
        sql: `alter type ${type} add value ${literal(value)} ${where};`,
        committedFirst: `alter type ${type} add value if not exists ${literal(value)} ${where};`,
      });
    }
    previous = value;
  }
  return statements;
}
