/**
 * The unsafe-change linter over whole migrations: both sections of a SQL file, with findings on
 * the file's own lines, and the SQL a TS migration issues, recorded by a dry run (recording.ts)
 * and mapped back to the line of the `sql` call that issued it.
 */
import { BatchInTransactionError } from '../engine/context.ts';
import type { Migration } from '../engine/migration.ts';
import { type LintFinding, lintSql, SqlParseError } from './lint.ts';
import { type Recording, recordCodeStep, recordingMarker } from './recording.ts';

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
}

export interface MigrationLintResult {
  readonly problems: readonly MigrationLintProblem[];
  /** Things the linter could not fully see, which are not problems in themselves. */
  readonly warnings: readonly string[];
}

export interface MigrationLintOptions {
  /** The migration's file, as findings name it. */
  readonly file: string;
  /** Context arguments TS migrations are recorded with. @default {} */
  readonly args?: Readonly<Record<string, string>>;
}

export async function lintMigration(
  migration: Migration,
  options: MigrationLintOptions,
): Promise<MigrationLintResult> {
  const results = await Promise.all(
    (['up', 'down'] as const).map((section) => lintSection(migration, section, options)),
  );
  return {
    problems: results.flatMap((result) => result.problems),
    warnings: results.flatMap((result) => result.warnings),
  };
}

async function lintSection(
  migration: Migration,
  section: 'up' | 'down',
  options: MigrationLintOptions,
): Promise<MigrationLintResult> {
  const step = section === 'up' ? migration.up : migration.down;
  if (!step) return { problems: [], warnings: [] };
  if (step.kind === 'sql') {
    return {
      problems: await lintFileSql(migration, section, step.sql, step.line, options.file),
      warnings: [],
    };
  }
  return lintRecording(migration, await recordCodeStep(migration, section, options.args ?? {}), options.file);
}

async function lintFileSql(
  migration: Migration,
  section: 'up' | 'down',
  sql: string,
  firstLine: number,
  file: string,
): Promise<MigrationLintProblem[]> {
  const input = {
    sql,
    source: file,
    revision: migration.revision,
    section,
    transactional: migration.transaction,
    lineOffset: firstLine - 1,
  };
  try {
    return (await lintSql(input)).map((finding) => fromFinding(finding, finding.line));
  } catch (error) {
    if (!(error instanceof SqlParseError)) throw error;
    return [parseProblem(error, file, error.line)];
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
  file: string,
): Promise<MigrationLintResult> {
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
  if (statements.length === 0) return { problems, warnings };
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
  };
  try {
    for (const finding of await lintSql(input)) {
      problems.push({ ...fromFinding(finding, sourceLineOf(finding.line)), recordedFrom });
    }
  } catch (error) {
    if (!(error instanceof SqlParseError)) throw error;
    problems.push({ ...parseProblem(error, file, sourceLineOf(error.line)), recordedFrom });
  }
  return { problems, warnings };
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
