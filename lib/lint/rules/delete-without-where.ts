/**
 * delete-without-where: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts (UPDATE and DELETE: row locks on every row).
 */
import { type RuleModule, steps } from '../rule.ts';

export const deleteWithoutWhere = {
  id: 'delete-without-where',
  title: 'DELETE of every row of an existing table',
  why: 'Deleting a whole live table in one statement locks every row until commit, stalls concurrent writers and floods WAL and replicas.',
  fix: steps(
    '1. Delete in a TS migration with ctx.batch({ table, key, run }): one transaction per batch.',
    '2. If the table must simply be emptied and nothing uses it, TRUNCATE is instant (it takes a brief ACCESS EXCLUSIVE lock).',
    'For a table known to stay small, mark it `-- rds-migrate:allow delete-without-where <reason>`.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'delete-without-where': true;
  }
}
