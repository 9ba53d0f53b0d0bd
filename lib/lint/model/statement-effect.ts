/**
 * What one statement does to a live database, as the lock model (lock-model.ts,
 * alter-table-model.ts) derives it from PostgreSQL's documented rules: the lock it takes on each
 * relation, the work it does while holding them (rewrite, scan, index build, row locks), whether
 * PostgreSQL lets it run inside a transaction block, and the facts later statements of the same
 * transaction depend on. The linter turns these facts into findings; nothing here decides one.
 */
import type { LockMode } from './lock-modes.ts';
import type { PgVersion } from './pg-version.ts';
import type { RelationName } from './relation-name.ts';
import type { SchemaView } from './schema-knowledge.ts';

/**
 * The rules the model names on what it finds (the rule whose recipe avoids a piece of work, or a
 * statement PostgreSQL refuses in a transaction). Each is a module in ../rules with
 * `detect: { by: 'lock model' }` that adds its id here by declaration merging, so this list is
 * written nowhere; rules/index.ts fails to compile when the two disagree.
 */
// biome-ignore lint/suspicious/noEmptyInterface: the lock-model rules in ../rules add their ids by declaration merging.
export interface ModelRuleIds {}

export type ModelRuleId = keyof ModelRuleIds;

export type RelationKind = 'table' | 'index' | 'view' | 'materialized view' | 'sequence' | 'relation';

/** A relation a statement names, or a set of relations it reaches without naming them. */
export type Target =
  | { readonly kind: RelationKind; readonly name: RelationName }
  | {
      readonly kind: 'group';
      /** E.g. 'every table with a column of domain "price"'. */
      readonly description: string;
      /** The object that defines the set (domain, schema): new with it, existing with it. */
      readonly owner?: RelationName;
    };

export interface LockTaken {
  readonly target: Target;
  readonly mode: LockMode;
  /** The documentation section that states this lock level. */
  readonly doc: string;
}

/**
 * Work proportional to a relation's size, done while the statement's locks are held:
 * `rewrite` writes a new copy of every row (and its indexes), `scan` reads every row,
 * `index build` reads every row and sorts, `row locks` locks every row until commit.
 */
type WorkKind = 'rewrite' | 'scan' | 'index build' | 'row locks';

export interface Work {
  readonly kind: WorkKind;
  readonly target: Target;
  /** One line naming the table (and column): what happens. */
  readonly message: string;
  /** The rule whose recipe avoids it; absent for work that is only long, never a finding by itself. */
  readonly recipe?: ModelRuleId;
  readonly doc: string;
  /** Which subcommand of a multi-command ALTER TABLE it comes from (0-based), so findings keep their order. */
  readonly part?: number;
}

export type TransactionBlock =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** The form PostgreSQL refuses, e.g. 'VACUUM', 'CREATE INDEX CONCURRENTLY'. */
      readonly what: string;
      readonly recipe: 'concurrently-in-transaction' | 'cannot-run-in-transaction';
      readonly doc: string;
    };

export const ALLOWED_IN_TRANSACTION: TransactionBlock = { allowed: true };

/** Facts that rules spanning several statements of one transaction need. */
export interface StatementFacts {
  readonly constraintsAdded: readonly {
    readonly table: RelationName;
    readonly name: string;
    readonly notValid: boolean;
  }[];
  readonly constraintsValidated: readonly { readonly table: RelationName; readonly name: string }[];
  readonly enumValuesAdded: readonly { readonly type: RelationName; readonly value: string }[];
  readonly typesCreated: readonly RelationName[];
}

export const NO_FACTS: StatementFacts = {
  constraintsAdded: [],
  constraintsValidated: [],
  enumValuesAdded: [],
  typesCreated: [],
};

export interface StatementEffect {
  /** The command, as SQL names it: 'ALTER TABLE', 'CREATE INDEX', 'VACUUM'. */
  readonly statement: string;
  readonly locks: readonly LockTaken[];
  readonly work: readonly Work[];
  readonly transactionBlock: TransactionBlock;
  /** Where the model's entry for this statement comes from. */
  readonly doc: string;
  /** Runs code the model cannot see (DO, CALL, an extension's script): its locks are unknown. */
  readonly opaque?: string;
  readonly facts: StatementFacts;
}

/** What the model needs besides the statement: the server's version and the schema so far. */
export interface ModelContext {
  readonly pgVersion: PgVersion;
  readonly schema: SchemaView;
}

export function targetName(target: Target): string {
  if (target.kind === 'group') return target.description;
  const name = target.name.schema ? `${target.name.schema}.${target.name.name}` : target.name.name;
  return `${target.kind} "${name}"`;
}
