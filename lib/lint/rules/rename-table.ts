/**
 * rename-table: ALTER TABLE ... RENAME TO of a table this migration did not create, unless a
 * later statement creates a view with the old name (the recipe).
 */
import { fromRangeVar, quoted, sameRelation } from '../model/relation-name.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const renameTable = {
  id: 'rename-table',
  title: 'RENAME of an existing table',
  why: 'Deployed code still uses the old name and fails at once: code and schema never change at the same instant.',
  fix: steps(
    '1. In one migration: ALTER TABLE old RENAME TO new; CREATE VIEW old AS SELECT * FROM new; ' +
      '(a simple view is updatable, so old code keeps working).',
    '2. Deploy code that uses the new name.',
    '3. Drop the view in a later migration.',
  ),
  detect: { by: 'statement', check: renamedTable },
} as const satisfies RuleModule;

function renamedTable({ node, index, statements, schema }: StatementUnderCheck): StatementHit[] {
  if (!('RenameStmt' in node) || node.RenameStmt.renameType !== 'OBJECT_TABLE') return [];
  const statement = node.RenameStmt;
  if (!statement.relation) return [];
  const table = fromRangeVar(statement.relation);
  if (schema.createdHere(table)) return [];
  const keepsOldName = statements.some(
    (later, at) =>
      at > index &&
      'ViewStmt' in later &&
      later.ViewStmt.view &&
      sameRelation(fromRangeVar(later.ViewStmt.view), table),
  );
  if (keepsOldName) return [];
  const to = quoted(statement.newname ?? '');
  return [
    {
      message: `RENAME TO renames table ${quoted(table)} to ${to} while deployed code still uses the old name`,
    },
  ];
}
