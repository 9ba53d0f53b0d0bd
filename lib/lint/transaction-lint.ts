/**
 * Rules over one transaction: the statements of a transactional migration, or of a stretch of
 * transactional migrations that the runner applies in ONE transaction when they are pending
 * together (plan-lint.ts builds those from the plan's units). Every lock is held until that
 * transaction commits, so what matters is what runs while it is held. The rules themselves are
 * the `transaction` rules of rules/ (validate-in-same-transaction, enum-value-used-in-transaction,
 * lock-held-during-long-step).
 */
import type { LockFacts, TransactionStatement } from './analysed-statement.ts';
import type { LintRuleId } from './lint-rules.ts';
import type { PgVersion } from './model/pg-version.ts';
import type { TransactionHit } from './rule.ts';
import { RULES } from './rules/index.ts';

export type { TransactionStatement };

interface TransactionFinding {
  /** The statement the finding is reported on: the later one of the pair. */
  readonly at: TransactionStatement;
  readonly rule: LintRuleId;
  readonly message: string;
  readonly lock?: LockFacts;
  /** The earlier statement that makes it a problem (the lock, the ADD ... NOT VALID, the ADD VALUE). */
  readonly related: TransactionStatement;
}

interface TransactionLintOptions {
  readonly pgVersion: PgVersion;
  /** Report only pairs whose two statements come from different migrations (the plan's part). */
  readonly acrossMigrationsOnly: boolean;
}

/** The rules that judge statements of one transaction together, with their checks. */
const TRANSACTION_RULES = RULES.flatMap((rule) =>
  rule.detect.by === 'transaction' ? [{ id: rule.id, check: rule.detect.check }] : [],
);

export function lintTransaction(
  statements: readonly TransactionStatement[],
  options: TransactionLintOptions,
): TransactionFinding[] {
  const paired = (at: TransactionStatement, related: TransactionStatement) =>
    !options.acrossMigrationsOnly || at.revision !== related.revision;
  return TRANSACTION_RULES.flatMap(({ id, check }) =>
    check({ statements, pgVersion: options.pgVersion, paired }).map(
      (hit: TransactionHit): TransactionFinding => ({ ...hit, rule: id }),
    ),
  ).filter((finding) => !finding.at.exempt.has(finding.rule));
}
