/**
 * refresh-materialized-view-non-concurrently: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts (REFRESH MATERIALIZED VIEW).
 */
import { type RuleModule, steps } from '../rule.ts';

export const refreshMaterializedViewNonConcurrently = {
  id: 'refresh-materialized-view-non-concurrently',
  title: 'REFRESH MATERIALIZED VIEW without CONCURRENTLY on an existing view',
  why: 'A plain refresh rebuilds the view under an ACCESS EXCLUSIVE lock, so every query of it waits until the whole view query has run.',
  fix: steps(
    '1. Give the view a UNIQUE index (CREATE UNIQUE INDEX CONCURRENTLY in a `transaction: false` migration).',
    '2. REFRESH MATERIALIZED VIEW CONCURRENTLY v; (an EXCLUSIVE lock: reads go on while it runs).',
    'A view that has never been populated (WITH NO DATA) must be refreshed plainly once: mark that statement ' +
      '`-- rds-migrate:allow refresh-materialized-view-non-concurrently <reason>`.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'refresh-materialized-view-non-concurrently': true;
  }
}
