/**
 * detach-partition-non-concurrently: ALTER TABLE ... DETACH PARTITION without CONCURRENTLY on a
 * partitioned table this migration did not create. It takes ACCESS EXCLUSIVE on the partitioned
 * table and the partition: every query of the whole table queues while it waits (PostgreSQL 18
 * docs, ALTER TABLE, DETACH PARTITION).
 */
import { lockQueue, quietTableStep } from '../lock-queue.ts';
import { fromRangeVar, quoted } from '../model/relation-name.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const detachPartitionNonConcurrently = {
  id: 'detach-partition-non-concurrently',
  title: 'DETACH PARTITION without CONCURRENTLY of an existing partitioned table',
  why: 'A plain DETACH PARTITION takes ACCESS EXCLUSIVE on the partitioned table itself: brief, but while it waits for running queries every later query of the whole table queues behind it.',
  fix: steps(
    '1. From PostgreSQL 14, use ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY in a migration of its own marked ' +
      '`transaction: false`: it takes SHARE UPDATE EXCLUSIVE on the partitioned table. It is not allowed when the table ' +
      'has a DEFAULT partition; if it is interrupted, finish it with DETACH PARTITION ... FINALIZE.',
    `2. ${quietTableStep('detach-partition-non-concurrently')}`,
  ),
  detect: { by: 'statement', check: detachedPartitions },
} as const satisfies RuleModule;

function detachedPartitions({ node, schema, pgVersion }: StatementUnderCheck): StatementHit[] {
  if (!('AlterTableStmt' in node) || !node.AlterTableStmt.relation) return [];
  const parent = fromRangeVar(node.AlterTableStmt.relation);
  if (schema.createdHere(parent)) return [];
  return (node.AlterTableStmt.cmds ?? []).flatMap((command, part) => {
    if (!('AlterTableCmd' in command) || command.AlterTableCmd.subtype !== 'AT_DetachPartition') return [];
    const detach = command.AlterTableCmd.def;
    const partitionCommand = detach && 'PartitionCmd' in detach ? detach.PartitionCmd : undefined;
    if (!partitionCommand || partitionCommand.concurrent) return [];
    const partition = partitionCommand.name ? quoted(fromRangeVar(partitionCommand.name)) : 'the partition';
    const what = `table ${quoted(parent)}`;
    const instead =
      pgVersion >= 14
        ? 'use DETACH PARTITION ... CONCURRENTLY in a `transaction: false` migration'
        : `PostgreSQL ${pgVersion} has no DETACH PARTITION CONCURRENTLY (it came in 14): detach at a quiet moment`;
    return [
      {
        part,
        message:
          `DETACH PARTITION ${partition} takes an ACCESS EXCLUSIVE lock on partitioned ${what} and on the partition: ` +
          `${lockQueue(what, 'reads and writes')}; ${instead}`,
      },
    ];
  });
}
