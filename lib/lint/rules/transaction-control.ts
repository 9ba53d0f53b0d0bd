/**
 * transaction-control: BEGIN, COMMIT, ROLLBACK (and their kin) in a migration that runs in the
 * runner's transaction.
 */
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const transactionControl = {
  id: 'transaction-control',
  title: 'BEGIN, COMMIT or ROLLBACK in a transactional migration',
  why: 'The runner applies the plan in one transaction; a COMMIT or ROLLBACK inside a migration ends it midway, so a later failure can no longer restore the database.',
  fix: steps(
    '1. Remove BEGIN/COMMIT/ROLLBACK: the runner opens and commits the transaction (SAVEPOINT is fine).',
    '2. For statements that must commit on their own, use a migration with `transaction: false`.',
  ),
  detect: { by: 'statement', check: controlsTheTransaction },
  checksDownSections: true,
} as const satisfies RuleModule;

/** Transaction control statements by parse-tree kind, as SQL writes them. */
const TRANSACTION_CONTROL: ReadonlyMap<string, string> = new Map([
  ['TRANS_STMT_BEGIN', 'BEGIN'],
  ['TRANS_STMT_START', 'START TRANSACTION'],
  ['TRANS_STMT_COMMIT', 'COMMIT'],
  ['TRANS_STMT_ROLLBACK', 'ROLLBACK'],
  ['TRANS_STMT_PREPARE', 'PREPARE TRANSACTION'],
]);

function controlsTheTransaction({ node, transactional }: StatementUnderCheck): StatementHit[] {
  if (!('TransactionStmt' in node)) return [];
  const verb = TRANSACTION_CONTROL.get(node.TransactionStmt.kind ?? '');
  if (!transactional || !verb) return [];
  return [{ message: `${verb} inside a transactional migration ends the runner's transaction midway` }];
}
