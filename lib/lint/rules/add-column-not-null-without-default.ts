/**
 * add-column-not-null-without-default: raised by the lock and rewrite model, which names it on what it finds:
 * model/alter-table-model.ts (ADD COLUMN).
 */
import { type RuleModule, steps } from '../rule.ts';

export const addColumnNotNullWithoutDefault = {
  id: 'add-column-not-null-without-default',
  title: 'ADD COLUMN ... NOT NULL without a DEFAULT',
  why: 'PostgreSQL has no value for the existing rows, so the statement fails on any table that has rows (and passes on an empty dev database).',
  fix: steps(
    '1. Add the column nullable, or with a constant DEFAULT (PostgreSQL 11+ adds that without a rewrite).',
    '2. Backfill existing rows in batches (a TS migration with ctx.batch).',
    '3. In a migration with `transaction: false`: ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; ' +
      'VALIDATE CONSTRAINT c; ALTER COLUMN col SET NOT NULL; DROP CONSTRAINT c.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'add-column-not-null-without-default': true;
  }
}
