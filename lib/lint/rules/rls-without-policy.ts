/**
 * rls-without-policy: ENABLE ROW LEVEL SECURITY on an existing table that has no policy, in this
 * or an earlier migration. Not about locks: every role the policies would admit now sees nothing.
 */
import type { Node } from 'libpg-query';
import { fromRangeVar, quoted, type RelationName, sameRelation } from '../model/relation-name.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const rlsWithoutPolicy = {
  id: 'rls-without-policy',
  title: 'ENABLE ROW LEVEL SECURITY on a table without a policy',
  why: 'With row level security on and no policy, every role but the owner, superusers and BYPASSRLS roles reads no rows and cannot write one: the application sees an empty table.',
  fix: steps(
    '1. Create the policies the application needs (CREATE POLICY ... ON t USING (...) WITH CHECK (...)), in this migration or an earlier one.',
    '2. Check them as the application role: SET ROLE app; SELECT count(*) FROM t;',
    '3. Enable row level security after them; if no role but the owner is to read the table, mark it `-- rds-migrate:allow rls-without-policy <reason>`.',
  ),
  detect: { by: 'statement', check: enabledWithoutPolicy },
} as const satisfies RuleModule;

function enabledWithoutPolicy({ node, schema, statements }: StatementUnderCheck): StatementHit[] {
  return tableCommands(node, 'AT_EnableRowSecurity').flatMap(({ table, part }) => {
    if (schema.createdHere(table)) return [];
    if ((schema.facts.table(table)?.policies ?? 0) > 0 || policyIn(statements, table)) return [];
    return [
      {
        part,
        message:
          `ENABLE ROW LEVEL SECURITY on table ${quoted(table)}, which has no policy in this or an earlier migration: ` +
          'every role but its owner, superusers and BYPASSRLS roles now reads no rows and cannot write any',
      },
    ];
  });
}

/** A CREATE POLICY on the table anywhere in the migration: one transaction enables both, or neither. */
function policyIn(statements: readonly Node[], table: RelationName): boolean {
  return statements.some(
    (statement) =>
      'CreatePolicyStmt' in statement &&
      statement.CreatePolicyStmt.table !== undefined &&
      sameRelation(fromRangeVar(statement.CreatePolicyStmt.table), table),
  );
}
