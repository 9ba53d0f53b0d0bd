/**
 * How `up` shows a background run it walks in-process, on stderr: a progress bar redrawn in
 * place on a terminal, plain lines elsewhere (CI logs, a pipe), one when a range finishes and at
 * most one every few seconds besides. Log lines written meanwhile go through the view, so they
 * never land on the bar's line: it is cleared, the line written, the bar drawn again below. On
 * Ctrl-C the bar's line is ended and the command that goes on from the checkpoints is printed.
 * The summary of each run goes to stdout with the report.
 */
import { describeProgress } from '../engine/background-gate.ts';
import type { LocalRunReport } from '../engine/background-local.ts';
import type { BackgroundProgress } from '../engine/background-runs.ts';
import { DEFAULT_HISTORY_SCHEMA } from '../engine/history.ts';
import { printable } from '../engine/printable.ts';
import { type InterruptSource, sayOnInterrupt } from './terminal.ts';

const BAR_WIDTH = 24;
const PLAIN_EVERY_MS = 5_000;
/** Back to the start of the line, and clear it. */
const CLEAR_LINE = '\r\u001b[K';

interface ProgressView {
  readonly show: (progress: BackgroundProgress) => void;
  /** Writes other output (a log line, ending in a newline) without garbling the bar. */
  readonly write: (text: string) => void;
  /** Ends the bar's line, if one is drawn. */
  readonly end: () => void;
  /** Ctrl-C: ends the bar's line and says how far the run got and how to go on. */
  readonly interrupted: () => void;
}

/** The command that goes on with the background run of `revision` from its checkpoints. */
type ResumeCommand = (revision: string) => string;

export function progressView(
  write: (text: string) => void,
  terminal: boolean,
  resume: ResumeCommand = (revision) => `rds-migrate up ${revision}`,
): ProgressView {
  return terminal ? barView(write, resume) : plainView(write, resume);
}

function barView(write: (text: string) => void, resume: ResumeCommand): ProgressView {
  let drawn: BackgroundProgress | undefined;
  let last: BackgroundProgress | undefined;
  const end = () => {
    if (drawn) write('\n');
    drawn = undefined;
  };
  return {
    show: (progress) => {
      write(`\r${bar(progress)}\u001b[K`);
      drawn = progress;
      last = progress;
    },
    write: (text) => {
      if (!drawn) return write(text);
      const line = text.endsWith('\n') ? text : `${text}\n`;
      write(`${CLEAR_LINE}${line}${bar(drawn)}\u001b[K`);
    },
    end,
    interrupted: () => {
      end();
      write(interruptedText(last, resume));
    },
  };
}

function plainView(write: (text: string) => void, resume: ResumeCommand): ProgressView {
  let lastRanges = -1;
  let lastAt = 0;
  let last: BackgroundProgress | undefined;
  return {
    show: (progress) => {
      last = progress;
      const now = Date.now();
      if (progress.rangesDone === lastRanges && now - lastAt < PLAIN_EVERY_MS) return;
      lastRanges = progress.rangesDone;
      lastAt = now;
      write(`info: background ${progress.revision}: ${describeProgress(progress)}\n`);
    },
    write,
    end: () => undefined,
    interrupted: () => write(interruptedText(last, resume)),
  };
}

function interruptedText(last: BackgroundProgress | undefined, resume: ResumeCommand): string {
  if (!last) {
    return 'interrupted before a background run showed progress: run the same command again to go on.\n';
  }
  return (
    `interrupted: background ${last.revision} stopped at ${describeProgress(last)}. Its batches in flight ` +
    `roll back; what committed is kept in its checkpoints. Go on from there with:\n  ${resume(last.revision)}\n`
  );
}

/** Until the returned function is called, Ctrl-C ends the bar's line and says how to go on (see sayOnInterrupt). */
export function sayHowToResumeOnInterrupt(view: ProgressView, source: InterruptSource = process): () => void {
  return sayOnInterrupt(() => view.interrupted(), source);
}

/** What `up` was given that decides what it walks and where: what a resume must repeat. */
interface ResumeOptions {
  readonly migrationsDir: string;
  readonly defaultMigrationsDir: string;
  readonly schema: string;
  readonly databaseUrl?: string;
  readonly x: readonly string[];
  readonly ranges?: number;
  readonly concurrency?: number;
}

/**
 * `rds-migrate up <revision>` with the options given: the revision is applied already, so this
 * applies nothing more and walks its run on from the checkpoints. A password in --database-url
 * is not repeated (it shows as `****`).
 */
export function resumeCommand(options: ResumeOptions): ResumeCommand {
  const words = ['rds-migrate', 'up'];
  const flags: string[] = [];
  if (options.migrationsDir !== options.defaultMigrationsDir) flags.push('-d', options.migrationsDir);
  if (options.schema !== DEFAULT_HISTORY_SCHEMA) flags.push('--schema', options.schema);
  if (options.databaseUrl) flags.push('--database-url', withoutPassword(options.databaseUrl));
  for (const pair of options.x) flags.push('-x', pair);
  if (options.ranges !== undefined) flags.push('--ranges', String(options.ranges));
  if (options.concurrency !== undefined) flags.push('--concurrency', String(options.concurrency));
  return (revision) => [...words, revision, ...flags].map(shellWord).join(' ');
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '****';
    return parsed.toString();
  } catch {
    return '<your --database-url>';
  }
}

/** A word as a POSIX shell reads it back: quoted when it holds anything but plain characters. */
function shellWord(word: string): string {
  const shown = printable(word);
  return /^[\w@%+=:,./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, "'\\''")}'`;
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
