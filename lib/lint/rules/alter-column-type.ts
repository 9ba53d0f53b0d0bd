/**
 * alter-column-type: raised by the lock and rewrite model, which names it on what it finds:
 * model/alter-table-model.ts (ALTER COLUMN ... TYPE, with rewrite-rules.ts).
 */
import { type RuleModule, steps } from '../rule.ts';

export const alterColumnType = {
  id: 'alter-column-type',
  title: 'ALTER COLUMN ... TYPE on an existing table',
  why: 'Most type changes rewrite the table and its indexes under an ACCESS EXCLUSIVE lock, blocking every read and write until done.',
  fix: steps(
    '1. Add a new nullable column with the new type.',
    '2. Write both columns from the application (or a trigger).',
    '3. Backfill the new column in batches (a TS migration with ctx.batch).',
    '4. Switch reads to the new column, then stop writing the old one.',
    '5. Drop the old column in a later migration.',
    'A change PostgreSQL makes without a rewrite (varchar(n) to text or to a larger n) can be marked ' +
      '`-- rds-migrate:allow alter-column-type <reason>`.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'alter-column-type': true;
  }
}
