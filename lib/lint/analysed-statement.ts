/**
 * One statement as the linter sees it: the lock model's effect, each lock and piece of work
 * marked as on an existing relation or a new one, and the lock facts a finding reports. Rules
 * (rules/*.ts) and the walkers that run them (lint-walker.ts, transaction-lint.ts) share it.
 */
import type { Node } from 'libpg-query';
import {
  blocksTraffic,
  type LockMode,
  strength,
  type TrafficBlocked,
  trafficBlocked,
} from './model/lock-modes.ts';
import { sameRelation } from './model/relation-name.ts';
import {
  type LockTaken,
  type StatementEffect,
  type Target,
  targetName,
  type Work,
} from './model/statement-effect.ts';

/** The lock facts a finding reports: which lock, on what, what it blocks, and what happens meanwhile. */
export interface LockFacts {
  readonly mode: LockMode;
  /** E.g. 'table "users"'. */
  readonly on: string;
  readonly blocks: TrafficBlocked;
  /** The relation is rewritten (a new copy of every row and its indexes) while the lock is held. */
  readonly rewrite: boolean;
  /** Every row is read (checked, indexed, updated) while the lock is held. */
  readonly scan: boolean;
  /** Locks last until commit: the statement's own end outside a transaction, else the transaction's. */
  readonly heldUntil: 'end of statement' | 'end of transaction';
  /** The documentation the lock level and the rewrite/scan rule come from. */
  readonly doc: string;
}

/** One statement as the model sees it, with each lock and piece of work marked existing or new. */
export interface AnalysedStatement {
  readonly node: Node;
  readonly effect: StatementEffect;
  readonly locks: readonly (LockTaken & { readonly existing: boolean })[];
  /** `reported`: the work is a finding of this statement (which an allow comment may still lift). */
  readonly work: readonly (Work & { readonly existing: boolean; readonly reported: boolean })[];
}

/** One statement of a transaction, with where it comes from. */
export interface TransactionStatement {
  readonly revision: string;
  /** The migration's file, as findings name it. */
  readonly file: string;
  readonly line?: number;
  readonly analysed: AnalysedStatement;
  /** Rules the statement's allow comments lift. */
  readonly exempt: ReadonlySet<string>;
}

/** The lock a finding names: the strongest blocking lock on the work's own relation, else on any existing one. */
export function lockFacts(
  locks: AnalysedStatement['locks'],
  work: Work,
  transactional: boolean,
  held?: LockTaken,
): LockFacts | undefined {
  const chosen = held ?? strongestLock(locks, work.target);
  if (!chosen) return undefined;
  return {
    mode: chosen.mode,
    on: targetName(chosen.target),
    blocks: work.kind === 'row locks' && !held ? 'writes' : trafficBlocked(chosen.mode),
    rewrite: work.kind === 'rewrite',
    scan: true,
    heldUntil: transactional ? 'end of transaction' : 'end of statement',
    doc: [...new Set([...chosen.doc.split('; '), ...work.doc.split('; ')])].join('; '),
  };
}

function strongestLock(locks: AnalysedStatement['locks'], target: Target): LockTaken | undefined {
  const existing = locks.filter((lock) => lock.existing);
  const byStrength = (a: LockTaken, b: LockTaken) => strength(b.mode) - strength(a.mode);
  const onTarget = existing.filter((lock) => sameTarget(lock.target, target)).sort(byStrength);
  const blockingOnTarget = onTarget.find((lock) => blocksTraffic(lock.mode));
  if (blockingOnTarget) return blockingOnTarget;
  const blocking = existing.filter((lock) => blocksTraffic(lock.mode)).sort(byStrength);
  return blocking[0] ?? onTarget[0];
}

export function sameTarget(a: Target, b: Target): boolean {
  if (a.kind === 'group' || b.kind === 'group') return a.kind === b.kind && targetName(a) === targetName(b);
  return sameRelation(a.name, b.name);
}
