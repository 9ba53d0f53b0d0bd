/**
 * The lock table against PostgreSQL's documentation, entry by entry: Table 13.2 (Conflicting Lock
 * Modes, PostgreSQL 18 docs, 13.3.1) copied here as the page prints it, so a conflict deleted from
 * or added to lib/lint/model/lock-modes.ts fails one named cell. test/lint/lock-table-server.test.ts
 * checks the same grid on the embedded server. Pure: milliseconds.
 */
import { describe, expect, it } from 'vitest';
import {
  blocksTraffic,
  conflicts,
  LOCK_MODES,
  LOCK_MODES_DOC,
  lockModeNumbered,
  strength,
  strongest,
  trafficBlocked,
} from '../../lib/lint/model/lock-modes.ts';
import { documentedConflict } from './documented-lock-conflicts.ts';

const pairs = LOCK_MODES.flatMap((requested) => LOCK_MODES.map((existing) => [requested, existing] as const));

describe('the lock table', () => {
  it('lists the eight modes weakest first, as lock.h numbers them', () => {
    expect(LOCK_MODES).toEqual([
      'ACCESS SHARE',
      'ROW SHARE',
      'ROW EXCLUSIVE',
      'SHARE UPDATE EXCLUSIVE',
      'SHARE',
      'SHARE ROW EXCLUSIVE',
      'EXCLUSIVE',
      'ACCESS EXCLUSIVE',
    ]);
    expect(LOCK_MODES.map(strength)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(LOCK_MODES_DOC).toBe(
      'PostgreSQL 18 docs, 13.3.1 Table-Level Locks (Table 13.2 Conflicting Lock Modes)',
    );
  });

  it.each(pairs)(
    'says whether %s conflicts with an existing %s as Table 13.2 does',
    (requested, existing) => {
      expect(conflicts(existing, requested)).toBe(documentedConflict(requested, existing));
    },
  );

  it('has the 38 conflicts the documentation marks, self-conflicts of the four modes that have one included', () => {
    expect(pairs.filter(([requested, existing]) => conflicts(existing, requested))).toHaveLength(38);
    expect(LOCK_MODES.filter((mode) => conflicts(mode, mode))).toEqual([
      'SHARE UPDATE EXCLUSIVE',
      'SHARE ROW EXCLUSIVE',
      'EXCLUSIVE',
      'ACCESS EXCLUSIVE',
    ]);
  });
});

describe('what a held lock does to application traffic', () => {
  it('names, mode by mode, whether SELECTs and writes wait behind it', () => {
    expect(Object.fromEntries(LOCK_MODES.map((mode) => [mode, trafficBlocked(mode)]))).toEqual({
      'ACCESS SHARE': 'nothing',
      'ROW SHARE': 'nothing',
      'ROW EXCLUSIVE': 'nothing',
      'SHARE UPDATE EXCLUSIVE': 'nothing',
      SHARE: 'writes',
      'SHARE ROW EXCLUSIVE': 'writes',
      EXCLUSIVE: 'writes',
      'ACCESS EXCLUSIVE': 'reads and writes',
    });
    expect(LOCK_MODES.filter(blocksTraffic)).toEqual([
      'SHARE',
      'SHARE ROW EXCLUSIVE',
      'EXCLUSIVE',
      'ACCESS EXCLUSIVE',
    ]);
  });
});

describe('the strongest of several locks', () => {
  it('is the one latest in the order, whatever order they come in, and none of none', () => {
    expect(strongest([])).toBeUndefined();
    expect(strongest(['SHARE'])).toBe('SHARE');
    expect(strongest(['SHARE', 'ACCESS SHARE', 'EXCLUSIVE', 'ROW SHARE'])).toBe('EXCLUSIVE');
    expect(strongest(['ACCESS EXCLUSIVE', 'SHARE', 'ACCESS SHARE'])).toBe('ACCESS EXCLUSIVE');
    expect(strongest(['ROW EXCLUSIVE', 'ROW EXCLUSIVE', 'ROW SHARE'])).toBe('ROW EXCLUSIVE');
  });
});

describe("LOCK TABLE's mode numbers", () => {
  it('map 1 to 8 onto the modes in order', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(lockModeNumbered)).toEqual([...LOCK_MODES]);
  });

  it('read a number out of range as the strongest mode, the one LOCK TABLE takes by default', () => {
    expect(lockModeNumbered(0)).toBe('ACCESS EXCLUSIVE');
    expect(lockModeNumbered(9)).toBe('ACCESS EXCLUSIVE');
  });
});
