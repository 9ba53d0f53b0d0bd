/**
 * Errors as CloudFormation shows them. The Provider framework sends the message plus the
 * function's stack trace (every line after the first) as the FAILED reason, and CloudFormation
 * drops a response body over 4096 bytes ("Response object is too long"), losing the message. So
 * a failure leaves the function as ONE line, the stack being just that line (nothing repeated),
 * with control characters and line breaks turned to spaces, and bounded in the bytes it takes
 * once JSON-escaped and UTF-8 encoded, which is how the body is counted.
 */
import { MigrationFailed, RdsMigrateError } from '../lib/engine/errors.ts';

export const MAX_REASON_CHARS = 1000;
/**
 * The message's share of the 4096-byte response: the framework adds a Logs line, and the body
 * the stack and request ids, the physical and logical ids (together well under 1 KiB).
 */
export const MAX_REASON_BYTES = 2048;

export class DeployFailed extends RdsMigrateError {
  override readonly name = 'DeployFailed';
  constructor(message: string) {
    super(boundedLine(shorten(oneLine(message), MAX_REASON_CHARS), MAX_REASON_BYTES));
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** The text on one line: line breaks and other control characters become single spaces. */
export function oneLine(text: string): string {
  // Stryker disable next-line Regex: equivalent, the replace after it collapses runs of spaces anyway
  const spaced = text.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ');
  return spaced.replace(/ {2,}/g, ' ').trim();
}

/** The bytes `text` takes inside a JSON document, UTF-8 encoded. */
export function jsonBytes(text: string): number {
  // Stryker disable next-line StringLiteral: equivalent, Buffer.byteLength counts UTF-8 when given no encoding
  return Buffer.byteLength(JSON.stringify(text), 'utf8') - 2;
}

/** `text` cut (on a character, with '...') to at most `maxBytes` JSON-escaped UTF-8 bytes. */
export function boundedLine(text: string, maxBytes: number): string {
  if (jsonBytes(text) <= maxBytes) return text;
  const characters = Array.from(text);
  let low = 0;
  let high = characters.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (jsonBytes(`${characters.slice(0, middle).join('')}...`) <= maxBytes) low = middle;
    else high = middle - 1;
  }
  return `${characters.slice(0, low).join('')}...`;
}

/** Where a deploy stood when it failed, for the message. */
interface FailureContext {
  readonly snapshotId?: string;
  readonly from?: readonly string[];
}

/** The one line CloudFormation shows for `error`. */
export function deployFailure(error: unknown, context: FailureContext = {}): DeployFailed {
  if (error instanceof DeployFailed) return error;
  if (error instanceof MigrationFailed) return new DeployFailed(migrationFailedMessage(error, context));
  const message = error instanceof Error ? error.message : String(error);
  const snapshot = context.snapshotId ? ` (snapshot ${context.snapshotId} was taken before this step)` : '';
  return new DeployFailed(`${message}${snapshot}`);
}

/**
 * Revision, PostgreSQL code and message, where the database is, and the snapshot, in that order.
 * CloudFormation's console and event history show the reason to anyone who can read the stack,
 * so no row data: no DETAIL, no quoted values (the function's log keeps both).
 */
function migrationFailedMessage(error: MigrationFailed, context: FailureContext): string {
  const code = error.postgres.code ? ` [${error.postgres.code}]` : '';
  const leftAt = error.databaseLeftAt.length > 0 ? error.databaseLeftAt.join(', ') : 'base';
  const from = context.from && context.from.length > 0 ? context.from.join(', ') : 'base';
  const where =
    context.from === undefined || leftAt === from
      ? `The database is unchanged, at ${leftAt}.`
      : `The database is at ${leftAt} (it was at ${from}: the steps before this one committed).`;
  const snapshot = context.snapshotId
    ? ` Snapshot ${context.snapshotId} holds the state before the deploy.`
    : ' No snapshot was taken (the snapshot policy took none).';
  const next = error.hint
    ? ` ${error.hint.charAt(0).toUpperCase()}${error.hint.slice(1)}`
    : ' Fix the migration and deploy again.';
  return (
    `migration ${error.revision} (${error.source}) failed ${error.direction}${code}: ` +
    `${shorten(withoutRowData(error.postgres.message, error.postgres.code), 300)}. ${where}${snapshot}${next}`
  );
}

/**
 * PostgreSQL's message without the values of rows. Its DETAIL (`Key (email)=(alice@...)`) never
 * reaches CloudFormation (the function's log has it); the message itself quotes a value for the
 * data exceptions of class 22, which a USING cast over real rows raises, at the end
 * (`invalid input syntax for type integer: "+1 555 0100"`) or within
 * (`value "99999999999" is out of range for type integer`). Everything from the first quote to
 * the last is left out: a value may itself hold quotes, and PostgreSQL does not escape them.
 */
export function withoutRowData(message: string, code: string | undefined): string {
  if (!code?.startsWith('22')) return message;
  return message.replace(/".*"/s, '(value left out: see the function log)');
}

/** An error for a manual invoke: its own type and message, without the stack. */
export function withoutStack(error: unknown): Error {
  if (!(error instanceof Error)) return new DeployFailed(String(error));
  error.stack = `${error.name}: ${boundedLine(shorten(oneLine(error.message), MAX_REASON_CHARS), MAX_REASON_BYTES)}`;
  return error;
}

/** `text` cut to `max` UTF-16 units with '...', never between the two halves of a character. */
function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 3);
  return `${/[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut}...`;
}
