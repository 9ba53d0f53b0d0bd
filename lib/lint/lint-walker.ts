/**
 * The linter's walker: goes through one migration's statements in order, asks the lock model
 * (model/lock-model.ts) what each does, marks which relations existed before this migration (from
 * what the schema knowledge has seen), and turns the facts into findings: the rules the model
 * names on work that blocks traffic on an existing relation while it rewrites or scans it, or on
 * statements PostgreSQL refuses in the migration's transaction, then every statement rule of
 * rules/ (drops and renames deployed code cannot survive). Rules that span several statements of
 * one transaction are transaction-lint.ts.
 */
import type { Node } from 'libpg-query';
import { type AnalysedStatement, type LockFacts, lockFacts, sameTarget } from './analysed-statement.ts';
import type { LintRuleId } from './lint-rules.ts';
import { describeStatement } from './model/lock-model.ts';
import { blocksTraffic, strength } from './model/lock-modes.ts';
import type { PgVersion } from './model/pg-version.ts';
import type { SchemaKnowledge } from './model/schema-knowledge.ts';
import type { StatementEffect, Target, Work } from './model/statement-effect.ts';
import type { StatementHit, StatementUnderCheck } from './rule.ts';
import { RULES } from './rules/index.ts';

export type { LockFacts };

export interface Violation {
  readonly rule: LintRuleId;
  readonly message: string;
  readonly lock?: LockFacts;
}

/** The rules that judge one statement on its own, with their checks. */
const STATEMENT_RULES = RULES.flatMap((rule) =>
  rule.detect.by === 'statement' ? [{ id: rule.id, check: rule.detect.check }] : [],
);

interface CheckerOptions {
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
  constructor(private readonly options: CheckerOptions) {}

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
      ...this.ordered(analysed, this.statementRules({ ...this.options, node, index })),
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

  /** What the statement rules of rules/ find, before the statement is learnt. */
  private statementRules(statement: StatementUnderCheck): { part: number; violation: Violation }[] {
    return STATEMENT_RULES.flatMap(({ id, check }) =>
      check(statement).map((hit: StatementHit) => ({
        part: hit.part ?? 0,
        violation: { rule: id, message: hit.message },
      })),
    );
  }

  /** Findings from the model's work and from the statement rules, in subcommand order. */
  private ordered(
    analysed: AnalysedStatement,
    fromRules: { part: number; violation: Violation }[],
  ): Violation[] {
    const fromWork = analysed.work.flatMap((work) => {
      const violation = workViolation(analysed.locks, work, this.options.transactional);
      return violation ? [{ part: work.part ?? 0, violation }] : [];
    });
    return [...fromRules, ...fromWork].sort((a, b) => a.part - b.part).map((entry) => entry.violation);
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
