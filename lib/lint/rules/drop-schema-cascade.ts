/**
 * drop-schema-cascade: DROP SCHEMA ... CASCADE of a schema this migration did not create. It drops
 * everything in the schema, and every object elsewhere that depends on it, taking ACCESS EXCLUSIVE
 * on each table it drops (PostgreSQL 18 docs, DROP SCHEMA; 5.15 Dependency Tracking).
 */
import { lockQueue } from '../lock-queue.ts';
import { quoted } from '../model/relation-name.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const dropSchemaCascade = {
  id: 'drop-schema-cascade',
  title: 'DROP SCHEMA ... CASCADE of an existing schema',
  why: 'CASCADE drops every table, view, function and type in the schema with their data, and every object elsewhere that depends on them (a view, a foreign key, a column of one of its types), none of them named in the migration.',
  fix: steps(
    '1. Deploy application code that no longer uses anything in the schema.',
    '2. Drop its objects by name in a later migration (each drop is then checked on its own), then DROP SCHEMA without ' +
      'CASCADE, which fails if anything is left.',
    '3. If the whole schema must go at once, mark it `-- rds-migrate:allow drop-schema-cascade <reason>` ' +
      '(the deploy snapshots RDS first; locally run `rds-migrate backup`).',
  ),
  detect: { by: 'statement', check: droppedSchemas },
} as const satisfies RuleModule;

function droppedSchemas({ node, schema }: StatementUnderCheck): StatementHit[] {
  if (!('DropStmt' in node) || node.DropStmt.removeType !== 'OBJECT_SCHEMA') return [];
  if (node.DropStmt.behavior !== 'DROP_CASCADE') return [];
  return (node.DropStmt.objects ?? []).flatMap((object) => {
    const name = 'String' in object ? object.String.sval : undefined;
    if (!name || schema.schemaCreatedHere(name)) return [];
    const what = `every relation in schema ${quoted(name)}`;
    return [
      {
        message:
          `DROP SCHEMA ${quoted(name)} CASCADE drops everything in it with its data, and every object elsewhere that ` +
          `depends on it, taking an ACCESS EXCLUSIVE lock on each table: ${lockQueue(what, 'reads and writes')}`,
      },
    ];
  });
}
