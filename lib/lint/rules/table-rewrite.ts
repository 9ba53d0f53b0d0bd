/**
 * table-rewrite: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts and alter-table-model.ts, on every statement and subcommand that rewrites.
 */
import { type RuleModule, steps } from '../rule.ts';

export const tableRewrite = {
  id: 'table-rewrite',
  title: 'A statement that rewrites an existing table, index or materialized view',
  why: 'A rewrite copies every row (and rebuilds the indexes) while holding an ACCESS EXCLUSIVE lock, blocking every read and write until done.',
  fix: steps(
    '1. SET TABLESPACE, SET LOGGED/UNLOGGED, SET ACCESS METHOD: leave them out of migrations; run pg_repack ' +
      '(available on RDS) or do it in a maintenance window.',
    '2. A stored generated column (ADD COLUMN ... STORED, SET EXPRESSION): on PostgreSQL 18 add it VIRTUAL; otherwise add a ' +
      'plain column, fill it from a trigger for new rows and in batches (a TS migration with ctx.batch) for old ones.',
    '3. If the relation is known to stay small, mark the statement `-- rds-migrate:allow table-rewrite <reason>`.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'table-rewrite': true;
  }
}
