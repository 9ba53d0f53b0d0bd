/**
 * Rules over one transaction: the statements of a transactional migration, or of a stretch of
 * transactional migrations that the runner applies in ONE transaction when they are pending
 * together (plan-lint.ts builds those from the plan's units). Every lock is held until that
 * transaction commits, so what matters is what runs while it is held:
 * - a VALIDATE CONSTRAINT after the ADD ... NOT VALID it validates (validate-in-same-transaction);
 * - long work (a rewrite, a scan, an index build, a whole-table update) after a statement took a
 *   lock that blocks traffic on another existing table (lock-held-during-long-step);
 * - an enum value used after the ALTER TYPE ... ADD VALUE that added it (enum-value-used-in-transaction).
 */
import type { LintRuleId } from './lint-rules.ts';
import type { AnalysedStatement, LockFacts } from './lint-walker.ts';
import { lockFacts, sameTarget } from './lint-walker.ts';
import { blocksTraffic, strength, trafficBlocked } from './model/lock-modes.ts';
import type { PgVersion } from './model/pg-version.ts';
import { quoted, sameRelation } from './model/relation-name.ts';
import { type LockTaken, targetName, type Work } from './model/statement-effect.ts';

/** One statement of the transaction, with where it comes from. */
export interface TransactionStatement {
  readonly revision: string;
  /** The migration's file, as findings name it. */
  readonly file: string;
  readonly line?: number;
  readonly analysed: AnalysedStatement;
  /** Rules the statement's allow comments lift. */
  readonly exempt: ReadonlySet<string>;
}

export interface TransactionFinding {
  /** The statement the finding is reported on: the later one of the pair. */
  readonly at: TransactionStatement;
  readonly rule: LintRuleId;
  readonly message: string;
  readonly lock?: LockFacts;
  /** The earlier statement that makes it a problem (the lock, the ADD ... NOT VALID, the ADD VALUE). */
  readonly related: TransactionStatement;
}

export interface TransactionLintOptions {
  readonly pgVersion: PgVersion;
  /** Report only pairs whose two statements come from different migrations (the plan's part). */
  readonly acrossMigrationsOnly: boolean;
}

export function lintTransaction(
  statements: readonly TransactionStatement[],
  options: TransactionLintOptions,
): TransactionFinding[] {
  const paired = (at: TransactionStatement, related: TransactionStatement) =>
    !options.acrossMigrationsOnly || at.revision !== related.revision;
  return [
    ...validations(statements, paired),
    ...heldLocks(statements, paired),
    ...enumValues(statements, paired, options.pgVersion),
  ].filter((finding) => !finding.at.exempt.has(finding.rule));
}

type Pairing = (at: TransactionStatement, related: TransactionStatement) => boolean;

function where(statement: TransactionStatement, from: TransactionStatement): string {
  const line = statement.line ? `:${statement.line}` : '';
  return statement.revision === from.revision
    ? `line ${statement.line ?? '?'}`
    : `${statement.file}${line} (revision ${statement.revision})`;
}

function sharedTransaction(at: TransactionStatement, related: TransactionStatement): string {
  return at.revision === related.revision
    ? ''
    : ' (consecutive transactional migrations share one transaction when they are pending together; mark this one transaction: false)';
}

// ---------------------------------------------------------------------------------------------
// VALIDATE CONSTRAINT in the transaction of its ADD ... NOT VALID.

function validations(statements: readonly TransactionStatement[], paired: Pairing): TransactionFinding[] {
  const findings: TransactionFinding[] = [];
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
      findings.push({
        at,
        related,
        rule: 'validate-in-same-transaction',
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
  return findings;
}

// ---------------------------------------------------------------------------------------------
// A lock that blocks traffic, held through a later long step.

const VERBS: Readonly<Record<Work['kind'], string>> = {
  rewrite: 'rewrites',
  scan: 'reads every row of',
  'index build': 'builds an index on',
  'row locks': 'writes every row of',
};

/**
 * Work on an existing relation that takes time in proportion to it and is no finding of its own:
 * a finding is fixed on its own terms, and one an allow comment lifts is vouched to be short.
 */
function longWork(statement: TransactionStatement): (Work & { existing: boolean }) | undefined {
  if (!statement.analysed.effect.transactionBlock.allowed) return undefined;
  return statement.analysed.work.find((work) => work.existing && !work.reported);
}

/** A statement with a finding of its own: fixing that ends its lock too, so it is not repeated here. */
function hasOwnFinding(statement: TransactionStatement): boolean {
  // A statement PostgreSQL refuses here fails the migration: its locks are never held.
  if (!statement.analysed.effect.transactionBlock.allowed) return true;
  return statement.analysed.work.some(
    (work) => work.reported && !(work.recipe && statement.exempt.has(work.recipe)),
  );
}

function heldLocks(statements: readonly TransactionStatement[], paired: Pairing): TransactionFinding[] {
  const findings: TransactionFinding[] = [];
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
    const strongest = held.reduce((best, entry) =>
      strength(entry.lock.mode) > strength(best.lock.mode) ? entry : best,
    );
    const others = new Set(held.map((entry) => targetName(entry.lock.target))).size - 1;
    findings.push({
      at,
      related: strongest.earlier,
      rule: 'lock-held-during-long-step',
      message:
        `${at.analysed.effect.statement} ${VERBS[work.kind]} ${targetName(work.target)} while the transaction still holds ` +
        `${strongest.lock.mode} on ${targetName(strongest.lock.target)} (taken by ${strongest.earlier.analysed.effect.statement} at ` +
        `${where(strongest.earlier, at)}), so ${trafficBlocked(strongest.lock.mode)} there wait until it commits` +
        (others > 0 ? `; ${others} more locked relation${others === 1 ? '' : 's'} wait too` : '') +
        sharedTransaction(at, strongest.earlier),
      lock: heldFacts(strongest.lock, strongest.earlier, { rewrite: work.kind === 'rewrite' }),
    });
  });
  return findings;
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
  return at.analysed.effect.facts.constraintsValidated.some((validated) =>
    earlier.analysed.effect.facts.constraintsAdded.some(
      (added) =>
        added.notValid && added.name === validated.name && sameRelation(added.table, validated.table),
    ),
  );
}

/** `"orders"`, or `"orders" and "users"` when the ADD also locked a referenced table. */
function blockedTables(statement: TransactionStatement): string {
  const names = statement.analysed.locks.flatMap((lock) =>
    lock.existing && blocksTraffic(lock.mode) && lock.target.kind !== 'group'
      ? [quoted(lock.target.name)]
      : [],
  );
  return [...new Set(names)].join(' and ');
}

function blockingLockOn(statement: TransactionStatement, target: LockTaken['target']): LockTaken | undefined {
  return statement.analysed.locks.find(
    (lock) => lock.existing && blocksTraffic(lock.mode) && sameTarget(lock.target, target),
  );
}

function heldFacts(
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

// ---------------------------------------------------------------------------------------------
// Enum values used before the transaction that added them commits.

function enumValues(
  statements: readonly TransactionStatement[],
  paired: Pairing,
  version: PgVersion,
): TransactionFinding[] {
  // Before 12 ADD VALUE cannot run in a transaction at all: cannot-run-in-transaction says so.
  if (version < 12) return [];
  const findings: TransactionFinding[] = [];
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
        findings.push({
          at,
          related,
          rule: 'enum-value-used-in-transaction',
          message:
            `uses enum value '${added.value}', which ALTER TYPE ${quoted(added.type)} ADD VALUE added in the same transaction ` +
            `(${where(related, at)}); PostgreSQL refuses it until that transaction commits ("unsafe use of new value")` +
            sharedTransaction(at, related),
        });
      }
    }
  });
  return findings;
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
