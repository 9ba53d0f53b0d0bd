/**
 * The rehearsal's measurements as text, under check's sections (`check --rehearse`): each statement
 * with its time, rows, locks, waits and rewrites, the lock retries, the failure with PostgreSQL's
 * DETAIL and the failing row (read where the rehearsal ran: never in the problems, which CI
 * annotations and SARIF show), and the revert.
 */
import type { RehearsalReport } from './rehearse.ts';
import type { MeasuredStatement, TakenLock } from './rehearse-probe.ts';

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
  if (report.copy.leftoversDropped)
    lines.push(`  dropped first, left by interrupted rehearsals: ${report.copy.leftoversDropped.join(', ')}`);
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

/** `a template copy of …, dropped after`, or the user's copy. */
export function copyWords(report: RehearsalReport): string {
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

/** `text` on one line, at most `max` characters. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}
