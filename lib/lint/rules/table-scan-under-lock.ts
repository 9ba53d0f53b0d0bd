/**
 * table-scan-under-lock: raised by the lock and rewrite model, which names it on what it finds:
 * model/lock-model.ts (ALTER DOMAIN) and alter-table-model.ts (ATTACH PARTITION, VALIDATE, EXCLUDE).
 */
import { type RuleModule, steps } from '../rule.ts';

export const tableScanUnderLock = {
  id: 'table-scan-under-lock',
  title: 'A statement that scans an existing table while blocking its writes or reads',
  why: 'The statement reads every row to check it while holding a lock that blocks writes (SHARE or stronger), so traffic waits for the whole scan.',
  fix: steps(
    '1. ATTACH PARTITION: first ADD a CHECK constraint matching the partition bound NOT VALID on the table to attach, VALIDATE it ' +
      'in a `transaction: false` migration, then ATTACH (the scan is skipped) and drop the CHECK.',
    '2. ALTER DOMAIN ADD CONSTRAINT: add it NOT VALID, then VALIDATE CONSTRAINT in a later `transaction: false` migration. ' +
      'ALTER DOMAIN SET NOT NULL: use a CHECK (VALUE IS NOT NULL) NOT VALID constraint the same way.',
    '3. VALIDATE CONSTRAINT or ALTER CONSTRAINT ... ENFORCED in a statement that also takes a stronger lock: give it a statement of its own, ' +
      'in a `transaction: false` migration.',
    '4. ADD CONSTRAINT ... EXCLUDE has no non-blocking form: ship it with the table, or in a maintenance window.',
  ),
  detect: { by: 'lock model' },
} as const satisfies RuleModule;

// The model names this rule on what it finds: its id is one of the model's.
declare module '../model/statement-effect.ts' {
  interface ModelRuleIds {
    'table-scan-under-lock': true;
  }
}
