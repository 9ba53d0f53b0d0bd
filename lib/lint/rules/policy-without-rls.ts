/**
 * policy-without-rls: CREATE POLICY on a table whose row level security, as the migrations show
 * it, is off and stays off in this migration. The policy filters nothing.
 */
import { fromRangeVar, quoted, sameRelation } from '../model/relation-name.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const policyWithoutRls = {
  id: 'policy-without-rls',
  title: 'CREATE POLICY on a table whose row level security is off',
  why: 'A policy does nothing until ALTER TABLE ... ENABLE ROW LEVEL SECURITY: every role still reads and writes every row the policy was meant to hide.',
  fix: steps(
    '1. Enable row level security on the table in the same migration (ALTER TABLE t ENABLE ROW LEVEL SECURITY), after creating every policy the application needs.',
    '2. If the policy is staged for a later migration to enable, mark it `-- rds-migrate:allow policy-without-rls <reason>`.',
  ),
  detect: { by: 'statement', check: policyWithoutRowSecurity },
} as const satisfies RuleModule;

function policyWithoutRowSecurity({ node, schema, statements }: StatementUnderCheck): StatementHit[] {
  if (!('CreatePolicyStmt' in node) || !node.CreatePolicyStmt.table) return [];
  const table = fromRangeVar(node.CreatePolicyStmt.table);
  const facts = schema.facts.table(table);
  // A table no migration created may have row level security on: only a known off is reported.
  if (!facts || facts.rowSecurity) return [];
  const enabledHere = statements.some((statement) =>
    tableCommands(statement, 'AT_EnableRowSecurity').some((command) => sameRelation(command.table, table)),
  );
  if (enabledHere) return [];
  return [
    {
      message:
        `CREATE POLICY ${quoted(node.CreatePolicyStmt.policy_name ?? '')} on table ${quoted(table)}, whose row level security is off: ` +
        'the policy filters nothing until ENABLE ROW LEVEL SECURITY',
    },
  ];
}
