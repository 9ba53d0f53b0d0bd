/**
 * lock-table: an explicit LOCK TABLE, in a mode that blocks traffic, of a table this migration did
 * not create. The lock lasts until the transaction commits, and waiting for it queues traffic
 * (PostgreSQL 18 docs, LOCK); outside a transaction block PostgreSQL refuses it.
 */
import { lockQueue, quietTableStep } from '../lock-queue.ts';
import { blocksTraffic, lockModeNumbered, trafficBlocked } from '../model/lock-modes.ts';
import { rangeVars } from '../model/parse-tree-reading.ts';
import { quoted } from '../model/relation-name.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const lockTable = {
  id: 'lock-table',
  title: 'LOCK TABLE in a mode that blocks reads or writes of an existing table',
  why: 'An explicit lock blocks traffic until the transaction commits, and while it waits for running queries every later query it conflicts with queues behind it.',
  fix: steps(
    '1. Remove it: every statement takes the lock it needs, for as short a time as it needs it.',
    '2. If it orders locks on purpose (to avoid a deadlock between two tables), keep it first, in the weakest mode that works, ' +
      'in a migration that does nothing long after it.',
    `3. ${quietTableStep('lock-table')}`,
  ),
  detect: { by: 'statement', check: explicitLocks },
} as const satisfies RuleModule;

function explicitLocks({ node, schema, transactional }: StatementUnderCheck): StatementHit[] {
  if (!('LockStmt' in node)) return [];
  const mode = lockModeNumbered(node.LockStmt.mode ?? 8);
  const tables = rangeVars(node.LockStmt.relations).filter((table) => !schema.createdHere(table));
  if (tables.length === 0) return [];
  const names = tables.map((table) => `table ${quoted(table)}`).join(', ');
  if (!transactional) {
    return [
      {
        message:
          `LOCK TABLE fails here: PostgreSQL allows it only in a transaction block, and this migration is \`transaction: false\` ` +
          '(each statement commits on its own, so the lock would end at once)',
      },
    ];
  }
  const blocked = trafficBlocked(mode);
  if (!blocksTraffic(mode) || blocked === 'nothing') return [];
  return [
    {
      message: `LOCK TABLE takes ${mode} on ${names} until the transaction commits, blocking its ${blocked}; ${lockQueue(names, blocked)}`,
    },
  ];
}
