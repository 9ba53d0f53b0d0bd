/**
 * replica-identity-change: REPLICA IDENTITY NOTHING, or DEFAULT on a table without a primary key,
 * on an existing table. On a table in a publication the next UPDATE or DELETE fails.
 */
import { quoted } from '../model/relation-name.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const replicaIdentityChange = {
  id: 'replica-identity-change',
  title: 'REPLICA IDENTITY left without a usable key',
  why: 'A table in a publication that publishes updates or deletes needs a replica identity: without one, every UPDATE and DELETE of it fails ("cannot update table ... because it does not have a replica identity").',
  fix: steps(
    '1. Check whether the table is published: SELECT pubname FROM pg_publication_tables WHERE tablename = $$t$$; (and FOR ALL TABLES publications).',
    '2. Keep an identity: REPLICA IDENTITY DEFAULT with a primary key, USING INDEX on a unique index of NOT NULL columns, or FULL.',
    '3. If the table is never published, mark it `-- rds-migrate:allow replica-identity-change <reason>`.',
  ),
  detect: { by: 'statement', check: identityRemoved },
} as const satisfies RuleModule;

function identityRemoved({ node, schema }: StatementUnderCheck): StatementHit[] {
  return tableCommands(node, 'AT_ReplicaIdentity').flatMap(({ table, command, part }) => {
    if (schema.createdHere(table)) return [];
    const identity =
      command.def && 'ReplicaIdentityStmt' in command.def ? command.def.ReplicaIdentityStmt : undefined;
    const facts = schema.facts.table(table);
    const withoutKey =
      identity?.identity_type === 'd' &&
      facts !== undefined &&
      !facts.keys.some((key) => key.kind === 'primary key');
    if (identity?.identity_type !== 'n' && !withoutKey) return [];
    const form = withoutKey ? 'DEFAULT, and it has no primary key,' : 'NOTHING';
    return [
      {
        part,
        message:
          `REPLICA IDENTITY ${form} on table ${quoted(table)}: if a publication publishes its updates or deletes, ` +
          'every UPDATE and DELETE of it now fails',
      },
    ];
  });
}
