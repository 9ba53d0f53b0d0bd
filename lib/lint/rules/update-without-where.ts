/**
 * update-without-where: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts (UPDATE and DELETE: row locks on every row).
 */
import { type RuleModule, steps } from '../rule.ts';

export const updateWithoutWhere = {
  id: 'update-without-where',
  title: 'UPDATE of every row of an existing table',
  why: 'Updating a whole live table in one statement locks every row until commit, stalls concurrent writers and floods WAL and replicas.',
  fix: steps(
    '1. Backfill in a TS migration with ctx.batch({ table, key, run }): it walks the table by key, one transaction per batch.',
    '2. Make each batch idempotent (UPDATE ... WHERE id = ANY(keys) AND col IS DISTINCT FROM ...) so an interrupted run resumes safely.',
    'For a table known to stay small, mark it `-- rds-migrate:allow update-without-where <reason>`.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'update-without-where': true;
  }
}
