/**
 * enum-value-used-in-transaction: an enum value used after the ALTER TYPE ... ADD VALUE that
 * added it, in one transaction: PostgreSQL refuses it until that transaction commits.
 */
import { quoted, sameRelation } from '../model/relation-name.ts';
import { type RuleModule, steps, type TransactionHit, type TransactionUnderCheck } from '../rule.ts';
import { sharedTransaction, where } from '../transaction-pairs.ts';

export const enumValueUsedInTransaction = {
  id: 'enum-value-used-in-transaction',
  title: 'An enum value used in the transaction that added it',
  why: 'A value added by ALTER TYPE ... ADD VALUE cannot be used until that transaction commits (PostgreSQL fails with "unsafe use of new value"); consecutive transactional migrations share one transaction when they are pending together.',
  fix: steps(
    '1. Mark the migration that adds the value `transaction: false`, so ADD VALUE commits on its own,',
    '2. or mark the migration that uses it `transaction: false`, so the plan commits before it starts.',
  ),
  detect: { by: 'transaction', check: enumValues },
  checksDownSections: true,
} as const satisfies RuleModule;

function enumValues({ statements, paired, pgVersion }: TransactionUnderCheck): TransactionHit[] {
  // Before 12 ADD VALUE cannot run in a transaction at all: cannot-run-in-transaction says so.
  if (pgVersion < 12) return [];
  const hits: TransactionHit[] = [];
  statements.forEach((related, index) => {
    for (const added of related.analysed.effect.facts.enumValuesAdded) {
      // A type created by the same migration is new in every deploy; one from an earlier migration
      // may have been applied long before, like any existing table.
      const createdHere = statements
        .slice(0, index)
        .some(
          (earlier) =>
            earlier.revision === related.revision &&
            earlier.analysed.effect.facts.typesCreated.some((type) => sameRelation(type, added.type)),
        );
      if (createdHere) continue;
      for (const at of statements.slice(index + 1)) {
        if (!paired(at, related) || !stringConstants(at.analysed.node).has(added.value)) continue;
        hits.push({
          at,
          related,
          message:
            `uses enum value '${added.value}', which ALTER TYPE ${quoted(added.type)} ADD VALUE added in the same transaction ` +
            `(${where(related, at)}); PostgreSQL refuses it until that transaction commits ("unsafe use of new value")` +
            sharedTransaction(at, related),
        });
      }
    }
  });
  return hits;
}

function stringConstants(tree: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(tree)) {
    for (const item of tree) stringConstants(item, found);
    return found;
  }
  if (typeof tree !== 'object' || tree === null) return found;
  const constant = (tree as { A_Const?: { sval?: { sval?: string } } }).A_Const?.sval?.sval;
  if (constant !== undefined) found.add(constant);
  for (const value of Object.values(tree)) stringConstants(value, found);
  return found;
}
