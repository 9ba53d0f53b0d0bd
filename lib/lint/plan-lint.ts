/**
 * The linter's view of the plan: what matters is the transaction a statement runs in, and the
 * runner applies a stretch of consecutive transactional migrations in ONE transaction when they
 * are pending together (plan-run.ts, splitIntoUnits). So the plan from base to the heads is split
 * into those units, and the transaction rules (transaction-lint.ts) run over each unit's
 * statements, reporting the pairs that span two migrations (pairs within one migration are
 * already findings of that migration). Every stretch that can share a transaction is a unit of
 * that plan, so a database part-way along sees a subset of these findings.
 */
import type { RevisionGraph } from '../engine/graph.ts';
import type { Revision } from '../engine/migration.ts';
import { planUpgrade } from '../engine/plan.ts';
import { splitIntoUnits } from '../engine/plan-run.ts';
import { type LintRuleId, lintRule } from './lint-rules.ts';
import type { LockFacts } from './lint-walker.ts';
import type { PgVersion } from './model/pg-version.ts';
import { lintTransaction, type TransactionStatement } from './transaction-lint.ts';

export interface PlanFinding {
  readonly rule: LintRuleId;
  /** The later migration of the pair: where the finding is reported and fixed. */
  readonly file: string;
  readonly revision: Revision;
  readonly line?: number;
  readonly message: string;
  readonly why: string;
  readonly fix: string;
  readonly lock?: LockFacts;
  /** The earlier migration's statement it pairs with. */
  readonly related: { readonly file: string; readonly revision: Revision; readonly line?: number };
}

interface PlanLintOptions {
  readonly pgVersion: PgVersion;
}

/**
 * @param statements each migration's up statements as the linter analysed them, by revision
 *   (migrations that failed to parse are simply absent).
 */
export function lintPlan(
  graph: RevisionGraph,
  statements: ReadonlyMap<Revision, readonly TransactionStatement[]>,
  options: PlanLintOptions,
): PlanFinding[] {
  if (graph.size === 0) return [];
  const plan = planUpgrade(graph, [], 'heads');
  return splitIntoUnits(plan.steps)
    .filter((unit) => unit.transactional && unit.steps.length > 1)
    .flatMap((unit) => {
      const sequence = unit.steps.flatMap((step) => statements.get(step.revision) ?? []);
      return lintTransaction(sequence, { pgVersion: options.pgVersion, acrossMigrationsOnly: true });
    })
    .map((finding) => {
      const { why, fix } = lintRule(finding.rule);
      return {
        rule: finding.rule,
        file: finding.at.file,
        revision: finding.at.revision,
        line: finding.at.line,
        message: finding.message,
        why,
        fix,
        ...(finding.lock ? { lock: finding.lock } : {}),
        related: {
          file: finding.related.file,
          revision: finding.related.revision,
          line: finding.related.line,
        },
      };
    });
}
