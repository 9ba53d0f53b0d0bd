/**
 * create-index-non-concurrently: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts (CREATE INDEX).
 */
import { type RuleModule, steps } from '../rule.ts';

export const createIndexNonConcurrently = {
  id: 'create-index-non-concurrently',
  title: 'CREATE INDEX without CONCURRENTLY on an existing table',
  why: 'CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits until it ends.',
  fix: steps(
    '1. Write CREATE INDEX CONCURRENTLY IF NOT EXISTS ... alone in a migration with `transaction: false`.',
    '2. If it fails it leaves an INVALID index: DROP INDEX CONCURRENTLY IF EXISTS ..., then run it again.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'create-index-non-concurrently': true;
  }
}
