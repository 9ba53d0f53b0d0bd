/**
 * How `up` shows a background run it walks in-process, on stderr: a progress bar redrawn in
 * place on a terminal, plain lines elsewhere (CI logs, a pipe), one when a range finishes and at
 * most one every few seconds besides. The summary of each run goes to stdout with the report.
 */
import { describeProgress } from '../engine/background-gate.ts';
import type { LocalRunReport } from '../engine/background-local.ts';
import type { BackgroundProgress } from '../engine/background-runs.ts';

const BAR_WIDTH = 24;
const PLAIN_EVERY_MS = 5_000;

export interface ProgressView {
  readonly show: (progress: BackgroundProgress) => void;
  /** Ends the bar's line, if one is drawn. */
  readonly end: () => void;
}

export function progressView(write: (text: string) => void, terminal: boolean): ProgressView {
  return terminal ? barView(write) : plainView(write);
}

function barView(write: (text: string) => void): ProgressView {
  let drawn = false;
  return {
    show: (progress) => {
      write(`\r${bar(progress)}\u001b[K`);
      drawn = true;
    },
    end: () => {
      if (drawn) write('\n');
      drawn = false;
    },
  };
}

function plainView(write: (text: string) => void): ProgressView {
  let lastRanges = -1;
  let lastAt = 0;
  return {
    show: (progress) => {
      const now = Date.now();
      if (progress.rangesDone === lastRanges && now - lastAt < PLAIN_EVERY_MS) return;
      lastRanges = progress.rangesDone;
      lastAt = now;
      write(`info: background ${progress.revision}: ${describeProgress(progress)}\n`);
    },
    end: () => undefined,
  };
}

/** `bf02e0a1b2c3 [##########--------------]  42% 84,000/~200,000 rows  3/8 ranges  61,000 rows/s  ETA 2 s` */
export function bar(progress: BackgroundProgress): string {
  const total = progress.estimatedTotal;
  const fraction =
    progress.state === 'completed' ? 1 : total ? Math.min(1, progress.rows / Math.max(1, total)) : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const rows = `${progress.rows.toLocaleString('en-US')}${total ? `/~${total.toLocaleString('en-US')}` : ''} rows`;
  const eta = progress.etaSeconds === undefined ? '' : `  ETA ${progress.etaSeconds} s`;
  return (
    `${progress.revision} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ` +
    `${rows}  ${progress.rangesDone}/${progress.rangeCount} ranges  ${progress.rowsPerSecond.toLocaleString('en-US')} rows/s${eta}`
  );
}

/** One line per run `up` walked: done, or why not. */
export function formatBackgroundRuns(reports: readonly LocalRunReport[]): string {
  return reports
    .map((report) => {
      const rate = report.durationMs > 0 ? Math.round((report.rows * 1000) / report.durationMs) : 0;
      const what =
        `background ${report.revision}: ${report.rows.toLocaleString('en-US')} rows over ${report.ranges} ranges ` +
        `in ${(report.durationMs / 1000).toFixed(1)} s (${rate.toLocaleString('en-US')} rows/s)`;
      return report.completed
        ? `${what}, completed`
        : `${what}, not completed: ${report.reason ?? 'stopped'}`;
    })
    .join('\n');
}
