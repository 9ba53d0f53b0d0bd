/**
 * drop-index-non-concurrently: DROP INDEX without CONCURRENTLY of an index this migration did not
 * create. Instant once it runs, but its ACCESS EXCLUSIVE lock on the index's table queues every
 * query of the table while it waits (PostgreSQL 18 docs, DROP INDEX, CONCURRENTLY).
 */
import { lockQueue, quietTableStep } from '../lock-queue.ts';
import { fromNameList, quoted } from '../model/relation-name.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const dropIndexNonConcurrently = {
  id: 'drop-index-non-concurrently',
  title: 'DROP INDEX without CONCURRENTLY of an existing index',
  why: "A plain DROP INDEX takes ACCESS EXCLUSIVE on the index's table: brief, but while it waits for running queries every later query of the table queues behind it.",
  fix: steps(
    '1. Use DROP INDEX CONCURRENTLY (one index per statement, no CASCADE) in a migration of its own marked `transaction: false`: ' +
      'it takes SHARE UPDATE EXCLUSIVE and waits for running queries without blocking new ones.',
    '2. An index that backs a PRIMARY KEY, UNIQUE or EXCLUDE constraint cannot be dropped concurrently: drop the constraint ' +
      '(ALTER TABLE ... DROP CONSTRAINT), which takes the same lock, at a quiet moment.',
    `3. ${quietTableStep('drop-index-non-concurrently')}`,
  ),
  detect: { by: 'statement', check: droppedIndexes },
} as const satisfies RuleModule;

function droppedIndexes({ node, schema }: StatementUnderCheck): StatementHit[] {
  if (!('DropStmt' in node) || node.DropStmt.removeType !== 'OBJECT_INDEX' || node.DropStmt.concurrent)
    return [];
  return (node.DropStmt.objects ?? []).flatMap((object) => {
    const index = fromNameList(object);
    if (!index || schema.createdHere(index)) return [];
    const parent = schema.tableOfIndex(index);
    if (parent && schema.createdHere(parent)) return [];
    const on = parent ? `table ${quoted(parent)}` : "the index's table";
    return [
      {
        message:
          `DROP INDEX ${quoted(index)} takes an ACCESS EXCLUSIVE lock on ${on}: ${lockQueue(on, 'reads and writes')}; ` +
          'use DROP INDEX CONCURRENTLY in a `transaction: false` migration',
      },
    ];
  });
}
