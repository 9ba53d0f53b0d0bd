/**
 * reindex-non-concurrently: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts (REINDEX).
 */
import { type RuleModule, steps } from '../rule.ts';

export const reindexNonConcurrently = {
  id: 'reindex-non-concurrently',
  title: 'REINDEX without CONCURRENTLY on an existing table or index',
  why: "REINDEX holds a SHARE lock on the table (writes wait) and an ACCESS EXCLUSIVE lock on each index it rebuilds, which blocks nearly every query, since the planner locks all of a table's indexes.",
  fix: steps(
    '1. Write REINDEX INDEX CONCURRENTLY ... (PostgreSQL 12+) alone in a migration with `transaction: false`.',
    '2. Before 12: CREATE INDEX CONCURRENTLY a replacement, then DROP INDEX CONCURRENTLY the old one, each in a `transaction: false` migration.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'reindex-non-concurrently': true;
  }
}
