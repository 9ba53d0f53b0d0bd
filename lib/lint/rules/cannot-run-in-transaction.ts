/**
 * cannot-run-in-transaction: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts, on the statements PostgreSQL refuses inside a transaction block.
 */
import { type RuleModule, steps } from '../rule.ts';

export const cannotRunInTransaction = {
  id: 'cannot-run-in-transaction',
  title: 'A statement PostgreSQL refuses inside a transaction block, in a transactional migration',
  why: 'VACUUM, CREATE/DROP DATABASE, CREATE/DROP TABLESPACE, ALTER SYSTEM, REINDEX SCHEMA/DATABASE/SYSTEM, CLUSTER without a table (and ALTER TYPE ... ADD VALUE before PostgreSQL 12) cannot run inside a transaction block, so the migration always fails.',
  fix: steps(
    '1. Move the statement to its own migration with `transaction: false` in its header ' +
      '(the runner applies it alone, outside the plan transaction).',
    '2. For VACUUM or ANALYZE after a data change, consider leaving it to autovacuum: a migration rarely needs one.',
  ),
  detect: { by: 'lock model' },
  checksDownSections: true,
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'cannot-run-in-transaction': true;
  }
}
