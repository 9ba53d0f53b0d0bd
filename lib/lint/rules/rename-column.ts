/**
 * rename-column: ALTER TABLE ... RENAME COLUMN of a table this migration did not create.
 */
import { fromRangeVar, quoted } from '../model/relation-name.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const renameColumn = {
  id: 'rename-column',
  title: 'RENAME COLUMN of an existing table',
  why: 'Deployed code still uses the old column name and fails at once: code and schema never change at the same instant.',
  fix: steps(
    '1. Add the new column.',
    '2. Write both columns (application or trigger) and backfill the new one in batches (a TS migration with ctx.batch).',
    '3. Switch reads to the new column, deploy, then stop writing the old one.',
    '4. Drop the old column in a later migration.',
  ),
  detect: { by: 'statement', check: renamedColumn },
} as const satisfies RuleModule;

function renamedColumn({ node, schema }: StatementUnderCheck): StatementHit[] {
  if (!('RenameStmt' in node)) return [];
  const statement = node.RenameStmt;
  if (statement.renameType !== 'OBJECT_COLUMN' || statement.relationType !== 'OBJECT_TABLE') return [];
  if (!statement.relation) return [];
  const table = fromRangeVar(statement.relation);
  if (schema.createdHere(table)) return [];
  return [
    {
      message:
        `RENAME COLUMN renames ${quoted(statement.subname ?? '')} of table ${quoted(table)} to ${quoted(statement.newname ?? '')} ` +
        'while deployed code still uses the old name',
    },
  ];
}
