/**
 * What migrations (`ctx.log`) and the runner log during `up` and `down`, as readable lines on
 * stderr: stdout keeps the run report, or its JSON. Warnings always print; `--quiet` drops the
 * info lines.
 */
import type { MigrationLogger } from '../engine/migration.ts';
import { printable } from '../engine/printable.ts';

interface RunLogOptions {
  /** Drop info lines; warnings still print. @default false */
  readonly quiet?: boolean;
}

export function stderrLogger(write: (text: string) => void, options: RunLogOptions = {}): MigrationLogger {
  return {
    info: (message, details) => {
      if (options.quiet || isStepResult(message, details)) return;
      write(logLine('info', message, details));
    },
    warn: (message, details) => write(logLine('warning', message, details)),
  };
}

/** The runner logs 'migrated' with each step's result; the run report already prints every step. */
function isStepResult(message: string, details: Record<string, unknown> | undefined): boolean {
  return message === 'migrated' && details !== undefined && 'revision' in details && 'unit' in details;
}

/** `info: message (key value, key value)`, leaving out details that have no value. */
function logLine(level: 'info' | 'warning', message: string, details?: Record<string, unknown>): string {
  const shown = Object.entries(details ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key} ${detailText(value)}`);
  return `${level}: ${message}${shown.length > 0 ? ` (${shown.join(', ')})` : ''}\n`;
}

/** A detail may be a value read from a database (a revision, an actor, a key): printed escaped. */
function detailText(value: unknown): string {
  if (typeof value === 'string') return printable(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
