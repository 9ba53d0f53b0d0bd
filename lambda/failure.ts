/**
 * Errors as CloudFormation shows them. The Provider framework sends the message plus the
 * function's stack trace as the FAILED reason, and CloudFormation drops a response body over
 * 4096 bytes ("Response object is too long"), losing the message. So a failure leaves the
 * function as one short line: the stack is the message, the message at most ~1000 characters.
 */
import { MigrationFailed, RdsMigrateError } from '../lib/engine/errors.ts';

export const MAX_REASON_CHARS = 1000;

export class DeployFailed extends RdsMigrateError {
  override readonly name = 'DeployFailed';
  constructor(message: string) {
    super(shorten(message, MAX_REASON_CHARS));
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** Where a deploy stood when it failed, for the message. */
export interface FailureContext {
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

/** Revision, PostgreSQL code and message, where the database is, and the snapshot, in that order. */
function migrationFailedMessage(error: MigrationFailed, context: FailureContext): string {
  const code = error.postgres.code ? ` [${error.postgres.code}]` : '';
  const detail = error.postgres.detail ? ` (${shorten(error.postgres.detail, 200)})` : '';
  const leftAt = error.databaseLeftAt.length > 0 ? error.databaseLeftAt.join(', ') : 'base';
  const from = context.from && context.from.length > 0 ? context.from.join(', ') : 'base';
  const where =
    context.from === undefined || leftAt === from
      ? `The database is unchanged, at ${leftAt}.`
      : `The database is at ${leftAt} (it was at ${from}: the steps before this one committed).`;
  const snapshot = context.snapshotId
    ? ` Snapshot ${context.snapshotId} holds the state before the deploy.`
    : ' No snapshot was taken (snapshots are disabled).';
  return (
    `migration ${error.revision} (${error.source}) failed ${error.direction}${code}: ` +
    `${shorten(error.postgres.message, 300)}${detail}. ${where}${snapshot} Fix the migration and deploy again.`
  );
}

/** An error for a manual invoke: its own type and message, without the stack. */
export function withoutStack(error: unknown): Error {
  if (!(error instanceof Error)) return new DeployFailed(String(error));
  error.stack = `${error.name}: ${shorten(error.message, MAX_REASON_CHARS)}`;
  return error;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
