/**
 * drop-column: ALTER TABLE ... DROP COLUMN on a table this migration did not create. Not about
 * locks: deployed code still reads and writes the column.
 */
import { quoted } from '../model/relation-name.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const dropColumn = {
  id: 'drop-column',
  title: 'DROP COLUMN of an existing table',
  why: 'Deployed code that selects or writes the column (ORMs list every column) fails as soon as it is gone, and its data is lost.',
  fix: steps(
    '1. Deploy application code that no longer reads or writes the column (tell the ORM to ignore it).',
    '2. In a later migration, drop it, marked `-- rds-migrate:allow drop-column <reason>`.',
  ),
  detect: { by: 'statement', check: droppedColumns },
} as const satisfies RuleModule;

function droppedColumns({ node, schema }: StatementUnderCheck): StatementHit[] {
  return tableCommands(node, 'AT_DropColumn').flatMap(({ table, command, part }) => {
    if (schema.createdHere(table)) return [];
    const column = quoted(command.name ?? '');
    return [
      {
        part,
        message: `DROP COLUMN removes column ${column} of table ${quoted(table)} while deployed code may still use it`,
      },
    ];
  });
}
