/**
 * rename-enum-value: ALTER TYPE ... RENAME VALUE of an enum type this migration did not create.
 * For the application it is a rename like a column's: deployed code still writes and compares the
 * old label, which PostgreSQL now rejects (invalid input value for enum).
 */
import { fromNames, quoted } from '../model/relation-name.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const renameEnumValue = {
  id: 'rename-enum-value',
  title: 'ALTER TYPE ... RENAME VALUE of an existing enum type',
  why: 'Deployed code still writes and compares the old label, which the type no longer accepts ("invalid input value for enum"): code and schema never change at the same instant.',
  fix: steps(
    "1. Add the new label (ALTER TYPE ... ADD VALUE; it is usable once that migration's transaction commits).",
    '2. Deploy code that writes the new label and reads both; backfill the rows in batches (a TS migration with ctx.batch).',
    '3. Once nothing uses the old label, leave it unused (PostgreSQL cannot drop an enum value) or move to a new type.',
  ),
  detect: { by: 'statement', check: renamedValues },
} as const satisfies RuleModule;

function renamedValues({ node, schema }: StatementUnderCheck): StatementHit[] {
  if (!('AlterEnumStmt' in node)) return [];
  const statement = node.AlterEnumStmt;
  const type = fromNames(statement.typeName);
  if (statement.oldVal === undefined || statement.newVal === undefined || !type) return [];
  if (schema.createdHere(type)) return [];
  return [
    {
      message:
        `RENAME VALUE renames label ${quoted(statement.oldVal)} of enum type ${quoted(type)} to ${quoted(statement.newVal)} ` +
        'while deployed code still writes and compares the old label, which the type then rejects',
    },
  ];
}
