/**
 * The linter's walker: goes through one migration's statements in order, asks the lock model
 * (lock-model.ts) what each does, marks which relations existed before this migration (from
 * what the schema knowledge has seen), and turns the facts into findings: work that blocks
 * traffic on an existing relation while it rewrites or scans it, statements PostgreSQL refuses in
 * the migration's transaction, and changes deployed code cannot survive (drops, renames).
 * Rules that span several statements of one transaction are transaction-lint.ts.
 */
import type { AlterTableStmt, DropStmt, Node, RenameStmt, TransactionStmt } from 'libpg-query';
import type { LintRuleId } from './lint-rules.ts';
import { describeStatement } from './model/lock-model.ts';
import {
  blocksTraffic,
  type LockMode,
  strength,
  type TrafficBlocked,
  trafficBlocked,
} from './model/lock-modes.ts';
import type { PgVersion } from './model/pg-version.ts';
import {
  fromNameList,
  fromRangeVar,
  quoted,
  type RelationName,
  sameRelation,
} from './model/relation-name.ts';
import type { SchemaKnowledge } from './model/schema-knowledge.ts';
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

export interface Violation {
  readonly rule: LintRuleId;
  readonly message: string;
  readonly lock?: LockFacts;
}

/** One statement as the model sees it, with each lock and piece of work marked existing or new. */
export interface AnalysedStatement {
  readonly node: Node;
  readonly effect: StatementEffect;
  readonly locks: readonly (LockTaken & { readonly existing: boolean })[];
  /** `reported`: the work is a finding of this statement (which an allow comment may still lift). */
  readonly work: readonly (Work & { readonly existing: boolean; readonly reported: boolean })[];
}

/** Transaction control statements by parse-tree kind, as SQL writes them. */
const TRANSACTION_CONTROL: ReadonlyMap<string, string> = new Map([
  ['TRANS_STMT_BEGIN', 'BEGIN'],
  ['TRANS_STMT_START', 'START TRANSACTION'],
  ['TRANS_STMT_COMMIT', 'COMMIT'],
  ['TRANS_STMT_ROLLBACK', 'ROLLBACK'],
  ['TRANS_STMT_PREPARE', 'PREPARE TRANSACTION'],
]);

export interface CheckerOptions {
  /** Whether the migration runs in a transaction (its `transaction`). */
  readonly transactional: boolean;
  readonly pgVersion: PgVersion;
  /** What earlier statements and migrations showed; `learn`s from this migration as it goes. */
  readonly schema: SchemaKnowledge;
  /** Every statement of the text, for rules that look ahead (a view keeping a renamed table's name). */
  readonly statements: readonly Node[];
}

/** Walks one migration's statements in order. */
export class MigrationChecker {
  /** Views created anywhere in the text, by statement index: the rename-table recipe. */
  private readonly views: { index: number; view: RelationName }[];

  constructor(private readonly options: CheckerOptions) {
    this.views = options.statements.flatMap((node, index) =>
      'ViewStmt' in node && node.ViewStmt.view ? [{ index, view: fromRangeVar(node.ViewStmt.view) }] : [],
    );
  }

  check(node: Node, index: number): { analysed: AnalysedStatement; violations: Violation[] } {
    const { schema, pgVersion } = this.options;
    const effect = describeStatement(node, { pgVersion, schema });
    const existing = (target: Target) => this.existing(target);
    const locks = effect.locks.map((lock) => ({ ...lock, existing: existing(lock.target) }));
    const work = effect.work.map((item) => {
      const onExisting = { ...item, existing: existing(item.target) };
      return { ...onExisting, reported: workViolation(locks, onExisting, false) !== undefined };
    });
    const analysed: AnalysedStatement = { node, effect, locks, work };
    const violations = [
      ...this.transactionBlock(effect),
      ...this.transactionControl(node),
      ...this.ordered(analysed, this.deployedCodeBreaks(node, index)),
    ].map((violation) =>
      violation.lock ? violation : withStatementLock(violation, analysed, this.options.transactional),
    );
    schema.learn(node);
    return { analysed, violations };
  }

  private existing(target: Target): boolean {
    if (target.kind === 'group')
      return target.owner === undefined || !this.options.schema.createdHere(target.owner);
    return !this.options.schema.createdHere(target.name);
  }

  /** Findings from the model's work and the changes deployed code breaks on, in subcommand order. */
  private ordered(
    analysed: AnalysedStatement,
    breaks: { part: number; violation: Violation }[],
  ): Violation[] {
    const fromWork = analysed.work.flatMap((work) => {
      const violation = workViolation(analysed.locks, work, this.options.transactional);
      return violation ? [{ part: work.part ?? 0, violation }] : [];
    });
    return [...breaks, ...fromWork].sort((a, b) => a.part - b.part).map((entry) => entry.violation);
  }

  private transactionBlock(effect: StatementEffect): Violation[] {
    const block = effect.transactionBlock;
    if (block.allowed || !this.options.transactional) return [];
    const message =
      block.recipe === 'concurrently-in-transaction'
        ? `${block.what} cannot run in the migration's transaction; mark the migration transaction: false`
        : `${block.what} cannot run inside a transaction block, and this migration runs in the plan's transaction; ` +
          'mark the migration transaction: false';
    return [{ rule: block.recipe, message }];
  }

  private transactionControl(node: Node): Violation[] {
    if (!('TransactionStmt' in node)) return [];
    const statement: TransactionStmt = node.TransactionStmt;
    const verb = TRANSACTION_CONTROL.get(statement.kind ?? '');
    if (!this.options.transactional || !verb) return [];
    return [
      {
        rule: 'transaction-control',
        message: `${verb} inside a transactional migration ends the runner's transaction midway`,
      },
    ];
  }

  /** Drops and renames: not about locks, but deployed code still uses the old names. */
  private deployedCodeBreaks(node: Node, index: number): { part: number; violation: Violation }[] {
    if ('AlterTableStmt' in node) return this.droppedColumns(node.AlterTableStmt);
    if ('DropStmt' in node)
      return this.droppedTables(node.DropStmt).map((violation) => ({ part: 0, violation }));
    if ('RenameStmt' in node)
      return this.renamed(node.RenameStmt, index).map((violation) => ({ part: 0, violation }));
    return [];
  }

  private droppedColumns(statement: AlterTableStmt): { part: number; violation: Violation }[] {
    if (statement.objtype !== 'OBJECT_TABLE' || !statement.relation) return [];
    const table = fromRangeVar(statement.relation);
    if (this.options.schema.createdHere(table)) return [];
    return (statement.cmds ?? []).flatMap((command, part) => {
      if (!('AlterTableCmd' in command) || command.AlterTableCmd.subtype !== 'AT_DropColumn') return [];
      const column = quoted(command.AlterTableCmd.name ?? '');
      return [
        {
          part,
          violation: {
            rule: 'drop-column' as const,
            message: `DROP COLUMN removes column ${column} of table ${quoted(table)} while deployed code may still use it`,
          },
        },
      ];
    });
  }

  private droppedTables(statement: DropStmt): Violation[] {
    if (statement.removeType !== 'OBJECT_TABLE') return [];
    return (statement.objects ?? []).flatMap((object) => {
      const table = fromNameList(object);
      if (!table || this.options.schema.createdHere(table)) return [];
      return [
        {
          rule: 'drop-table' as const,
          message: `DROP TABLE removes table ${quoted(table)} and its data while deployed code may still use it`,
        },
      ];
    });
  }

  private renamed(statement: RenameStmt, index: number): Violation[] {
    if (!statement.relation) return [];
    const table = fromRangeVar(statement.relation);
    if (this.options.schema.createdHere(table)) return [];
    const to = quoted(statement.newname ?? '');
    if (statement.renameType === 'OBJECT_TABLE') {
      const keepsOldName = this.views.some((later) => later.index > index && sameRelation(later.view, table));
      if (keepsOldName) return [];
      return [
        {
          rule: 'rename-table',
          message: `RENAME TO renames table ${quoted(table)} to ${to} while deployed code still uses the old name`,
        },
      ];
    }
    if (statement.renameType === 'OBJECT_COLUMN' && statement.relationType === 'OBJECT_TABLE') {
      return [
        {
          rule: 'rename-column',
          message:
            `RENAME COLUMN renames ${quoted(statement.subname ?? '')} of table ${quoted(table)} to ${to} ` +
            'while deployed code still uses the old name',
        },
      ];
    }
    return [];
  }
}

/**
 * Work on an existing relation is a finding when, while it runs, the statement holds a lock that
 * blocks reads or writes on an existing relation, or when it locks every row (UPDATE/DELETE
 * without WHERE): traffic then waits for as long as the work takes.
 */
function workViolation(
  locks: AnalysedStatement['locks'],
  work: Work & { readonly existing: boolean },
  transactional: boolean,
): Violation | undefined {
  if (!work.existing || !work.recipe) return undefined;
  const blocking = locks.filter((lock) => lock.existing && blocksTraffic(lock.mode));
  if (work.kind !== 'row locks' && blocking.length === 0) return undefined;
  return { rule: work.recipe, message: work.message, lock: lockFacts(locks, work, transactional) };
}

/** Findings that are not about work (a drop, a rename, a refused statement) still name the statement's strongest lock. */
function withStatementLock(
  violation: Violation,
  analysed: AnalysedStatement,
  transactional: boolean,
): Violation {
  const strongest = [...analysed.locks].sort((a, b) => strength(b.mode) - strength(a.mode))[0];
  if (!strongest) return violation;
  const work = analysed.work.filter((item) => sameTarget(item.target, strongest.target));
  const facts = lockFacts(
    analysed.locks,
    { kind: 'scan', target: strongest.target, message: '', doc: strongest.doc },
    transactional,
    strongest,
  );
  if (!facts) return violation;
  return {
    ...violation,
    lock: { ...facts, rewrite: work.some((item) => item.kind === 'rewrite'), scan: work.length > 0 },
  };
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
