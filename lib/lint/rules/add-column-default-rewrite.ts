/**
 * add-column-default-rewrite: raised by the lock and rewrite model, which names it on what it finds:
 * model/alter-table-model.ts (ADD COLUMN, before PostgreSQL 11).
 */
import { type RuleModule, steps } from '../rule.ts';

export const addColumnDefaultRewrite = {
  id: 'add-column-default-rewrite',
  title: 'ADD COLUMN with a DEFAULT before PostgreSQL 11',
  why: 'Before PostgreSQL 11 every DEFAULT (even a constant) is written into every row, rewriting the table under an ACCESS EXCLUSIVE lock.',
  fix: steps(
    '1. Add the column without a default.',
    '2. ALTER COLUMN col SET DEFAULT <value>; (new rows only, no rewrite)',
    '3. Backfill existing rows in batches (a TS migration with ctx.batch).',
    'Or upgrade to PostgreSQL 11+, where a constant default is stored once in the catalog (and say so with --pg-version).',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'add-column-default-rewrite': true;
  }
}
