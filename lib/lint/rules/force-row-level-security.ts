/**
 * force-row-level-security: FORCE ROW LEVEL SECURITY on an existing table. The owner, often the
 * role the application and the migrations connect as, becomes subject to the policies.
 */
import { quoted } from '../model/relation-name.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const forceRowLevelSecurity = {
  id: 'force-row-level-security',
  title: 'FORCE ROW LEVEL SECURITY on an existing table',
  why: "The table's owner stops bypassing its policies: an application connecting as the owner (the usual setup) sees only the rows a policy grants it, none without one.",
  fix: steps(
    '1. Check which role the application connects as; if it owns the table, make sure a policy admits what it must read and write.',
    '2. Check as that role in a copy of the database: SET ROLE owner; SELECT count(*) FROM t;',
    '3. Mark the statement `-- rds-migrate:allow force-row-level-security <reason>`.',
  ),
  detect: { by: 'statement', check: forced },
} as const satisfies RuleModule;

function forced({ node, schema }: StatementUnderCheck): StatementHit[] {
  return tableCommands(node, 'AT_ForceRowSecurity').flatMap(({ table, part }) => {
    if (schema.createdHere(table)) return [];
    const policies = schema.facts.table(table)?.policies ?? 0;
    const which = policies > 0 ? 'only the rows its policies grant' : 'no rows (no policy in the migrations)';
    return [
      {
        part,
        message: `FORCE ROW LEVEL SECURITY on table ${quoted(table)}: its owner, often the application's role, now sees ${which}`,
      },
    ];
  });
}
