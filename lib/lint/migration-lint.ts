/**
 * The unsafe-change linter over whole migrations: both sections of a SQL file, with findings on
 * the file's own lines, and the SQL a TS migration issues, recorded by a dry run (recording.ts)
 * and mapped back to the line of the `sql` call that issued it.
 */
import { BatchInTransactionError } from '../engine/context.ts';
import type { Migration } from '../engine/migration.ts';
import { analyseSql, type LintFinding, type LockFacts, SqlParseError } from './lint.ts';
import type { PgVersion } from './model/pg-version.ts';
import type { SchemaKnowledge } from './model/schema-knowledge.ts';
import { type Recording, recordCodeStep, recordingMarker } from './recording.ts';
import type { TransactionStatement } from './transaction-lint.ts';

export interface MigrationLintProblem {
  readonly rule: string;
  /** The file as the user opens it. */
  readonly file: string;
  readonly revision: string;
  readonly section: 'up' | 'down';
  /** Line in the file: of the statement (SQL), or of the `sql` call that issued it (TS). */
  readonly line?: number;
  readonly message: string;
  readonly why?: string;
  readonly fix?: string;
  /** For TS migrations: the dry run the SQL was recorded from, and its caveat. */
  readonly recordedFrom?: string;
  /** The lock behind the finding, what it blocks, and whether the table is rewritten or scanned. */
  readonly lock?: LockFacts;
}

interface MigrationLintResult {
  readonly problems: readonly MigrationLintProblem[];
  /** Things the linter could not fully see, which are not problems in themselves. */
  readonly warnings: readonly string[];
  /** The up step's statements as the lock model saw them, at their lines in the file: for the plan's transactions. */
  readonly statements: readonly TransactionStatement[];
}

interface MigrationLintOptions {
  /** The migration's file, as findings name it. */
  readonly file: string;
  /** Context arguments TS migrations are recorded with. @default {} */
  readonly args?: Readonly<Record<string, string>>;
  /** The PostgreSQL major version whose lock and rewrite rules apply. @default 16 */
  readonly pgVersion?: PgVersion;
  /** What earlier migrations of the plan showed of the schema; the up step adds to it. @default nothing known */
  readonly schema?: SchemaKnowledge;
}

export async function lintMigration(
  migration: Migration,
  options: MigrationLintOptions,
): Promise<MigrationLintResult> {
  const up = await lintSection(migration, 'up', options);
  const down = await lintSection(migration, 'down', options);
  return {
    problems: [...up.problems, ...down.problems],
    warnings: [...up.warnings, ...down.warnings],
    statements: up.statements,
  };
}

async function lintSection(
  migration: Migration,
  section: 'up' | 'down',
  options: MigrationLintOptions,
): Promise<MigrationLintResult> {
  const step = section === 'up' ? migration.up : migration.down;
  if (!step) return { problems: [], warnings: [], statements: [] };
  if (step.kind === 'sql') return lintFileSql(migration, section, step.sql, step.line, options);
  return lintRecording(migration, await recordCodeStep(migration, section, options.args ?? {}), options);
}

async function lintFileSql(
  migration: Migration,
  section: 'up' | 'down',
  sql: string,
  firstLine: number,
  options: MigrationLintOptions,
): Promise<MigrationLintResult> {
  const input = {
    sql,
    source: options.file,
    revision: migration.revision,
    section,
    transactional: migration.transaction,
    lineOffset: firstLine - 1,
    pgVersion: options.pgVersion,
    schema: options.schema,
  };
  try {
    const analysed = await analyseSql(input);
    return {
      problems: analysed.findings.map((finding) => fromFinding(finding, finding.line)),
      warnings: [],
      statements: analysed.statements,
    };
  } catch (error) {
    if (!(error instanceof SqlParseError)) throw error;
    return { problems: [parseProblem(error, options.file, error.line)], warnings: [], statements: [] };
  }
}

/**
 * The recorded statements are linted as one text (so rules that follow a table through several
 * statements work), each followed by a semicolon on its own line, which a trailing comment
 * cannot swallow; a finding's line then maps back to the statement, and from it to the source.
 */
async function lintRecording(
  migration: Migration,
  recording: Recording,
  options: MigrationLintOptions,
): Promise<MigrationLintResult> {
  const file = options.file;
  const recordedFrom = recordingMarker(recording);
  const problems: MigrationLintProblem[] = [];
  const warnings: string[] = [];
  if (recording.stoppedBy instanceof BatchInTransactionError) {
    problems.push({
      rule: 'batch-in-transaction',
      file,
      revision: migration.revision,
      section: recording.direction,
      message: recording.stoppedBy.message,
      fix: "Mark the migration `transaction: false`: ctx.batch commits once per batch, so it cannot run inside the plan's transaction.",
      recordedFrom,
    });
  } else if (recording.stoppedBy) {
    warnings.push(
      `${file} (revision ${migration.revision}): the dry run of its ${recording.direction} step stopped at ` +
        `"${recording.stoppedBy.message}", so only the SQL before that was linted`,
    );
  }
  const statements = recording.entries.flatMap((entry) => (entry.kind === 'statement' ? [entry] : []));
  if (statements.length === 0) return { problems, warnings, statements: [] };
  const starts: { line: number; sourceLine?: number }[] = [];
  let text = '';
  for (const statement of statements) {
    starts.push({ line: text.split('\n').length, sourceLine: statement.line });
    text += `${statement.text.trim()}\n;\n`;
  }
  const sourceLineOf = (line: number) => starts.findLast((start) => start.line <= line)?.sourceLine;
  const input = {
    sql: text,
    source: file,
    revision: migration.revision,
    section: recording.direction,
    transactional: migration.transaction,
    lineOffset: 0,
    pgVersion: options.pgVersion,
    schema: options.schema,
  };
  try {
    const analysed = await analyseSql(input);
    for (const finding of analysed.findings) {
      problems.push({ ...fromFinding(finding, sourceLineOf(finding.line)), recordedFrom });
    }
    const mapped = analysed.statements.map((statement) => ({
      ...statement,
      line: statement.line === undefined ? undefined : sourceLineOf(statement.line),
    }));
    return { problems, warnings, statements: mapped };
  } catch (error) {
    if (!(error instanceof SqlParseError)) throw error;
    problems.push({ ...parseProblem(error, file, sourceLineOf(error.line)), recordedFrom });
  }
  return { problems, warnings, statements: [] };
}

function fromFinding(finding: LintFinding, line: number | undefined): MigrationLintProblem {
  return {
    rule: finding.rule,
    file: finding.source,
    revision: finding.revision,
    section: finding.section,
    line,
    message: finding.message,
    why: finding.why,
    fix: finding.fix,
    ...(finding.lock ? { lock: finding.lock } : {}),
  };
}

function parseProblem(error: SqlParseError, file: string, line: number | undefined): MigrationLintProblem {
  return {
    rule: 'parse-error',
    file,
    revision: error.revision,
    section: error.section,
    line,
    message: `PostgreSQL cannot parse the SQL: ${error.parserMessage}`,
    fix: 'Fix the statement at that line (a typo, a missing semicolon or quote) and run rds-migrate check again.',
  };
}
