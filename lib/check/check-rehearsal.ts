/**
 * What `check --rehearse` adds to check's report: its section, and its problems (a statement that
 * failed on the copy, down steps that did not restore the schema). The problems carry PostgreSQL's
 * message but never its DETAIL (row data), so `--format github` and `sarif`, which end up in CI
 * logs and code scanning, show no rows; the text block (rehearse-report.ts) and `--json`, read
 * where the rehearsal ran, carry the detail and the failing row.
 */
import { RdsMigrateError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { CheckOptions, CheckProblem, CheckReport, CheckSection } from './check-report.ts';
import { type RehearsalReport, rehearse } from './rehearse.ts';
import { copyWords, oneLine } from './rehearse-report.ts';

/** check's report with the rehearsal's section, problems and measurements (`check --rehearse`). */
export async function withRehearsal(
  report: CheckReport,
  graph: RevisionGraph | undefined,
  options: CheckOptions & { readonly rehearse: NonNullable<CheckOptions['rehearse']> },
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
      ...(options.rehearse.lockRetries === undefined ? {} : { lockRetries: options.rehearse.lockRetries }),
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

function rehearsalSection(report: RehearsalReport): CheckSection {
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

function rehearsalProblems(report: RehearsalReport, fileOf: (source: string) => string): CheckProblem[] {
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
