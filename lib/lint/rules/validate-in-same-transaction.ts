/**
 * validate-in-same-transaction: a VALIDATE CONSTRAINT after the ADD ... NOT VALID it validates,
 * in one transaction: the ADD's lock is held through the whole scan.
 */
import { quoted, sameRelation } from '../model/relation-name.ts';
import { type RuleModule, steps, type TransactionHit, type TransactionUnderCheck } from '../rule.ts';
import { blockedTables, blockingLockOn, heldFacts, sharedTransaction, where } from '../transaction-pairs.ts';

export const validateInSameTransaction = {
  id: 'validate-in-same-transaction',
  title: 'VALIDATE CONSTRAINT in the transaction that added it NOT VALID',
  why: "The lock of ADD ... NOT VALID is held until commit, so validating in the same transaction blocks writes for the whole scan, as if NOT VALID weren't there; consecutive transactional migrations share one transaction when they are pending together.",
  fix: steps(
    '1. Mark the migration that validates `transaction: false`: the runner then commits everything before it ' +
      '(ADD ... NOT VALID included) and runs its statements one by one,',
    '2. or, within one migration, mark it `transaction: false` so ADD ... NOT VALID commits before VALIDATE starts.',
  ),
  detect: { by: 'transaction', check: validations },
} as const satisfies RuleModule;

function validations({ statements, paired }: TransactionUnderCheck): TransactionHit[] {
  const hits: TransactionHit[] = [];
  statements.forEach((at, index) => {
    for (const validated of at.analysed.effect.facts.constraintsValidated) {
      const related = statements
        .slice(0, index)
        .findLast((earlier) =>
          earlier.analysed.effect.facts.constraintsAdded.some(
            (added) =>
              added.notValid && added.name === validated.name && sameRelation(added.table, validated.table),
          ),
        );
      if (!related || !paired(at, related)) continue;
      const held = blockingLockOn(related, { kind: 'table', name: validated.table });
      if (!held) continue;
      hits.push({
        at,
        related,
        message:
          (at.revision === related.revision
            ? `VALIDATE CONSTRAINT ${quoted(validated.name)} runs in the transaction that added it NOT VALID, `
            : `VALIDATE CONSTRAINT ${quoted(validated.name)} runs in the same transaction as its ADD ... NOT VALID in ` +
              `${where(related, at)}, `) +
          `so writes to ${blockedTables(related)} stay blocked for the whole scan${sharedTransaction(at, related)}`,
        lock: heldFacts(held, related, { rewrite: false }),
      });
    }
  });
  return hits;
}
