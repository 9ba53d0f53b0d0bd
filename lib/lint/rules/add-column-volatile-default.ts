/**
 * add-column-volatile-default: raised by the lock and rewrite model, which names it on what it finds:
 * model/alter-table-model.ts (ADD COLUMN).
 */
import { type RuleModule, steps } from '../rule.ts';

export const addColumnVolatileDefault = {
  id: 'add-column-volatile-default',
  title: 'ADD COLUMN with a volatile DEFAULT',
  why: 'A volatile default (random(), gen_random_uuid(), clock_timestamp(), serial, identity) is computed per row, so PostgreSQL rewrites the table under an ACCESS EXCLUSIVE lock.',
  fix: steps(
    '1. Add the column without a default (or with a constant one).',
    '2. ALTER COLUMN col SET DEFAULT <expression>; (applies to new rows only, no rewrite)',
    '3. Backfill existing rows in batches (a TS migration with ctx.batch).',
    '4. If the column must be NOT NULL, follow the set-not-null recipe.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'add-column-volatile-default': true;
  }
}
