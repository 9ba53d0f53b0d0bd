/**
 * vacuum-full: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts (VACUUM).
 */
import { type RuleModule, steps } from '../rule.ts';

export const vacuumFull = {
  id: 'vacuum-full',
  title: 'VACUUM FULL',
  why: 'VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock, blocking every read and write until done.',
  fix: steps(
    '1. Leave space reclamation out of migrations.',
    '2. Run pg_repack (available on RDS) or a plain VACUUM in a maintenance window, outside the deploy.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'vacuum-full': true;
  }
}
