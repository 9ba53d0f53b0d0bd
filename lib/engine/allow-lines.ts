/**
 * Allow lines: `-- rds-migrate:allow <rule-id> <reason>` right above a statement that a check
 * rule flags, saying a person decided it is safe there and why. Autogenerate writes them without
 * the reason, so that nothing it wrote runs until someone decides; the linter (check) and the
 * runner (every `up`: the CLI, a deploy, a manual invoke) both hold to that.
 */
import { RdsMigrateError } from './errors.ts';
import type { Plan } from './plan.ts';
import { commentsOf } from './statements.ts';

export const ALLOW_DIRECTIVE = 'rds-migrate:allow';

/** The words of a comment that starts with the directive (or a misspelling of it). */
interface AllowWords {
  /** The first word, e.g. `rds-migrate:allow`, or `rds-migrate:allows` when misspelt. */
  readonly directive: string;
  readonly rule: string;
  readonly reason: string;
}

/** The allow words of one SQL comment token (`-- …` or a block comment); undefined for any other comment. */
export function allowWords(comment: string): AllowWords | undefined {
  const body = comment.startsWith('/*')
    ? comment.slice(2, comment.endsWith('*/') ? -2 : undefined)
    : comment.slice(2);
  const [directive = '', rule = '', ...reason] = body.trim().split(/\s+/);
  if (!directive.startsWith(ALLOW_DIRECTIVE)) return undefined;
  return { directive, rule, reason: reason.join(' ').trim() };
}

/** One allow line of a migration that gives no reason. */
interface UnreasonedAllowLine {
  readonly source: string;
  readonly revision: string;
  /** 1-based line in the file. */
  readonly line: number;
  readonly rule: string;
}

/**
 * A plan would apply a statement whose allow line still awaits a reason: nobody has decided it is
 * safe. Thrown before anything runs.
 */
export class AwaitingReasonError extends RdsMigrateError {
  override readonly name = 'AwaitingReasonError';
  constructor(readonly lines: readonly UnreasonedAllowLine[]) {
    const listed = lines
      .slice(0, 10)
      .map(
        (line) => `  ${line.source}:${line.line}: -- ${ALLOW_DIRECTIVE} ${line.rule || '<rule>'} (no reason)`,
      );
    const more = lines.length > 10 ? [`  and ${lines.length - 10} more`] : [];
    const count =
      lines.length === 1
        ? 'an allow line awaits its reason'
        : `${lines.length} allow lines await their reasons`;
    super(
      [
        `nothing was applied: ${count}, so nobody has decided that the statement below it is safe to run:`,
        ...listed,
        ...more,
        `Read what the rule warns of (rds-migrate check explains each one), then either write why it is safe ` +
          `after the rule id ("-- ${ALLOW_DIRECTIVE} <rule-id> <why it is safe here>") or change the statement; ` +
          'then run it again.',
      ].join('\n'),
    );
  }
}

/**
 * Refuses a plan with an up step whose SQL has an allow line without a reason. Down steps are not
 * held to it: the linter judges only up sections, and a stack rollback must never be refused.
 */
export async function assertAllowLinesReasoned(plan: Plan): Promise<void> {
  const unreasoned: UnreasonedAllowLine[] = [];
  for (const step of plan.steps) {
    const work = step.migration.up;
    if (step.direction !== 'up' || work?.kind !== 'sql' || !work.sql.includes(ALLOW_DIRECTIVE)) continue;
    for (const comment of await commentsOf(work.sql)) {
      const words = allowWords(comment.text);
      if (words?.reason !== '') continue;
      unreasoned.push({
        source: step.migration.source,
        revision: step.revision,
        line: work.line + comment.line - 1,
        rule: words.rule,
      });
    }
  }
  if (unreasoned.length > 0) throw new AwaitingReasonError(unreasoned);
}
