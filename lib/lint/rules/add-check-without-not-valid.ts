/**
 * add-check-without-not-valid: raised by the lock and rewrite model, which names it on what it finds:
 * model/alter-table-model.ts (ADD CONSTRAINT, ADD COLUMN ... CHECK).
 */
import { type RuleModule, steps } from '../rule.ts';

export const addCheckWithoutNotValid = {
  id: 'add-check-without-not-valid',
  title: 'ADD CHECK without NOT VALID on an existing table',
  why: 'Adding a CHECK constraint scans every row under an ACCESS EXCLUSIVE lock, blocking every read and write for the whole scan.',
  fix: steps(
    '1. ALTER TABLE t ADD CONSTRAINT t_x_check CHECK (...) NOT VALID; (instant; new rows are checked from now on)',
    '2. ALTER TABLE t VALIDATE CONSTRAINT t_x_check; in a migration with `transaction: false`, ' +
      'so it runs after step 1 has committed and scans without blocking writes.',
    'For ADD COLUMN ... CHECK: add the column without the CHECK, then do steps 1 and 2.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'add-check-without-not-valid': true;
  }
}
