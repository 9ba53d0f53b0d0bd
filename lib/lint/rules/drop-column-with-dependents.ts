/**
 * drop-column-with-dependents: DROP COLUMN of a column that a primary key, a UNIQUE constraint or
 * an index covers, or that a foreign key references, as the migrations show them. They go with
 * it, silently (or, for a foreign key without CASCADE, the statement fails).
 */
import { quoted, type RelationName, sameRelation } from '../model/relation-name.ts';
import type { SchemaKnowledge } from '../model/schema-knowledge.ts';
import type { KnownKey } from '../model/table-facts.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const dropColumnWithDependents = {
  id: 'drop-column-with-dependents',
  title: 'DROP COLUMN of a key, indexed or referenced column',
  why: 'The column takes its PRIMARY KEY, UNIQUE constraints and indexes with it: duplicates are accepted from then on, INSERT ... ON CONFLICT on it fails, queries that used the index scan the table; a foreign key referencing it makes the DROP fail, or with CASCADE drops that key too.',
  fix: steps(
    '1. Move what depends on the column first: recreate the uniqueness or index on its replacement (CREATE UNIQUE INDEX CONCURRENTLY), repoint foreign keys.',
    '2. Deploy code that no longer relies on it (ON CONFLICT targets, lookups).',
    '3. Drop the constraints explicitly, then the column, each marked `-- rds-migrate:allow drop-column-with-dependents <reason>`.',
  ),
  detect: { by: 'statement', check: droppedWithDependents },
} as const satisfies RuleModule;

function droppedWithDependents({ node, schema }: StatementUnderCheck): StatementHit[] {
  return tableCommands(node, 'AT_DropColumn').flatMap(({ table, command, part }) => {
    if (schema.createdHere(table)) return [];
    const column = command.name ?? '';
    const dependents = dependentsOf(schema, table, column);
    if (dependents.keys.length === 0 && dependents.references.length === 0) return [];
    const hits: StatementHit[] = [];
    if (dependents.keys.length > 0) {
      hits.push({
        part,
        message: `DROP COLUMN ${quoted(column)} of table ${quoted(table)} also drops ${dependents.keys.join(', ')}`,
      });
    }
    if (dependents.references.length > 0) {
      const outcome =
        command.behavior === 'DROP_CASCADE'
          ? 'CASCADE drops them too, and with them the integrity they enforced'
          : 'the statement fails (other objects depend on it) unless CASCADE drops them';
      hits.push({
        part,
        message: `DROP COLUMN ${quoted(column)} of table ${quoted(table)} is referenced by ${dependents.references.join(', ')}: ${outcome}`,
      });
    }
    return hits;
  });
}

const KEY_WORDS: Record<KnownKey['kind'], string> = {
  'primary key': 'PRIMARY KEY constraint',
  unique: 'UNIQUE constraint',
  'unique index': 'unique index',
  index: 'index',
};

function dependentsOf(
  schema: SchemaKnowledge,
  table: RelationName,
  column: string,
): { keys: string[]; references: string[] } {
  const facts = schema.facts.table(table);
  const keys = (facts?.keys ?? [])
    .filter((key) => key.columns.includes(column))
    .map((key) => `${KEY_WORDS[key.kind]}${key.name ? ` ${quoted(key.name)}` : ''}`);
  const primaryKey = facts?.keys.find((key) => key.kind === 'primary key')?.columns ?? [];
  const references = schema.facts
    .referencing(table)
    .filter((key) => (key.toColumns.length > 0 ? key.toColumns : primaryKey).includes(column))
    .filter((key) => !sameRelation(key.from, table) || !key.columns.includes(column))
    .map((key) => `the foreign key${key.name ? ` ${quoted(key.name)}` : ''} of table ${quoted(key.from)}`);
  return { keys, references };
}
