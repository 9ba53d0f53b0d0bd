/**
 * add-unique-constraint-without-index: raised by the lock and rewrite model, which names it on what it finds:
 * model/alter-table-model.ts (ADD CONSTRAINT, ADD COLUMN ... UNIQUE).
 */
import { type RuleModule, steps } from '../rule.ts';

export const addUniqueConstraintWithoutIndex = {
  id: 'add-unique-constraint-without-index',
  title: 'ADD UNIQUE or PRIMARY KEY without USING INDEX on an existing table',
  why: 'ADD CONSTRAINT ... UNIQUE or PRIMARY KEY builds its index under an ACCESS EXCLUSIVE lock, blocking every read and write for the whole build.',
  fix: steps(
    '1. CREATE UNIQUE INDEX CONCURRENTLY t_x_key ON t (x); alone in a migration with `transaction: false`.',
    '2. ALTER TABLE t ADD CONSTRAINT t_x_key UNIQUE USING INDEX t_x_key; (instant; PRIMARY KEY USING INDEX ' +
      'also needs the columns NOT NULL, see set-not-null)',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'add-unique-constraint-without-index': true;
  }
}
