/**
 * set-not-null: raised by the lock and rewrite model, which names it on what it finds:
 * model/alter-table-model.ts (SET NOT NULL, with what schema-knowledge.ts proves).
 */
import { type RuleModule, steps } from '../rule.ts';

export const setNotNull = {
  id: 'set-not-null',
  title: 'SET NOT NULL without a validated CHECK (col IS NOT NULL)',
  why: 'SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, unless a validated CHECK (col IS NOT NULL) already proves it.',
  fix: steps(
    'In one migration with `transaction: false` (each statement commits on its own):',
    '1. ALTER TABLE t ADD CONSTRAINT t_col_not_null_check CHECK (col IS NOT NULL) NOT VALID;',
    '2. ALTER TABLE t VALIDATE CONSTRAINT t_col_not_null_check; (scans without blocking writes)',
    '3. ALTER TABLE t ALTER COLUMN col SET NOT NULL; (uses the constraint, no scan)',
    '4. ALTER TABLE t DROP CONSTRAINT t_col_not_null_check;',
    'Not t_col_not_null: PostgreSQL 18 gives that name to the NOT NULL constraint itself, which would become t_col_not_null1.',
    'A validated CHECK (col IS NOT NULL) from an earlier migration counts too (PostgreSQL 12+); ' +
      'before 12 SET NOT NULL always scans: keep the validated CHECK instead of SET NOT NULL.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'set-not-null': true;
  }
}
