import type { LockMode } from './lock-modes.ts';
import type { RelationName } from './relation-name.ts';
import type {
  LockTaken,
  RelationKind,
  StatementFacts,
  Target,
  TransactionBlock,
  Work,
} from './statement-effect.ts';

/** What a statement's entry says beyond its documentation: all optional, defaulting to nothing. */
export interface EffectParts {
  readonly locks?: readonly LockTaken[];
  readonly work?: readonly Work[];
  readonly transactionBlock?: TransactionBlock;
  readonly opaque?: string;
  readonly facts?: Partial<StatementFacts>;
  /** Overrides the entry's `sql` when one node kind stands for several commands (DROP INDEX, ANALYZE). */
  readonly statement?: string;
}

const DOCS = 'PostgreSQL 18 docs';
export const LOCKS = `${DOCS}, 13.3.1 Table-Level Locks`;
export const ref = (page: string, section = ''): string => `${DOCS}, ${page}${section ? `, ${section}` : ''}`;

// ---------------------------------------------------------------------------------------------
// Small builders.

export const table = (name: RelationName, kind: RelationKind = 'table'): Target => ({ kind, name });
export const lock = (target: Target, mode: LockMode, doc: string): LockTaken => ({ target, mode, doc });
export const refused = (what: string, doc: string): TransactionBlock => ({
  allowed: false,
  what,
  recipe: 'cannot-run-in-transaction',
  doc,
});
export const concurrently = (what: string, doc: string): TransactionBlock => ({
  allowed: false,
  what,
  recipe: 'concurrently-in-transaction',
  doc,
});
