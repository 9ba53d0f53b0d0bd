/**
 * Table 13.2 (Conflicting Lock Modes) of the PostgreSQL 18 documentation, 13.3.1 Table-Level
 * Locks, copied as the page prints it: the reference lib/lint/model/lock-modes.ts is checked
 * against (test/lint/lock-table.test.ts) and the embedded server too (lock-table-server.test.ts).
 */
import { LOCK_MODES, type LockMode } from '../../lib/lint/model/lock-modes.ts';

/** Requested mode (row) against existing mode (column), X where they conflict. */
export const DOCUMENTED_CONFLICTS: Readonly<Record<LockMode, string>> = {
  //                        AS RS RE SUE S SRE E AE
  'ACCESS SHARE': '          .  .  .  .  .  .  .  X',
  'ROW SHARE': '             .  .  .  .  .  .  X  X',
  'ROW EXCLUSIVE': '         .  .  .  .  X  X  X  X',
  'SHARE UPDATE EXCLUSIVE': '.  .  .  X  X  X  X  X',
  SHARE: '                 .  .  X  X  .  X  X  X',
  'SHARE ROW EXCLUSIVE': '   .  .  X  X  X  X  X  X',
  EXCLUSIVE: '             .  X  X  X  X  X  X  X',
  'ACCESS EXCLUSIVE': '      X  X  X  X  X  X  X  X',
};

export function documentedConflict(requested: LockMode, existing: LockMode): boolean {
  const cells = DOCUMENTED_CONFLICTS[requested].trim().split(/\s+/);
  return cells[LOCK_MODES.indexOf(existing)] === 'X';
}
