/**
 * What the transaction rules (rules/validate-in-same-transaction.ts, lock-held-during-long-step.ts,
 * enum-value-used-in-transaction.ts) say about a pair of statements that share one transaction:
 * where the earlier one is, and which lock it still holds.
 */
import { type LockFacts, lockFacts, sameTarget, type TransactionStatement } from './analysed-statement.ts';
import { blocksTraffic } from './model/lock-modes.ts';
import { quoted, sameRelation } from './model/relation-name.ts';
import type { LockTaken } from './model/statement-effect.ts';

/** `line 3` within one migration, else the other migration's file, line and revision. */
export function where(statement: TransactionStatement, from: TransactionStatement): string {
  const line = statement.line ? `:${statement.line}` : '';
  return statement.revision === from.revision
    ? `line ${statement.line ?? '?'}`
    : `${statement.file}${line} (revision ${statement.revision})`;
}

export function sharedTransaction(at: TransactionStatement, related: TransactionStatement): string {
  return at.revision === related.revision
    ? ''
    : ' (consecutive transactional migrations share one transaction when they are pending together; mark this one transaction: false)';
}

/** Whether `at` validates a constraint that `earlier` added NOT VALID. */
export function validatesWhatItAdded(at: TransactionStatement, earlier: TransactionStatement): boolean {
  return at.analysed.effect.facts.constraintsValidated.some((validated) =>
    earlier.analysed.effect.facts.constraintsAdded.some(
      (added) =>
        added.notValid && added.name === validated.name && sameRelation(added.table, validated.table),
    ),
  );
}

/** `"orders"`, or `"orders" and "users"` when the ADD also locked a referenced table. */
export function blockedTables(statement: TransactionStatement): string {
  const names = statement.analysed.locks.flatMap((lock) =>
    lock.existing && blocksTraffic(lock.mode) && lock.target.kind !== 'group'
      ? [quoted(lock.target.name)]
      : [],
  );
  return [...new Set(names)].join(' and ');
}

export function blockingLockOn(
  statement: TransactionStatement,
  target: LockTaken['target'],
): LockTaken | undefined {
  return statement.analysed.locks.find(
    (lock) => lock.existing && blocksTraffic(lock.mode) && sameTarget(lock.target, target),
  );
}

/** The facts of a lock an earlier statement took and the transaction still holds. */
export function heldFacts(
  held: LockTaken,
  from: TransactionStatement,
  during: { rewrite: boolean },
): LockFacts | undefined {
  const facts = lockFacts(
    from.analysed.locks,
    { kind: 'scan', target: held.target, message: '', doc: held.doc },
    true,
    held,
  );
  return facts ? { ...facts, rewrite: during.rewrite } : undefined;
}
