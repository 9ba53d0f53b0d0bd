/**
 * cluster: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts (CLUSTER).
 */
import { type RuleModule, steps } from '../rule.ts';

export const cluster = {
  id: 'cluster',
  title: 'CLUSTER',
  why: 'CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock, blocking every read and write until done.',
  fix: steps(
    '1. Leave physical reordering out of migrations.',
    '2. Run pg_repack --order-by (available on RDS) in a maintenance window, outside the deploy.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    cluster: true;
  }
}
