/**
 * PostgreSQL's eight table-level lock modes and which of them conflict, as the documentation
 * states them (PostgreSQL 18 docs, 13.3.1 Table-Level Locks, Table 13.2 Conflicting Lock
 * Modes). Whether a migration's lock hurts traffic is read from here: a mode that conflicts with
 * ACCESS SHARE blocks plain SELECTs, one that conflicts with ROW EXCLUSIVE blocks writes.
 */

/** Weakest first: the order of lock.h, so LOCK TABLE's mode number N is `LOCK_MODES[N - 1]`. */
export const LOCK_MODES = [
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
] as const;

export type LockMode = (typeof LOCK_MODES)[number];

export const LOCK_MODES_DOC =
  'PostgreSQL 18 docs, 13.3.1 Table-Level Locks (Table 13.2 Conflicting Lock Modes)';

/** Table 13.2, row by row: the modes each mode conflicts with. */
const CONFLICTS: Readonly<Record<LockMode, readonly LockMode[]>> = {
  'ACCESS SHARE': ['ACCESS EXCLUSIVE'],
  'ROW SHARE': ['EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'ROW EXCLUSIVE': ['SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'SHARE UPDATE EXCLUSIVE': [
    'SHARE UPDATE EXCLUSIVE',
    'SHARE',
    'SHARE ROW EXCLUSIVE',
    'EXCLUSIVE',
    'ACCESS EXCLUSIVE',
  ],
  SHARE: ['ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'SHARE ROW EXCLUSIVE': [
    'ROW EXCLUSIVE',
    'SHARE UPDATE EXCLUSIVE',
    'SHARE',
    'SHARE ROW EXCLUSIVE',
    'EXCLUSIVE',
    'ACCESS EXCLUSIVE',
  ],
  EXCLUSIVE: [
    'ROW SHARE',
    'ROW EXCLUSIVE',
    'SHARE UPDATE EXCLUSIVE',
    'SHARE',
    'SHARE ROW EXCLUSIVE',
    'EXCLUSIVE',
    'ACCESS EXCLUSIVE',
  ],
  'ACCESS EXCLUSIVE': [...LOCK_MODES],
};

export function conflicts(held: LockMode, requested: LockMode): boolean {
  return CONFLICTS[held].includes(requested);
}

/** What application traffic a held lock stops: SELECT takes ACCESS SHARE, INSERT/UPDATE/DELETE ROW EXCLUSIVE. */
export type TrafficBlocked = 'reads and writes' | 'writes' | 'nothing';

export function trafficBlocked(mode: LockMode): TrafficBlocked {
  if (conflicts(mode, 'ACCESS SHARE')) return 'reads and writes';
  if (conflicts(mode, 'ROW EXCLUSIVE')) return 'writes';
  return 'nothing';
}

export function blocksTraffic(mode: LockMode): boolean {
  return trafficBlocked(mode) !== 'nothing';
}

export function strength(mode: LockMode): number {
  return LOCK_MODES.indexOf(mode);
}

export function strongest(modes: readonly LockMode[]): LockMode | undefined {
  return modes.reduce<LockMode | undefined>(
    (best, mode) => (best === undefined || strength(mode) > strength(best) ? mode : best),
    undefined,
  );
}

/** LOCK TABLE's parse tree carries lock.h's number (1 = ACCESS SHARE ... 8 = ACCESS EXCLUSIVE). */
export function lockModeNumbered(number: number): LockMode {
  return LOCK_MODES[number - 1] ?? 'ACCESS EXCLUSIVE';
}
