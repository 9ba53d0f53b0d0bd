/**
 * The SQL text the runner sends around each step of a plan: the transaction's BEGIN, the
 * timeouts, a SQL step's single round trip, and the history writes that close a step. Built in
 * one place so that what `up --sql` prints and what a real run sends cannot drift apart.
 */
import type { History, LogDirection, LogEntry, LoggedStep, RecordedDownStep } from './history.ts';
import type { Revision } from './migration.ts';
import type { PlanStep } from './plan.ts';
import { escapeLiteral } from './sql-quote.ts';

/** Undoes the session-level timeouts a step outside a transaction set. */
export const RESET_TIMEOUTS_SQL = 'RESET lock_timeout; RESET statement_timeout';

/**
 * Opens a unit's transaction. A history of an older format (0: none yet) is brought to the
 * current one inside it, with the run's first change.
 */
export function beginSql(history: History, historyFormat: number): string {
  const upgrade = history.upgradeSql(historyFormat);
  return upgrade ? `BEGIN;\n${upgrade}` : 'BEGIN';
}

/** The log's note for a step: which unit of the plan it ran in, and whether outside a transaction. */
export function unitNote(unit: number, units: number, transactional: boolean): string | undefined {
  const note = units > 1 ? `unit ${unit} of ${units}` : undefined;
  if (transactional) return note;
  return note ? `${note}, outside a transaction` : 'outside a transaction';
}

/** `SET LOCAL` inside the plan's transaction, `SET` (reset after the step) outside it. */
export function timeoutsSql(local: boolean, lockTimeout: string, statementTimeout: string): string {
  const scope = local ? 'SET LOCAL' : 'SET';
  return `${scope} lock_timeout = ${escapeLiteral(lockTimeout)}; ${scope} statement_timeout = ${escapeLiteral(statementTimeout)};`;
}

interface StepRun {
  readonly runId: string;
  readonly actor: string;
}

export function logEntry(
  step: PlanStep,
  run: StepRun,
  note: string | undefined,
  downStep: RecordedDownStep | undefined,
): LogEntry {
  const migration = step.migration;
  return {
    revision: step.revision,
    parents: migration.downRevisions,
    dependsOn: migration.dependsOn,
    direction: step.direction as LogDirection,
    message: migration.message,
    checksum: migration.checksum,
    source: migration.source,
    transactional: migration.transaction,
    downStep,
    runId: run.runId,
    actor: run.actor,
    note,
  };
}

/**
 * A SQL step inside the plan's transaction is one round trip: its timeouts and its SQL. Its log
 * row waits for the transaction's COMMIT (see `commitSql`).
 */
export function sqlStepInTransaction(timeouts: string, sql: string): string {
  return `${timeouts}\n${sql}\n;`;
}

/**
 * A statement of a SQL migration outside the plan's transaction, committed together with the
 * record that it is done (one short transaction of its own), so a resume never runs it twice.
 */
export function statementWithProgressSql(statement: string, recordDone: string): string {
  return `BEGIN;\n${terminated(statement)}\n${recordDone}\nCOMMIT;`;
}

/** `statement;`, the semicolon on a line of its own when the last line has a -- comment that would swallow it. */
function terminated(statement: string): string {
  const lastLine = statement.trimEnd().split('\n').pop() ?? '';
  return lastLine.includes('--') ? `${statement}\n;` : `${statement};`;
}

/**
 * Statements PostgreSQL never runs inside a transaction block: sent alone, then recorded done.
 * Others it refuses there (SQLSTATE 25001) are found out by trying.
 */
export function mustRunAlone(statement: string): boolean {
  return (
    /\bCONCURRENTLY\b/i.test(statement) ||
    /^\s*(VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM)\b/i.test(statement)
  );
}

/**
 * What ends a transaction of the plan, in one round trip: the log rows of its steps, the heads
 * after its last step, and COMMIT. Heads in between are never seen outside the transaction.
 */
export function commitSql(
  history: History,
  logged: readonly LoggedStep[],
  headsAfter: readonly Revision[],
): string {
  return `${history.logSql(logged)}\n${history.recordHeadsSql(headsAfter)}\nCOMMIT;`;
}

/**
 * What closes a step outside a transaction: its log row and the heads, resetting the timeouts,
 * and clearing its in-progress mark.
 */
export function stepFinishSql(history: History, step: PlanStep, entry: LogEntry, durationMs: number): string {
  return `${history.recordSql(entry, step.headsAfter, durationMs)}
${RESET_TIMEOUTS_SQL}; ${history.clearInProgressSql(step.revision)}`;
}
