/**
 * drop-not-null-on-key: ALTER COLUMN ... DROP NOT NULL on a column of a primary key or an identity
 * column, as the migrations show them. PostgreSQL refuses it.
 */
import { quoted } from '../model/relation-name.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const dropNotNullOnKey = {
  id: 'drop-not-null-on-key',
  title: 'DROP NOT NULL on a primary key or identity column',
  why: 'PostgreSQL refuses it ("column is in a primary key", "column is an identity column"): the migration fails and the deploy with it.',
  fix: steps(
    '1. If the column is to allow NULLs, drop the primary key (or the identity) first, in its own reviewed step, and give the table another key.',
    '2. Otherwise remove the statement: a key column is NOT NULL by definition.',
  ),
  detect: { by: 'statement', check: droppedOnKey },
} as const satisfies RuleModule;

function droppedOnKey({ node, schema }: StatementUnderCheck): StatementHit[] {
  return tableCommands(node, 'AT_DropNotNull').flatMap(({ table, command, part }) => {
    const column = command.name ?? '';
    const facts = schema.facts.table(table);
    if (!facts) return [];
    const inKey = facts.keys.some((key) => key.kind === 'primary key' && key.columns.includes(column));
    if (!inKey && !facts.identity.has(column)) return [];
    const what = inKey ? 'is in the primary key of' : 'is an identity column of';
    return [
      {
        part,
        message: `ALTER COLUMN ${quoted(column)} DROP NOT NULL fails: the column ${what} table ${quoted(table)}`,
      },
    ];
  });
}
