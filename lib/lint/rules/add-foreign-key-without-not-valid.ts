/**
 * add-foreign-key-without-not-valid: raised by the lock and rewrite model, which names it on what it finds:
 * model/alter-table-model.ts (ADD CONSTRAINT, ADD COLUMN ... REFERENCES).
 */
import { type RuleModule, steps } from '../rule.ts';

export const addForeignKeyWithoutNotValid = {
  id: 'add-foreign-key-without-not-valid',
  title: 'ADD FOREIGN KEY without NOT VALID on an existing table',
  why: 'Adding a foreign key checks every row while holding a SHARE ROW EXCLUSIVE lock on both tables, blocking writes to both for the whole scan.',
  fix: steps(
    '1. ALTER TABLE t ADD CONSTRAINT t_x_fkey FOREIGN KEY (x) REFERENCES u (id) NOT VALID; ' +
      '(instant; new rows are checked from now on)',
    '2. ALTER TABLE t VALIDATE CONSTRAINT t_x_fkey; in a migration with `transaction: false`, ' +
      'so it runs after step 1 has committed and scans without blocking writes.',
    'For ADD COLUMN ... REFERENCES: add the column without REFERENCES, then do steps 1 and 2.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'add-foreign-key-without-not-valid': true;
  }
}
