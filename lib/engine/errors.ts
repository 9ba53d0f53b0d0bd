/**
 * Typed errors of the engine. Each says what happened, to which revision, and what to do next,
 * so the CLI can print `message` as its one line and the handler can return it to CloudFormation.
 */

export class RdsMigrateError extends Error {
  override readonly name: string = 'RdsMigrateError';
}

/** A migration file that cannot be read as a migration. */
export class MigrationLoadError extends RdsMigrateError {
  override readonly name = 'MigrationLoadError';
  constructor(
    readonly source: string,
    problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

export type GraphProblem =
  | 'duplicate-revision'
  | 'replaced-still-present'
  | 'replaced-twice'
  | 'inside-squash'
  | 'unknown-parent'
  | 'cycle'
  | 'multiple-heads'
  | 'unknown-revision'
  | 'ambiguous-revision'
  | 'missing-down-step'
  | 'not-applied'
  | 'no-migrations'
  | 'unknown-dependency'
  | 'duplicate-label'
  | 'invalid-target';

/** The revision graph cannot answer what was asked: found before any SQL runs. */
export class GraphError extends RdsMigrateError {
  override readonly name = 'GraphError';
  constructor(
    readonly problem: GraphProblem,
    message: string,
    readonly revisions: readonly string[] = [],
  ) {
    super(message);
  }
}

export interface DriftedRevision {
  readonly revision: string;
  readonly source: string;
  readonly appliedChecksum: string;
  readonly currentChecksum: string;
}

/** Applied migrations whose files changed since they ran. */
export class DriftError extends RdsMigrateError {
  override readonly name = 'DriftError';
  constructor(readonly drifted: readonly DriftedRevision[]) {
    const first = drifted[0];
    const more = drifted.length > 1 ? ` (and ${drifted.length - 1} more)` : '';
    super(
      first
        ? `migration ${first.revision} (${first.source}) changed after it was applied${more}: ` +
            `applied checksum ${first.appliedChecksum}, file checksum ${first.currentChecksum}. ` +
            'Restore the file as it was applied and put the change in a new migration (rds-migrate create).'
        : 'drift',
    );
  }
}

/** Another runner holds the migration lock longer than we agreed to wait. */
export class LockTimeoutError extends RdsMigrateError {
  override readonly name = 'LockTimeoutError';
  constructor(
    readonly waitedMs: number,
    readonly holder?: string,
  ) {
    super(
      `another rds-migrate run holds the migration lock${holder ? ` (${holder})` : ''}; ` +
        `gave up after ${waitedMs} ms. Let it finish, then run again (or raise --lock-wait).`,
    );
  }
}

export interface PostgresErrorFields {
  readonly code?: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly position?: string;
}

/** A unit of a plan that committed: one transaction of migrations, or one migration outside one. */
export interface CommittedUnit {
  readonly unit: number;
  readonly revisions: readonly string[];
  readonly transactional: boolean;
}

export interface FailureContext {
  /** What to do, when something better than "fix the migration" can be said. */
  readonly hint?: string;
  /** The units of the plan that committed before the failing one. */
  readonly committed?: readonly CommittedUnit[];
  /** The failing unit's number, and how many the plan has. */
  readonly unit?: number;
  readonly units?: number;
}

/** What failed, and where it left the database; the {@link FailureContext} when more is known. */
export interface MigrationFailure extends FailureContext {
  readonly revision: string;
  readonly direction: 'up' | 'down';
  readonly source: string;
  readonly postgres: PostgresErrorFields;
  readonly databaseLeftAt: readonly string[];
}

/** A migration's SQL or code failed; the plan's transaction (if any) rolled back. */
export class MigrationFailed extends RdsMigrateError {
  override readonly name = 'MigrationFailed';
  readonly revision: string;
  readonly direction: 'up' | 'down';
  readonly source: string;
  readonly postgres: PostgresErrorFields;
  readonly databaseLeftAt: readonly string[];
  private readonly context: FailureContext;
  readonly committed: readonly CommittedUnit[];
  constructor(failure: MigrationFailure) {
    const { revision, direction, source, postgres, databaseLeftAt, ...context } = failure;
    const code = postgres.code ? ` [${postgres.code}]` : '';
    const at = databaseLeftAt.length > 0 ? databaseLeftAt.join(', ') : 'base';
    super(
      `migration ${revision} (${source}) failed ${direction}${code}: ${postgres.message}. ` +
        `${committedText(context)}The database is at ${at}; ${context.hint ?? 'fix the migration and run again.'}`,
    );
    this.revision = revision;
    this.direction = direction;
    this.source = source;
    this.postgres = postgres;
    this.databaseLeftAt = databaseLeftAt;
    this.context = context;
    this.committed = context.committed ?? [];
  }

  /** What to do, when more can be said than "fix the migration". */
  get hint(): string | undefined {
    return this.context.hint;
  }

  /** The same failure with a better word on what to do. */
  withHint(hint: string): MigrationFailed {
    const { revision, direction, source, postgres, databaseLeftAt } = this;
    return new MigrationFailed({
      revision,
      direction,
      source,
      postgres,
      databaseLeftAt,
      ...this.context,
      hint,
    });
  }
}

/** "Unit 1 (a, b) committed before unit 2 of 3, which rolled back. " and the like; '' for one unit. */
function committedText(context: FailureContext): string {
  const committed = context.committed ?? [];
  if (context.unit === undefined || context.units === undefined || context.units < 2) return '';
  const failing = `unit ${context.unit} of ${context.units}`;
  if (committed.length === 0) return `Nothing committed: ${failing} failed first. `;
  const list = committed
    .map(
      (unit) =>
        `${unit.unit} (${unit.revisions.join(', ')}${unit.transactional ? '' : ', outside a transaction'})`,
    )
    .join(', ');
  const noun = committed.length === 1 ? 'Unit' : 'Units';
  return `${noun} ${list} committed before ${failing} failed. `;
}

/** The connection to PostgreSQL dropped mid-run. */
export class ConnectionLostError extends RdsMigrateError {
  override readonly name = 'ConnectionLostError';
  constructor(
    readonly during: string,
    cause: string,
  ) {
    super(
      `lost the connection to PostgreSQL during ${during} (${cause}). What was not committed is rolled back ` +
        'by the server once it sees the session gone; run `rds-migrate status` to see the state, then run again.',
    );
  }
}

/**
 * A query went unanswered and the server did not answer a new connection either: the network
 * path or the server is gone without a word (no FIN, no RST), and the session was given up.
 */
export class ConnectionSilentError extends RdsMigrateError {
  override readonly name = 'ConnectionSilentError';
  constructor(
    readonly target: string,
    readonly silentMs: number,
    /** Why the new connection failed, e.g. `no answer within 30 s`. */
    readonly probe: string,
    /** The abandoned session's backend, as the server reported it at connect. */
    readonly pid: number | undefined,
  ) {
    const session = pid ? `the session (backend pid ${pid})` : 'the session';
    const end = pid ? `SELECT pg_terminate_backend(${pid})` : 'pg_terminate_backend(<its pid>)';
    super(
      `the connection to PostgreSQL at ${target} went silent: no reply for ${seconds(silentMs)}, and a new ` +
        `connection failed too (${probe}): the network path or the server is down (a failover?). The server keeps ` +
        `${session}, its locks and any open transaction until it notices the client gone (its TCP keepalives); ` +
        `if the next run waits for the migration lock, end it with ${end}`,
    );
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** The database's history cannot be used as it is. */
export class HistoryError extends RdsMigrateError {
  override readonly name = 'HistoryError';
}

/**
 * The history was upgraded by a newer release to a format this release does not write: it may
 * read the history and revert, but applying or stamping is left to the newer release.
 */
export class HistoryFormatError extends RdsMigrateError {
  override readonly name = 'HistoryFormatError';
  /** The history's schema. */
  readonly schema: string;
  /** The history's format, and the newest this release writes. */
  readonly found: number;
  readonly known: number;
  /** This release. */
  readonly release: string;
  /** The release that upgraded the history to `found`, when it says. */
  readonly upgradedBy: string | undefined;
  constructor(history: {
    readonly schema: string;
    readonly found: number;
    readonly known: number;
    readonly release: string;
    readonly upgradedBy: string | undefined;
  }) {
    const { schema, found, known, release, upgradedBy } = history;
    super(
      `the history in schema ${schema} has format ${found}${upgradedBy ? ` (upgraded by rds-migrate ${upgradedBy})` : ''}, ` +
        `newer than format ${known}, which this rds-migrate ${release} writes. This release may read that history and ` +
        'revert (down, a stack rollback), nothing else: apply and stamp with the newer release ' +
        `(npm i rds-migrate@${upgradedBy ?? 'latest'}, or deploy the bundle that brought it)`,
    );
    this.schema = schema;
    this.found = found;
    this.known = known;
    this.release = release;
    this.upgradedBy = upgradedBy;
  }
}

/** A usage error: bad arguments or configuration. */
export class UsageError extends RdsMigrateError {
  override readonly name = 'UsageError';
}

// ---------- reading PostgreSQL and driver errors ----------

/** Errors that mean the session is gone (terminated, server shutdown, network). */
const CONNECTION_LOSS_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  'ECONNRESET',
  'EPIPE',
]);

export function isConnectionLoss(error: unknown): boolean {
  if (error instanceof ConnectionSilentError) return true;
  const candidate = error as { code?: string; message?: string };
  if (candidate?.code && CONNECTION_LOSS_CODES.has(candidate.code)) return true;
  const message = candidate?.message ?? '';
  return /Connection terminated|Client has encountered a connection error|not queryable/.test(message);
}

/** `code: message` of a driver or server error, for messages. */
export function describeError(error: unknown): string {
  const candidate = error as { code?: string; message?: string };
  return candidate?.code ? `${candidate.code}: ${candidate.message}` : String(candidate?.message ?? error);
}

export function postgresFields(error: unknown): PostgresErrorFields {
  const candidate = error as {
    code?: string;
    message?: string;
    detail?: string;
    hint?: string;
    position?: string;
  };
  return {
    code: typeof candidate?.code === 'string' ? candidate.code : undefined,
    message: String(candidate?.message ?? error),
    detail: candidate?.detail,
    hint: candidate?.hint,
    position: candidate?.position,
  };
}
