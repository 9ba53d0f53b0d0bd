/**
 * What `check --rehearse` adds to check's report: its section, its problems (a statement that
 * failed on the copy, down steps that did not restore the schema), and the measurements as text.
 * The problems carry PostgreSQL's message but never its DETAIL (row data), so `--format github`
 * and `sarif`, which end up in CI logs and code scanning, show no rows; the text block and
 * `--json`, read where the rehearsal ran, carry the detail and the failing row.
 */
import { RdsMigrateError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { CheckOptions, CheckProblem, CheckReport, CheckSection } from './check-report.ts';
import { type RehearsalReport, rehearse } from './rehearse.ts';
import type { MeasuredStatement, TakenLock } from './rehearse-probe.ts';

export function rehearsalSection(report: RehearsalReport): CheckSection {
  const where = `${report.copy.database} (${copyWords(report)})`;
  if (report.status === 'up-to-date') return { status: 'ok', summary: `${where}: nothing pending there` };
  const counts = `${report.steps.up} up, ${report.steps.down} down on ${where}`;
  if (report.status === 'passed')
    return {
      status: 'ok',
      summary: `${counts}: every statement ran on real data, and the down steps restored the schema`,
    };
  return {
    status: 'problems',
    summary: `${counts}: ${report.failure ? `${report.failure.phase} failed` : report.revert.status}`,
  };
}

export function rehearsalProblems(
  report: RehearsalReport,
  fileOf: (source: string) => string,
): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const failure = report.failure;
  if (failure) {
    problems.push({
      kind: 'rehearsal',
      rule: `rehearsal-${failure.phase}-failed`,
      ...(failure.source ? { file: fileOf(failure.source) } : {}),
      ...(failure.revision ? { revision: failure.revision } : {}),
      ...(failure.line ? { line: failure.line } : {}),
      section: failure.phase,
      message:
        `failed on a copy of ${report.source} with its data${failure.code ? ` [${failure.code}]` : ''}: ${failure.message}` +
        (failure.statement ? ` (in: ${oneLine(failure.statement, 120)})` : ''),
      fix:
        failure.phase === 'up'
          ? 'Make the migration handle the rows there (backfill or clean them first, in an earlier migration), ' +
            "then rehearse again; the rehearsal's report shows the row PostgreSQL named"
          : 'Fix the down step so it reverts what the up step did on data like this, then rehearse again',
    });
  }
  if (report.revert.status === 'differs') {
    problems.push({
      kind: 'rehearsal',
      rule: 'rehearsal-down-incomplete',
      message: `on a copy of ${report.source}, ${report.revert.summary}`,
      fix: 'Make the down steps undo everything their up steps made, then rehearse again',
    });
  }
  return problems;
}

/** The measurements, as lines under check's sections. */
export function formatRehearsal(report: RehearsalReport, fileOf: (source: string) => string): string[] {
  const lines = [
    '',
    `rehearsal on ${report.copy.database}, ${copyWords(report)}: ${heads(report.from)} -> ${heads(report.to)}, ` +
      `${report.status} in ${seconds(report.durationMs)}`,
  ];
  let heading = '';
  for (const statement of report.statements) {
    const step = `${statement.phase} ${statement.revision} (${fileOf(statement.source)})`;
    if (step !== heading) {
      heading = step;
      lines.push(`  ${step}`);
    }
    lines.push(...statementLines(statement));
  }
  for (const retry of report.lockRetries) {
    lines.push(
      `  lock timeout in ${retry.during}: tried again (${retry.retry} of ${retry.of}) after ${retry.waitMs} ms; ${retry.heldBy}`,
    );
  }
  if (report.rewritten.length > 0) {
    lines.push(
      `  rewritten by the up steps: ${report.rewritten
        .map(
          (rewrite) =>
            `${rewrite.relation} (relfilenode ${rewrite.relfilenodeBefore} -> ${rewrite.relfilenodeAfter})`,
        )
        .join(', ')}`,
    );
  }
  const failure = report.failure;
  if (failure) {
    const at = failure.source ? `${fileOf(failure.source)}${failure.line ? `:${failure.line}` : ''} ` : '';
    lines.push(
      `  FAILED ${failure.phase} ${at}${failure.code ? `[${failure.code}] ` : ''}${failure.message}`,
    );
    if (failure.statement) lines.push(`    statement: ${oneLine(failure.statement, 200)}`);
    if (failure.detail) lines.push(`    detail: ${failure.detail}`);
    if (failure.row) {
      const more = failure.row.more ? `more than ${failure.row.count}` : String(failure.row.count);
      lines.push(
        `    row: ${failure.row.relation} where ${failure.row.column} IS NULL (${more} such rows), e.g. ${failure.row.sample}`,
      );
    }
    if (failure.hint) lines.push(`    hint: ${failure.hint}`);
  }
  lines.push(`  revert: ${report.revert.status}: ${report.revert.summary}`);
  if (report.copy.kind === 'template' && !report.copy.dropped)
    lines.push(
      `  the copy could not be dropped: DROP DATABASE ${report.copy.database} (it holds a copy of the data)`,
    );
  lines.push(
    '  measured on a copy, alone: production traffic would add waits for its locks, and its queries would wait for these',
  );
  return lines;
}

function statementLines(statement: MeasuredStatement): string[] {
  const line = statement.line ? `:${statement.line}`.padEnd(5) : '     ';
  const retry = statement.attempt > 1 ? ` (attempt ${statement.attempt})` : '';
  const outcome = statement.error
    ? `failed [${statement.error.code ?? '?'}] ${statement.error.message}`
    : [
        `${statement.durationMs} ms`,
        statement.rows !== null && statement.rows !== undefined ? `${statement.rows} rows` : '',
        ...statement.rewrote.map(
          (rewrite) =>
            `rewrote ${rewrite.relation} (relfilenode ${rewrite.relfilenodeBefore} -> ${rewrite.relfilenodeAfter})`,
        ),
      ]
        .filter(Boolean)
        .join(', ');
  const lines = [`    ${line}${oneLine(statement.text, 70)}${retry}: ${outcome}`];
  for (const wait of statement.waits) {
    const on = wait.relation ? ` for ${wait.mode} on ${wait.relation}` : '';
    lines.push(
      `          waited ${wait.waitedMs} ms${on}, blocked by ${wait.blockedBy.join('; ') || 'a session gone by then'}`,
    );
  }
  if (statement.locks.length > 0) lines.push(`          locks: ${statement.locks.map(lockWords).join('; ')}`);
  return lines;
}

function lockWords(lock: TakenLock): string {
  return `${lock.mode} on ${lock.relation}${lock.heldMs === undefined ? ' (for the statement)' : ` held ${lock.heldMs} ms`}`;
}

function copyWords(report: RehearsalReport): string {
  return report.copy.kind === 'template'
    ? `a template copy of ${report.source}${report.copy.dropped ? ', dropped after' : ''}`
    : 'a copy restored by you, left at its starting revision';
}

function heads(revisions: readonly string[]): string {
  return revisions.length > 0 ? revisions.join(', ') : 'base';
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** check's report with the rehearsal's section, problems and measurements (`check --rehearse`). */
export async function withRehearsal(
  report: CheckReport,
  graph: RevisionGraph | undefined,
  options: CheckOptions & { readonly rehearse: { readonly url: string; readonly onCopy?: boolean } },
  fileOf: (source: string) => string,
): Promise<CheckReport> {
  const started = performance.now();
  const merged = (section: CheckSection, problems: readonly CheckProblem[], rehearsal?: RehearsalReport) => {
    const all = [...report.problems, ...problems];
    return {
      ...report,
      ok: all.length === 0,
      checks: { ...report.checks, rehearsal: section },
      problems: all,
      ...(rehearsal ? { rehearsal } : {}),
      timingsMs: { ...report.timingsMs, rehearsal: Math.round(performance.now() - started) },
    };
  };
  if (!graph) return merged({ status: 'skipped', summary: 'the migrations do not form a graph yet' }, []);
  let rehearsal: RehearsalReport;
  try {
    rehearsal = await rehearse({
      url: options.rehearse.url,
      onCopy: options.rehearse.onCopy,
      graph,
      history: options.history,
      args: options.args,
      actor: options.actor,
    });
  } catch (error) {
    if (!(error instanceof RdsMigrateError)) throw error;
    const problem: CheckProblem = { kind: 'rehearsal', rule: 'rehearsal-not-run', message: error.message };
    return merged({ status: 'problems', summary: 'could not rehearse' }, [problem]);
  }
  return merged(rehearsalSection(rehearsal), rehearsalProblems(rehearsal, fileOf), rehearsal);
}
