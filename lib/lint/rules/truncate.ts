/**
 * truncate: TRUNCATE of a table this migration did not create. It deletes every row for good, and
 * its ACCESS EXCLUSIVE lock queues every query of the table while it waits (PostgreSQL 18 docs,
 * TRUNCATE, Notes).
 */
import { lockQueue } from '../lock-queue.ts';
import { rangeVars } from '../model/parse-tree-reading.ts';
import { quoted } from '../model/relation-name.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const truncate = {
  id: 'truncate',
  title: 'TRUNCATE of an existing table',
  why: 'TRUNCATE deletes every row for good (the snapshot taken before the deploy is the only way back), and its ACCESS EXCLUSIVE lock queues every query of the table while it waits.',
  fix: steps(
    '1. Deploy application code that no longer needs the rows.',
    '2. To empty a busy table, delete in batches in a TS migration with ctx.batch, which keeps each lock short.',
    '3. If emptying it at once is the point, do it in a migration of its own, marked `-- rds-migrate:allow truncate <reason>` ' +
      '(the deploy snapshots RDS first; locally run `rds-migrate backup`).',
  ),
  detect: { by: 'statement', check: truncatedTables },
  examples: {
    unsafe: [
      `-- expect: truncate
-- Every row of sessions is gone for good, and CASCADE empties the tables that reference it too.
TRUNCATE sessions CASCADE;`,
    ],
    safe: [
      `-- expect: none
-- A table this migration created is empty and unseen: truncating it loses nothing and blocks nobody.
CREATE TABLE import_staging (id bigint, payload jsonb);
INSERT INTO import_staging VALUES (1, '{}');
TRUNCATE import_staging;`,
    ],
  },
} as const satisfies RuleModule;

function truncatedTables({ node, schema }: StatementUnderCheck): StatementHit[] {
  if (!('TruncateStmt' in node)) return [];
  const tables = rangeVars(node.TruncateStmt.relations).filter((table) => !schema.createdHere(table));
  if (tables.length === 0) return [];
  const names = tables.map((table) => `table ${quoted(table)}`).join(', ');
  const cascade =
    node.TruncateStmt.behavior === 'DROP_CASCADE'
      ? ', and CASCADE empties every table with a foreign key to it as well'
      : '';
  return [
    {
      message:
        `TRUNCATE deletes every row of ${names} for good${cascade}; it takes an ACCESS EXCLUSIVE lock: ` +
        lockQueue(names, 'reads and writes'),
    },
  ];
}
