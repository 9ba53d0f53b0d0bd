/**
 * The unsafe-change linter: reads a migration's SQL with the real PostgreSQL parser and reports
 * statements that lock or break a live database, each with the safe recipe to use instead.
 * A statement is exempt from a rule when the comment line right above it reads
 * `-- rds-migrate:allow <rule-id> <reason>`.
 */
import type { Node, ScanToken } from 'libpg-query';
import { ALLOW_DIRECTIVE, allowWords } from '../engine/allow-lines.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import { ALLOWABLE_RULE_IDS, DOWN_SECTION_RULE_IDS, LINT_RULES, lintRule } from './lint-rules.ts';
import { type LockFacts, MigrationChecker, type Violation } from './lint-walker.ts';
import { DEFAULT_PG_VERSION, type PgVersion } from './model/pg-version.ts';
import { SchemaKnowledge } from './model/schema-knowledge.ts';
import { lintTransaction, type TransactionStatement } from './transaction-lint.ts';

export { LINT_RULES, type LockFacts };

export interface LintFinding {
  /** Rule id, e.g. 'add-column-not-null-without-default'. */
  readonly rule: string;
  /** File path as given by the caller. */
  readonly source: string;
  readonly revision: string;
  readonly section: 'up' | 'down';
  /** 1-based line of the statement within the given SQL text, plus `lineOffset`. */
  readonly line: number;
  /** The statement on one line, at most 120 characters. */
  readonly statement: string;
  /** One line: what is wrong, naming the table and column. */
  readonly message: string;
  readonly why: string;
  /** The safe multi-step recipe. */
  readonly fix: string;
  /** The lock behind the finding: its mode, what it blocks, and whether the table is rewritten or scanned meanwhile. */
  readonly lock?: LockFacts;
  /** The earlier statement the finding pairs with, when it spans two (a lock held, ADD ... NOT VALID). */
  readonly related?: { readonly source: string; readonly revision: string; readonly line?: number };
}

export interface LintInput {
  readonly sql: string;
  /** File path, for findings and errors. */
  readonly source: string;
  readonly revision: string;
  /** Every rule checks `up`; `down` is checked only for statements PostgreSQL would refuse. */
  readonly section: 'up' | 'down';
  /** Whether the SQL runs inside a transaction (the migration's `transaction`). */
  readonly transactional: boolean;
  /** Lines of the file above the given SQL text, added to every line number. @default 0 */
  readonly lineOffset?: number;
  /** The PostgreSQL major version whose lock and rewrite rules apply. @default DEFAULT_PG_VERSION (16) */
  readonly pgVersion?: PgVersion;
  /**
   * What earlier migrations showed of the schema (column types, proven NOT NULL columns), shared
   * across the migrations of a plan in order; an up section adds to it. @default nothing known
   */
  readonly schema?: SchemaKnowledge;
}

/** The findings of one SQL text, and its statements as the lock model sees them (for plan-lint.ts). */
interface AnalysedSql {
  readonly findings: LintFinding[];
  readonly statements: readonly TransactionStatement[];
}

/** Where PostgreSQL's parser stopped, and what it said. */
interface ParseFailure {
  readonly source: string;
  readonly revision: string;
  readonly section: 'up' | 'down';
  readonly line: number;
  readonly parserMessage: string;
}

/** SQL that PostgreSQL's parser rejects: found by `check` before anything runs. */
export class SqlParseError extends RdsMigrateError {
  override readonly name = 'SqlParseError';
  readonly source: string;
  readonly revision: string;
  readonly section: 'up' | 'down';
  readonly line: number;
  readonly parserMessage: string;
  constructor(failure: ParseFailure) {
    const { source, revision, section, line, parserMessage } = failure;
    super(
      `${source} (revision ${revision}), ${section} section, line ${line}: PostgreSQL cannot parse the SQL: ` +
        `${parserMessage}. Fix the statement at that line (a typo, a missing semicolon or quote) ` +
        'and run `rds-migrate check` again.',
    );
    this.source = source;
    this.revision = revision;
    this.section = section;
    this.line = line;
    this.parserMessage = parserMessage;
  }
}

const STATEMENT_DISPLAY_LENGTH = 120;

export async function lintSql(input: LintInput): Promise<LintFinding[]> {
  return (await analyseSql(input)).findings;
}

export async function analyseSql(input: LintInput): Promise<AnalysedSql> {
  if (input.sql.trim() === '') return { findings: [], statements: [] };
  const text = new SqlText(input.sql);
  const statements = await parseStatements(input, text);
  const comments = await scanComments(text);
  const allows = readAllowComments(comments, statements);
  const pgVersion = input.pgVersion ?? DEFAULT_PG_VERSION;
  // A down section undoes its own up section: what it shows must not teach the plan's schema.
  const schema = input.section === 'up' ? (input.schema ?? new SchemaKnowledge()) : new SchemaKnowledge();
  schema.beginMigration();

  const findings: LintFinding[] = allows.problems.map((problem) =>
    toFinding(
      input,
      { rule: 'invalid-allow-comment', message: problem.message },
      problem.comment.startLine,
      problem.comment.text,
    ),
  );
  const checker = new MigrationChecker({
    transactional: input.transactional,
    pgVersion,
    schema,
    statements: statements.map((statement) => statement.node),
  });
  const report = (violation: Violation, statement: ParsedStatement, index: number) => {
    if (input.section === 'down' && !DOWN_SECTION_RULE_IDS.has(violation.rule)) return;
    if (allows.exemptions.get(index)?.has(violation.rule)) return;
    findings.push(toFinding(input, violation, statement.line, statement.text));
  };
  const analysed = statements.map((statement, index): TransactionStatement => {
    const result = checker.check(statement.node, index);
    for (const violation of result.violations) report(violation, statement, index);
    return {
      revision: input.revision,
      file: input.source,
      line: statement.line + (input.lineOffset ?? 0),
      analysed: result.analysed,
      exempt: allows.exemptions.get(index) ?? new Set(),
    };
  });
  if (input.transactional) {
    for (const finding of lintTransaction(analysed, { pgVersion, acrossMigrationsOnly: false })) {
      const index = analysed.indexOf(finding.at);
      const statement = statements[index];
      if (statement) report(finding, statement, index);
    }
  }
  return { findings: findings.sort((a, b) => a.line - b.line), statements: analysed };
}

function toFinding(input: LintInput, violation: Violation, line: number, statement: string): LintFinding {
  const { why, fix } = lintRule(violation.rule);
  return {
    rule: violation.rule,
    source: input.source,
    revision: input.revision,
    section: input.section,
    line: line + (input.lineOffset ?? 0),
    statement: oneLine(statement),
    message: violation.message,
    why,
    fix,
    ...(violation.lock ? { lock: violation.lock } : {}),
  };
}

/** Display only: whitespace runs become one space, long statements are cut. */
function oneLine(statement: string): string {
  const flat = statement.trim().split(/\s+/).join(' ');
  return flat.length <= STATEMENT_DISPLAY_LENGTH ? flat : `${flat.slice(0, STATEMENT_DISPLAY_LENGTH - 3)}...`;
}

// ---------------------------------------------------------------------------------------------
// Text, statements and comments. The parser reports byte offsets into the UTF-8 text.

class SqlText {
  private readonly bytes: Buffer;
  private readonly lineStarts: number[] = [0];

  constructor(readonly sql: string) {
    this.bytes = Buffer.from(sql, 'utf8');
    this.bytes.forEach((byte, offset) => {
      if (byte === 0x0a) this.lineStarts.push(offset + 1);
    });
  }

  get byteLength(): number {
    return this.bytes.length;
  }

  /** 1-based line of a byte offset. */
  lineAt(offset: number): number {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if ((this.lineStarts[middle] ?? 0) <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  }

  slice(start: number, end: number): string {
    return this.bytes.subarray(start, end).toString('utf8');
  }

  /** 1-based line of a character position, as the parser reports errors. */
  lineAtCharacter(position: number): number {
    let line = 1;
    let seen = 0;
    for (const character of this.sql) {
      if (seen >= position) break;
      if (character === '\n') line += 1;
      seen += 1;
    }
    return line;
  }
}

interface ParsedStatement {
  readonly node: Node;
  /** Byte offsets of the statement's first token and of the end of its last one. */
  readonly start: number;
  readonly end: number;
  readonly line: number;
  readonly endLine: number;
  readonly text: string;
}

interface SqlComment {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly startLine: number;
  readonly endLine: number;
}

/**
 * The parser, loaded on first use (its WASM stays out of commands that never lint) and kept: a
 * dynamic import costs a round trip through the module loader on every call.
 */
let parserModule: Promise<typeof import('libpg-query')> | undefined;
function parser(): Promise<typeof import('libpg-query')> {
  parserModule ??= import('libpg-query');
  return parserModule;
}

async function parseStatements(input: LintInput, text: SqlText): Promise<ParsedStatement[]> {
  const { parse, SqlError } = await parser();
  try {
    const tree = await parse(input.sql);
    return (tree.stmts ?? []).flatMap(({ stmt, stmt_location: start = 0, stmt_len: length = 0 }) => {
      if (!stmt) return [];
      // A length of 0 means "to the end of the text" (the last statement without a semicolon).
      const end = length > 0 ? start + length : text.byteLength;
      const statementText = text.slice(start, end).trim();
      return [
        { node: stmt, start, end, line: text.lineAt(start), endLine: text.lineAt(end), text: statementText },
      ];
    });
  } catch (error) {
    if (!(error instanceof SqlError)) throw error;
    const line = text.lineAtCharacter(error.sqlDetails?.cursorPosition ?? 0) + (input.lineOffset ?? 0);
    throw new SqlParseError({
      source: input.source,
      revision: input.revision,
      section: input.section,
      line,
      parserMessage: error.message,
    });
  }
}

async function scanComments(text: SqlText): Promise<SqlComment[]> {
  const { scan } = await parser();
  const { tokens } = await scan(text.sql);
  return tokens.filter(isComment).map((token) => ({
    text: text.slice(token.start, token.end),
    start: token.start,
    end: token.end,
    startLine: text.lineAt(token.start),
    endLine: text.lineAt(Math.max(token.start, token.end - 1)),
  }));
}

function isComment(token: ScanToken): boolean {
  return token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT';
}

// ---------------------------------------------------------------------------------------------
// Allow comments: `-- rds-migrate:allow <rule-id> <reason>` directly above a statement.

interface AllowComments {
  /** Statement index → rule ids its allow comments exempt it from. */
  readonly exemptions: ReadonlyMap<number, ReadonlySet<string>>;
  readonly problems: readonly { readonly comment: SqlComment; readonly message: string }[];
}

function readAllowComments(
  comments: readonly SqlComment[],
  statements: readonly ParsedStatement[],
): AllowComments {
  const owners = commentOwners(comments, statements);
  const exemptions = new Map<number, Set<string>>();
  const problems: { comment: SqlComment; message: string }[] = [];
  for (const comment of comments) {
    const words = allowWords(comment.text);
    if (!words) continue;
    const owner = owners.get(comment);
    const problem = allowCommentProblem(words.directive, words.rule, words.reason, owner);
    if (problem) problems.push({ comment, message: problem });
    else if (owner !== undefined) exemptions.set(owner, (exemptions.get(owner) ?? new Set()).add(words.rule));
  }
  return { exemptions, problems };
}

function allowCommentProblem(
  directive: string,
  ruleId: string,
  reason: string,
  owner: number | undefined,
): string | undefined {
  const usage = `write it as "-- ${ALLOW_DIRECTIVE} <rule-id> <reason>"`;
  if (directive !== ALLOW_DIRECTIVE) return `allow comment starts with "${directive}": ${usage}`;
  if (ruleId === '') return `allow comment names no rule: ${usage}`;
  if (!ALLOWABLE_RULE_IDS.has(ruleId)) {
    return `allow comment names unknown rule '${ruleId}'; valid rule ids: ${[...ALLOWABLE_RULE_IDS].join(', ')}`;
  }
  if (reason.trim() === '') {
    return `allow comment for '${ruleId}' gives no reason: write "-- ${ALLOW_DIRECTIVE} ${ruleId} <why it is safe here>"`;
  }
  if (owner === undefined) {
    return `allow comment for '${ruleId}' is not directly above a statement, so it exempts nothing: move it to the line right above the statement`;
  }
  return undefined;
}

/**
 * The statement each comment belongs to: the one it sits inside, or the one it directly
 * precedes through a run of comment lines with no blank line (a comment trailing the previous
 * statement on its line belongs to that statement, not to the next).
 */
function commentOwners(
  comments: readonly SqlComment[],
  statements: readonly ParsedStatement[],
): Map<SqlComment, number> {
  const owners = new Map<SqlComment, number>();
  statements.forEach((statement, index) => {
    const previous = statements[index - 1];
    const gapStart = previous?.end ?? 0;
    const inside = comments.filter(
      (comment) => comment.start >= statement.start && comment.end <= statement.end,
    );
    for (const comment of inside) owners.set(comment, index);
    const gap = comments.filter((comment) => comment.start >= gapStart && comment.end <= statement.start);
    let topLine = statement.line;
    for (const comment of gap.reverse()) {
      if (comment.endLine < topLine - 1) break;
      const trailsPrevious = previous !== undefined && comment.startLine === previous.endLine;
      if (trailsPrevious && comment.startLine !== statement.line) break;
      owners.set(comment, index);
      topLine = comment.startLine;
    }
  });
  return owners;
}
