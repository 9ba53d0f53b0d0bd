/**
 * Offline SQL (Alembic's `--sql`): the text a plan would send, for a DBA to review, printed
 * without touching a database. The transaction boundaries, timeouts and history writes come
 * from step-sql.ts, the functions the runner itself sends them with; TS migrations appear as
 * their recorded SQL, marked as such.
 */

import type { RevisionGraph } from '../engine/graph.ts';
import type { History, LogEntry, LoggedStep } from '../engine/history.ts';
import { CURRENT_FORMAT } from '../engine/history-format.ts';
import { BASE, type MigrationTimeouts, type Revision } from '../engine/migration.ts';
import { type Direction, type Plan, type PlanStep, planDowngrade, planUpgrade } from '../engine/plan.ts';
import { splitIntoUnits } from '../engine/plan-run.ts';
import { printable } from '../engine/printable.ts';
import { recordDownStep } from '../engine/recorded.ts';
import { splitStatements } from '../engine/statements.ts';
import {
  beginSql,
  commitSql,
  logEntry,
  mustRunAlone,
  statementWithProgressSql,
  stepFinishSql,
  timeoutsSql,
  unitNote,
} from '../engine/step-sql.ts';
import { resolveTarget } from '../engine/target.ts';
import { DEFAULT_TIMEOUTS } from '../engine/timeouts.ts';
import { type Recording, recordCodeStep, recordingMarker } from '../lint/recording.ts';
import { revisionList } from './report.ts';
import { inlineParameters } from './sql-literal.ts';

/** The run id and step duration offline output records, so the same plan prints the same text. */
const OFFLINE_RUN_ID = 'offline';
const OFFLINE_DURATION_MS = 0;

interface OfflineOptions {
  readonly history: History;
  /** Who would run it, as the log would record. */
  readonly actor: string;
  /** Context arguments the TS migrations are recorded with. @default {} */
  readonly args?: Readonly<Record<string, string>>;
  /** @default DEFAULT_TIMEOUTS */
  readonly timeouts?: MigrationTimeouts;
}

/**
 * The plan of `up --sql [from:]to` or `down --sql [from:]to`. With no `from`, `up` starts at base
 * and `down` at the head; with no range at all, `up` goes to the head and `down` one step. Both
 * ends take any target (`billing@head`, `3f2a+2`); a step without a revision in `to` (`+2`, `-1`)
 * counts from `from`.
 */
export function offlinePlan(graph: RevisionGraph, direction: Direction, range: string | undefined): Plan {
  const [fromSpec, toSpec] = splitRange(range);
  if (direction === 'up') return planUpgrade(graph, fromHeads(graph, fromSpec ?? BASE), toSpec ?? 'head');
  return planDowngrade(graph, fromHeads(graph, fromSpec ?? 'head'), toSpec);
}

function splitRange(range: string | undefined): [string | undefined, string | undefined] {
  if (range === undefined || range === '') return [undefined, undefined];
  const at = range.indexOf(':');
  if (at === -1) return [undefined, range];
  return [range.slice(0, at) || undefined, range.slice(at + 1) || undefined];
}

function fromHeads(graph: RevisionGraph, spec: string): Revision[] {
  return [...resolveTarget(graph, spec, { direction: 'at' }).revisions];
}

export async function renderPlanSql(plan: Plan, options: OfflineOptions): Promise<string> {
  const direction = plan.steps[0]?.direction ?? 'up';
  const units = splitIntoUnits(plan.steps);
  const body = plan.steps.length === 0 ? comment('nothing to do') : await renderUnits(plan, units, options);
  const header = comment(
    `rds-migrate ${direction} --sql: ${revisionList(plan.from)} -> ${revisionList(plan.to)}, ` +
      `${plan.steps.length} migration${plan.steps.length === 1 ? '' : 's'} in ${units.length} unit${units.length === 1 ? '' : 's'}\n` +
      'Nothing was run. A real run sends these statements (TS migrations: their recorded SQL),\n' +
      `holding the advisory lock '${options.history.lockName}' throughout.\n` +
      'psql -v ON_ERROR_STOP=1 -f <this file> runs it as it is, without that lock.',
  );
  if (body.includes(comment(BATCH_NOT_RUNNABLE)[0] as string)) {
    header.push(...comment('Not in the runnable text: what ctx.batch runs per batch (commented out below).'));
  }
  return `${[...header, ...body].join('\n')}\n`;
}

async function renderUnits(
  plan: Plan,
  units: ReturnType<typeof splitIntoUnits>,
  options: OfflineOptions,
): Promise<string[]> {
  const out: string[] = [];
  // From base the history tables may not exist yet: the runner creates them in the first unit.
  let historyFormat = plan.from.length === 0 ? 0 : CURRENT_FORMAT;
  if (historyFormat === 0) {
    out.push(
      ...comment(
        'From base: the first unit creates the history tables (IF NOT EXISTS) when they are missing.',
      ),
    );
  }
  for (const [index, unit] of units.entries()) {
    const note = unitNote(index + 1, units.length, unit.transactional);
    out.push('');
    if (unit.transactional) {
      out.push(
        ...comment(
          `unit ${index + 1} of ${units.length}: ${unit.steps.length} migration${unit.steps.length === 1 ? '' : 's'} in one transaction`,
        ),
      );
      out.push(statementText(beginSql(options.history, historyFormat)));
      const logged: LoggedStep[] = [];
      for (const step of unit.steps) {
        const rendered = await renderStep(step, true, note, options);
        out.push(...rendered.lines);
        if (rendered.entry) logged.push({ entry: rendered.entry, durationMs: OFFLINE_DURATION_MS });
      }
      const headsAfter = unit.steps[unit.steps.length - 1]?.headsAfter ?? [];
      out.push(...comment('the history rows of this transaction travel with its COMMIT'));
      out.push(commitSql(options.history, logged, headsAfter));
    } else {
      const step = unit.steps[0] as PlanStep;
      out.push(
        ...comment(`unit ${index + 1} of ${units.length}: ${step.revision} alone, outside a transaction`),
      );
      if (historyFormat === 0) out.push(options.history.createSql().trim());
      out.push(options.history.markInProgressSql(step.revision, step.direction, options.actor));
      out.push(...(await renderStep(step, false, note, options)).lines);
    }
    historyFormat = CURRENT_FORMAT;
  }
  return out;
}

async function renderStep(
  step: PlanStep,
  inTransaction: boolean,
  note: string | undefined,
  options: OfflineOptions,
): Promise<{ lines: string[]; entry?: LogEntry }> {
  const { history } = options;
  const migration = step.migration;
  const work = step.direction === 'up' ? migration.up : migration.down;
  const lines = comment(`${step.direction} ${step.revision}: ${migration.message} (${migration.source})`);
  if (!work) return { lines: [...lines, ...comment('(no down step)')] };
  const defaults = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const timeouts = timeoutsSql(
    inTransaction,
    migration.timeouts.lockTimeout ?? defaults.lockTimeout,
    migration.timeouts.statementTimeout ?? defaults.statementTimeout,
  );
  const downStep = step.direction === 'up' ? await recordDownStep(migration) : undefined;
  const entry = logEntry(step, { runId: OFFLINE_RUN_ID, actor: options.actor }, note, downStep);
  if (work.kind === 'sql' && inTransaction) {
    // The runner sends the step as one text (sqlStepInTransaction); the same, without its lone ';'.
    return { lines: [...lines, timeouts, statementText(work.sql)], entry };
  }
  lines.push(timeouts);
  if (work.kind === 'sql') {
    // As the runner sends them: each statement with the record that it is done, in one short
    // transaction, or alone then recorded when PostgreSQL refuses it inside a transaction block.
    for (const [index, statement] of (await splitStatements(work.sql)).entries()) {
      const recorded = history.statementsDoneSql(step.revision, index + 1);
      if (mustRunAlone(statement.text)) lines.push(statementText(statement.text), recorded);
      else lines.push(statementWithProgressSql(statement.text, recorded));
    }
  } else {
    lines.push(...renderRecording(await recordCodeStep(migration, step.direction, options.args ?? {})));
  }
  if (inTransaction) return { lines, entry };
  lines.push(stepFinishSql(history, step, entry, OFFLINE_DURATION_MS).trim());
  return { lines };
}

/** Why the statements of a ctx.batch are commented out; the header repeats it when there are any. */
const BATCH_NOT_RUNNABLE =
  "ctx.batch runs these once per batch with that batch's keys, which only a real run knows; commented out";

/**
 * A TS migration's recorded SQL, runnable: bound values written as literals. What ctx.batch runs
 * per batch depends on keys a dry run never sees, so it is shown commented out.
 */
function renderRecording(recording: Recording): string[] {
  const lines = comment(recordingMarker(recording));
  let inBatch = false;
  for (const entry of recording.entries) {
    if (entry.kind === 'note') {
      lines.push(...comment(entry.text));
      if (BATCH_START.test(entry.text)) {
        lines.push(...comment(BATCH_NOT_RUNNABLE));
        inBatch = true;
      }
      if (BATCH_END.test(entry.text)) inBatch = false;
      continue;
    }
    // In a batch, $n stays: the keys it stands for exist only in a real run.
    if (inBatch) lines.push(...comment(statementText(entry.text)));
    else lines.push(statementText(inlineParameters(entry.text, entry.values)));
  }
  if (recording.stoppedBy) lines.push(...comment(`the dry run stopped here: ${recording.stoppedBy.message}`));
  lines.push(...comment('end of recorded SQL'));
  return lines;
}

/** The notes the recording's ctx.batch writes around the statements of its (empty) batch. */
const BATCH_START = /^ctx\.batch walks /;
const BATCH_END = /^end of ctx\.batch$/;

/**
 * `text` as SQL comment lines, one per line of it, every other control character escaped: every
 * comment of the output is written here, so no text (a message, a file name, a note) can end
 * its comment and become SQL. PostgreSQL ends a `--` comment at a carriage return too.
 */
function comment(text: string): string[] {
  return text.split('\n').map((line) => `-- ${printable(line)}`.trimEnd());
}

/** A statement as it would be typed: trimmed, ending in a semicolon that no trailing comment swallows. */
function statementText(text: string): string {
  const trimmed = text.trim();
  if (trimmed.endsWith(';')) return trimmed;
  const lastLine = trimmed.slice(trimmed.lastIndexOf('\n') + 1);
  return lastLine.includes('--') ? `${trimmed}\n;` : `${trimmed};`;
}
