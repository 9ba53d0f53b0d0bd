/**
 * concurrently-in-transaction: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts (CREATE/DROP/REINDEX ... CONCURRENTLY) and alter-table-model.ts (DETACH PARTITION CONCURRENTLY).
 */
import { type RuleModule, steps } from '../rule.ts';

export const concurrentlyInTransaction = {
  id: 'concurrently-in-transaction',
  title: 'CONCURRENTLY inside a transactional migration',
  why: 'PostgreSQL refuses CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY inside a transaction block, so the migration always fails.',
  fix: steps(
    '1. Move the statement to its own migration with `transaction: false` in its header ' +
      '(the runner applies it alone, outside the plan transaction).',
    '2. Keep that migration to that one statement, so a failure leaves at most an INVALID index to drop and rebuild.',
  ),
  detect: { by: 'lock model' },
  checksDownSections: true,
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'concurrently-in-transaction': true;
  }
}
