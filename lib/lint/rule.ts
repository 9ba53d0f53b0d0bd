/**
 * What a lint rule is: its metadata (id, title, why, fix) and how it is found. Each rule is one
 * module in rules/, registered by one line in rules/index.ts.
 */
import type { AlterTableCmd, Node } from 'libpg-query';
import type { LockFacts, TransactionStatement } from './analysed-statement.ts';
import type { PgVersion } from './model/pg-version.ts';
import { fromRangeVar, type RelationName } from './model/relation-name.ts';
import type { SchemaKnowledge } from './model/schema-knowledge.ts';

export interface LintRule {
  /** Kebab-case id, as written in findings and in `-- rds-migrate:allow <rule-id> <reason>`. */
  readonly id: string;
  readonly title: string;
  /** One line: why the change hurts a live database. */
  readonly why: string;
  /** The safe recipe, as numbered steps separated by newlines. */
  readonly fix: string;
}

/** One statement of a migration's text, with what a rule needs to judge it. */
export interface StatementUnderCheck {
  readonly node: Node;
  /** Its position among the text's statements. */
  readonly index: number;
  /** Every statement of the text, for rules that look ahead (a view keeping a renamed table's name). */
  readonly statements: readonly Node[];
  /** Whether the migration runs in a transaction (its `transaction`). */
  readonly transactional: boolean;
  readonly pgVersion: PgVersion;
  /** What earlier statements and migrations showed, this statement not yet included. */
  readonly schema: SchemaKnowledge;
}

/** What a statement rule found: one line naming the table (and column). */
export interface StatementHit {
  readonly message: string;
  /** Which subcommand of a multi-command ALTER TABLE it comes from (0-based), so findings keep their order. */
  readonly part?: number;
}

/** The statements of one transaction, in order. */
export interface TransactionUnderCheck {
  readonly statements: readonly TransactionStatement[];
  readonly pgVersion: PgVersion;
  /** Whether a pair may be reported (the plan reports only pairs that span two migrations). */
  readonly paired: (at: TransactionStatement, related: TransactionStatement) => boolean;
}

/** What a transaction rule found, on the later statement of a pair. */
export interface TransactionHit {
  readonly at: TransactionStatement;
  /** The earlier statement that makes it a problem (the lock, the ADD ... NOT VALID, the ADD VALUE). */
  readonly related: TransactionStatement;
  readonly message: string;
  readonly lock?: LockFacts;
}

/**
 * How a rule is found:
 * - `statement`: the rule judges each statement on its own (a drop, a rename);
 * - `transaction`: it judges statements that share one transaction (a lock held through later work);
 * - `lock model`: the lock and rewrite model (model/) names the rule on the work or the refusal it
 *   finds, since only PostgreSQL's own rules tell which statements rewrite, scan or cannot run in
 *   a transaction; the rule's module then adds its id to the model's `ModelRuleIds` (declaration
 *   merging, see vacuum-full.ts);
 * - `allow comments`: lint.ts, reading `-- rds-migrate:allow` comments.
 */
type Detection =
  | { readonly by: 'statement'; readonly check: (statement: StatementUnderCheck) => StatementHit[] }
  | { readonly by: 'transaction'; readonly check: (transaction: TransactionUnderCheck) => TransactionHit[] }
  | { readonly by: 'lock model' }
  | { readonly by: 'allow comments' };

export interface RuleModule<Id extends string = string> extends LintRule {
  readonly id: Id;
  readonly detect: Detection;
  /**
   * Whether down sections are judged too: they are not by default, since a down section undoes
   * its own up section; a rule whose statement PostgreSQL refuses either way says true.
   * @default false
   */
  readonly checksDownSections?: boolean;
  /**
   * The rule's examples, beside it as squawk keeps a rule's tests: SQL texts in the lint corpus's
   * format (headed `-- expect: <rule ids>` or `-- expect: none`; see test/check/lint.test.ts),
   * which the corpus test runs with test/fixtures/lint/<rule-id>.*.sql. At least one unsafe
   * example must find the rule, and no safe one may.
   */
  readonly examples?: { readonly unsafe: readonly string[]; readonly safe: readonly string[] };
}

/** The recipe as numbered lines. */
export const steps = (...lines: string[]): string => lines.join('\n');

/** One subcommand of an ALTER TABLE on a table (not an index, view or sequence). */
interface TableCommand {
  readonly table: RelationName;
  readonly command: AlterTableCmd;
  /** Its position among the statement's subcommands, as `StatementHit.part`. */
  readonly part: number;
}

/** The subcommands of an ALTER TABLE statement, of the given kinds; none for any other statement. */
export function tableCommands(node: Node, ...subtypes: AlterTableCmd['subtype'][]): TableCommand[] {
  if (!('AlterTableStmt' in node)) return [];
  const statement = node.AlterTableStmt;
  if (statement.objtype !== 'OBJECT_TABLE' || !statement.relation) return [];
  const table = fromRangeVar(statement.relation);
  return (statement.cmds ?? []).flatMap((command, part) =>
    'AlterTableCmd' in command && subtypes.includes(command.AlterTableCmd.subtype)
      ? [{ table, command: command.AlterTableCmd, part }]
      : [],
  );
}
