/**
 * drop-table: DROP TABLE of a table this migration did not create. Not about locks: deployed
 * code still reads and writes the table, and its data is gone.
 */
import { fromNameList, quoted } from '../model/relation-name.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const dropTable = {
  id: 'drop-table',
  title: 'DROP TABLE of an existing table',
  why: 'Dropping a table deletes its data for good, and deployed code that still reads or writes it fails at once.',
  fix: steps(
    '1. Deploy application code that no longer reads or writes the table.',
    '2. In a later migration, drop it (the deploy snapshots RDS first; locally run `rds-migrate backup`).',
    '3. Mark that statement with `-- rds-migrate:allow drop-table <reason>` on the line above.',
  ),
  detect: { by: 'statement', check: droppedTables },
} as const satisfies RuleModule;

function droppedTables({ node, schema }: StatementUnderCheck): StatementHit[] {
  if (!('DropStmt' in node) || node.DropStmt.removeType !== 'OBJECT_TABLE') return [];
  return (node.DropStmt.objects ?? []).flatMap((object) => {
    const table = fromNameList(object);
    if (!table || schema.createdHere(table)) return [];
    return [
      {
        message: `DROP TABLE removes table ${quoted(table)} and its data while deployed code may still use it`,
      },
    ];
  });
}
