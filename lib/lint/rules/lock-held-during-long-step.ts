/**
 * lock-held-during-long-step: long work (a rewrite, a scan, an index build, a whole-table update)
 * after an earlier statement of the same transaction took a lock that blocks traffic on an
 * existing relation: the lock is held until commit, so traffic waits through the work.
 */
import { sameTarget, type TransactionStatement } from '../analysed-statement.ts';
import { blocksTraffic, strength, trafficBlocked } from '../model/lock-modes.ts';
import { type LockTaken, targetName, type Work } from '../model/statement-effect.ts';
import { type RuleModule, steps, type TransactionHit, type TransactionUnderCheck } from '../rule.ts';
import { heldFacts, sharedTransaction, validatesWhatItAdded, where } from '../transaction-pairs.ts';

export const lockHeldDuringLongStep = {
  id: 'lock-held-during-long-step',
  title: 'A lock that blocks traffic, held while a later step of the same transaction does long work',
  why: 'A lock is held until the transaction commits: one taken early (even by an instant statement) keeps blocking its table while a later rewrite, scan, index build or whole-table update runs, and consecutive transactional migrations share one transaction when they are pending together.',
  fix: steps(
    '1. Put the long step in its own migration with `transaction: false` (or the lock-taking statement, so it commits at once).',
    '2. Or take the lock after the long step: order the statements so the brief ACCESS EXCLUSIVE change comes last.',
    '3. If the long step is known to be short (a small table), mark it `-- rds-migrate:allow lock-held-during-long-step <reason>`.',
  ),
  detect: { by: 'transaction', check: heldLocks },
} as const satisfies RuleModule;

const VERBS: Readonly<Record<Work['kind'], string>> = {
  rewrite: 'rewrites',
  scan: 'reads every row of',
  'index build': 'builds an index on',
  'row locks': 'writes every row of',
};

/**
 * Work on an existing relation that takes time in proportion to it and is no finding of its own:
 * a finding is fixed on its own terms, and one an allow comment lifts is vouched to be short. A
 * whole-table UPDATE or DELETE is the exception: its own finding speaks of the rows it locks, which
 * stall writers only, while the lock held before it (an ADD COLUMN's ACCESS EXCLUSIVE) blocks
 * reads too, for the whole backfill.
 */
function longWork(statement: TransactionStatement): (Work & { existing: boolean }) | undefined {
  if (!statement.analysed.effect.transactionBlock.allowed) return undefined;
  return statement.analysed.work.find(
    (work) =>
      work.existing &&
      (!work.reported || (work.kind === 'row locks' && !(work.recipe && statement.exempt.has(work.recipe)))),
  );
}

/** A statement with a finding of its own: fixing that ends its lock too, so it is not repeated here. */
function hasOwnFinding(statement: TransactionStatement): boolean {
  // A statement PostgreSQL refuses here fails the migration: its locks are never held.
  if (!statement.analysed.effect.transactionBlock.allowed) return true;
  return statement.analysed.work.some(
    (work) => work.reported && !(work.recipe && statement.exempt.has(work.recipe)),
  );
}

function heldLocks({ statements, paired }: TransactionUnderCheck): TransactionHit[] {
  const hits: TransactionHit[] = [];
  statements.forEach((at, index) => {
    const work = longWork(at);
    if (!work) return;
    const held = statements
      .slice(0, index)
      .filter((earlier) => paired(at, earlier) && !hasOwnFinding(earlier))
      .flatMap((earlier) =>
        earlier.analysed.locks
          .filter((lock) => lock.existing && blocksTraffic(lock.mode) && !coveredBy(at, earlier, lock))
          .map((lock) => ({ lock, earlier })),
      );
    if (held.length === 0) return;
    // The strongest lock, and of equal ones the lock on the relation the long work is on.
    const rank = (entry: (typeof held)[number]) =>
      strength(entry.lock.mode) + (sameTarget(entry.lock.target, work.target) ? 0.5 : 0);
    const strongest = held.reduce((best, entry) => (rank(entry) > rank(best) ? entry : best));
    const others = new Set(held.map((entry) => targetName(entry.lock.target))).size - 1;
    hits.push({
      at,
      related: strongest.earlier,
      message:
        `${at.analysed.effect.statement} ${VERBS[work.kind]} ${targetName(work.target)} while the transaction still holds ` +
        `${strongest.lock.mode} on ${targetName(strongest.lock.target)} (taken by ${strongest.earlier.analysed.effect.statement} at ` +
        `${where(strongest.earlier, at)}), so ${trafficBlocked(strongest.lock.mode)} there wait until it commits` +
        (others > 0 ? `; ${others} more locked relation${others === 1 ? '' : 's'} wait too` : '') +
        sharedTransaction(at, strongest.earlier),
      lock: heldFacts(strongest.lock, strongest.earlier, { rewrite: work.kind === 'rewrite' }),
    });
  });
  return hits;
}

/**
 * A held lock adds nothing when the long statement blocks as much on that relation itself (its
 * own finding says so), or when it is the VALIDATE of a constraint the lock's statement added.
 */
function coveredBy(at: TransactionStatement, earlier: TransactionStatement, lock: LockTaken): boolean {
  const own = at.analysed.locks.filter((mine) => sameTarget(mine.target, lock.target));
  const rank = (mode: LockTaken['mode']) =>
    ['nothing', 'writes', 'reads and writes'].indexOf(trafficBlocked(mode));
  if (own.some((mine) => rank(mine.mode) >= rank(lock.mode))) return true;
  // validate-in-same-transaction reports that pair, the referenced table of a foreign key included.
  return validatesWhatItAdded(at, earlier);
}
