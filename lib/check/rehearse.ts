/**
 * `rds-migrate check --rehearse <database-url>`: the pending plan (what `up` would run there) run
 * by the real runner, with its lock_timeout and retries, on a COPY of a real database, then
 * reverted to where it started, reporting what was measured (rehearse-probe.ts): each statement's
 * time, rows, locks and how long they were held, lock waits, tables rewritten, the statement and
 * row that failed, and whether the down steps restored the schema.
 *
 * The copy: by default `CREATE DATABASE rehearse_… TEMPLATE <db>` on the same server, made from a
 * session on the maintenance database, dropped after (the source is never connected to, let alone
 * written). PostgreSQL copies a database only while no one else is connected to it; a live one
 * has its app connected, so there the copy is an RDS snapshot the user restored, and
 * `--rehearse-on-copy` says the URL is one: it is marked (a comment on the database), rehearsed in
 * place, and left at its starting revision. A marked database is rehearsed in place without the flag.
 */
import { connect } from '../engine/connection.ts';
import type { Database } from '../engine/database.ts';
import { MigrationFailed, RdsMigrateError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import { History } from '../engine/history.ts';
import type { MigrationLogger, MigrationTimeouts, Revision } from '../engine/migration.ts';
import type { Plan } from '../engine/plan.ts';
import { type Intent, makePlan, migrate } from '../engine/runner.ts';
import { compareObjects, currentFingerprint, type ObjectChanges } from '../engine/schema-fingerprint.ts';
import { openRehearsalCopy } from '../local/rehearsal-copy.ts';
import {
  type MeasuredStatement,
  ProbedDatabase,
  type Rewrite,
  relationFiles,
  rewritesBetween,
} from './rehearse-probe.ts';
import { type FailingRow, findFailingRow } from './rehearse-rows.ts';
import { LockWatcher } from './rehearse-watcher.ts';

interface RehearseOptions {
  /** The real database. Its copy is rehearsed on, unless it is one (`onCopy`, or marked). */
  readonly url: string;
  /** The URL is a copy the user made (a restored snapshot): rehearse on it in place. @default false */
  readonly onCopy?: boolean;
  readonly graph: RevisionGraph;
  /** @default new History() */
  readonly history?: History;
  readonly args?: Readonly<Record<string, string>>;
  /** @default 'rds-migrate check --rehearse' */
  readonly actor?: string;
  /** The runner's warnings as they happen (a lock timeout and its retry). @default none */
  readonly log?: MigrationLogger;
  /** As `up`'s: timeouts of migrations that set none, retries after a lock timeout. */
  readonly timeouts?: MigrationTimeouts;
  readonly lockRetries?: number;
}

/** A lock timeout the runner met and the retry it made, as it logged them. */
export interface LockRetry {
  readonly phase: 'up' | 'down';
  /** `unit 1 (3f2a…)` or `up 3f2a…`: what timed out. */
  readonly during: string;
  readonly retry: number;
  readonly of: number;
  readonly waitMs: number;
  readonly heldBy: string;
}

export interface RehearsalFailure {
  readonly phase: 'up' | 'down';
  readonly revision?: Revision;
  readonly source?: string;
  readonly line?: number;
  /** The statement that failed, as sent. */
  readonly statement?: string;
  readonly code?: string;
  readonly message: string;
  /**
   * PostgreSQL's DETAIL, which is often row data (`Key (email)=(ann@example.com) is duplicated.`):
   * shown in this local report only, never in annotations, logs of the deployed function or CloudFormation.
   */
  readonly detail?: string;
  readonly hint?: string;
  /** A row that breaks the statement, looked up on the copy when PostgreSQL names none (NOT NULL). */
  readonly row?: FailingRow;
}

export interface RevertCheck {
  /**
   * `restored`: the schema after the down steps is the one before the rehearsal (fingerprint);
   * `differs`: it is not (`changes` says where); `failed`: a down step failed; `not-needed`:
   * nothing was applied; `not-run`: the revert could not be planned (`summary` says why).
   */
  readonly status: 'restored' | 'differs' | 'failed' | 'not-needed' | 'not-run';
  readonly summary: string;
  readonly fingerprintBefore?: string;
  readonly fingerprintAfter?: string;
  readonly changes?: ObjectChanges;
}

export interface RehearsalReport {
  /** The database rehearsed, user@host:port/database: never a password. */
  readonly source: string;
  readonly copy: {
    readonly database: string;
    /** `template`: made here and dropped after; `restored`: the user's copy, rehearsed in place. */
    readonly kind: 'template' | 'restored';
    readonly dropped: boolean;
    /** Template copies of the same database that interrupted rehearsals left (no one connected), dropped first. */
    readonly leftoversDropped?: readonly string[];
  };
  readonly from: readonly Revision[];
  readonly to: readonly Revision[];
  readonly status: 'up-to-date' | 'passed' | 'failed';
  /** Steps of the plan, up (and down, to revert). */
  readonly steps: { readonly up: number; readonly down: number };
  readonly statements: readonly MeasuredStatement[];
  readonly lockRetries: readonly LockRetry[];
  /** Tables the up steps rewrote, before and after them. */
  readonly rewritten: readonly Rewrite[];
  readonly failure?: RehearsalFailure;
  readonly revert: RevertCheck;
  readonly durationMs: number;
}

export async function rehearse(options: RehearseOptions): Promise<RehearsalReport> {
  const started = performance.now();
  const copy = await openRehearsalCopy(options.url, options.onCopy === true);
  let measured: Measured;
  try {
    measured = await rehearseOn(copy.url, options);
  } catch (error) {
    await copy.release();
    throw error;
  }
  const dropped = await copy.release();
  return {
    source: copy.source,
    copy: {
      database: copy.database,
      kind: copy.kind,
      dropped,
      ...(copy.leftoversDropped.length > 0 ? { leftoversDropped: copy.leftoversDropped } : {}),
    },
    ...measured,
    durationMs: Math.round(performance.now() - started),
  };
}

type Measured = Omit<RehearsalReport, 'source' | 'copy' | 'durationMs'>;

/** The plan up, then down to where it started, on the copy at `url`, watched from a second session there. */
async function rehearseOn(url: string, options: RehearseOptions): Promise<Measured> {
  const history = options.history ?? new History();
  const connection = await connect({ connectionString: url }, 'rds-migrate rehearsal');
  // On the copy itself, so that the relations it sees waited for have their names.
  const watch = await connect({ connectionString: url }, 'rds-migrate rehearsal watcher').catch(
    async (error) => {
      await connection.close();
      throw error;
    },
  );
  try {
    const pid = Number(
      (await connection.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid,
    );
    const probe = new ProbedDatabase(connection.client, connection.db, history.schema);
    const watcher = new LockWatcher(watch.db, pid, history.schema);
    const lockRetries: LockRetry[] = [];
    let phase: 'up' | 'down' = 'up';
    const log: MigrationLogger = {
      info: (message, details) => options.log?.info(message, details),
      warn: (message, details) => {
        if (message.startsWith('lock timeout')) lockRetries.push(lockRetryOf(phase, details));
        options.log?.warn(message, details);
      },
    };
    const runOptions = {
      actor: options.actor ?? 'rds-migrate check --rehearse',
      args: options.args ?? {},
      history,
      log,
      requireAllowReasons: false,
      ...(options.timeouts ? { timeouts: options.timeouts } : {}),
      ...(options.lockRetries !== undefined ? { lockRetries: options.lockRetries } : {}),
    };
    const state = await history.read(connection.db);
    const from = state.heads;
    const upIntent: Intent = { action: 'upgrade', target: 'head' };
    const upPlan = makePlan(options.graph, from, upIntent);
    const before = await currentFingerprint(connection.db, history);
    const filesBefore = await relationFiles(connection.db, history.schema);
    let failure: RehearsalFailure | undefined;
    watcher.start();
    try {
      if (upPlan.steps.length === 0) {
        return upToDate(from, upPlan);
      }
      await probe.expect('up', upPlan.steps);
      failure = await runPhase(() => migrate(probe, options.graph, upIntent, runOptions), probe, 'up');
      if (failure) failure = { ...failure, ...(await rowOf(connection.db, probe, 'up')) };
      const rewritten = rewritesBetween(filesBefore, await relationFiles(connection.db, history.schema));
      phase = 'down';
      const revert = await revertTo(connection.db, probe, from, before, options.graph, history, runOptions);
      if (!failure && revert.failure)
        failure = { ...revert.failure, ...(await rowOf(connection.db, probe, 'down')) };
      return {
        from,
        to: upPlan.to,
        status:
          failure || (revert.check.status !== 'restored' && revert.check.status !== 'not-needed')
            ? 'failed'
            : 'passed',
        steps: { up: upPlan.steps.length, down: revert.steps },
        statements: probe.measured,
        lockRetries,
        rewritten,
        ...(failure ? { failure } : {}),
        revert: revert.check,
      };
    } finally {
      await watcher.stop();
      probe.finish(watcher);
    }
  } finally {
    await connection.close();
    await watch.close();
  }
}

function upToDate(from: readonly Revision[], plan: Plan): Measured {
  return {
    from,
    to: plan.to,
    status: 'up-to-date',
    steps: { up: 0, down: 0 },
    statements: [],
    lockRetries: [],
    rewritten: [],
    revert: { status: 'not-needed', summary: 'nothing pending: nothing applied, nothing to revert' },
  };
}

/** Runs one phase; a failure of its SQL becomes the rehearsal's finding, anything else is thrown. */
async function runPhase(
  run: () => Promise<unknown>,
  probe: ProbedDatabase,
  phase: 'up' | 'down',
): Promise<RehearsalFailure | undefined> {
  try {
    await run();
    return undefined;
  } catch (error) {
    if (!(error instanceof RdsMigrateError)) throw error;
    if (!(error instanceof MigrationFailed)) return { phase, message: error.message };
    const failed = [...probe.measured]
      .reverse()
      .find(
        (statement) => statement.error && statement.phase === phase && statement.revision === error.revision,
      );
    return {
      phase,
      revision: error.revision,
      source: error.source,
      ...(failed?.line ? { line: failed.line } : {}),
      ...(failed ? { statement: failed.text } : {}),
      ...(error.postgres.code ? { code: error.postgres.code } : {}),
      message: error.postgres.message,
      ...(error.postgres.detail ? { detail: error.postgres.detail } : {}),
      ...(error.hint ? { hint: error.hint } : {}),
    };
  }
}

/** The row behind a failure, from where its statement failed. */
async function rowOf(
  db: Database,
  probe: ProbedDatabase,
  phase: 'up' | 'down',
): Promise<{ row?: FailingRow }> {
  const failed = [...probe.measured]
    .reverse()
    .find((statement) => statement.error && statement.phase === phase);
  if (!failed?.error) return {};
  const row = await findFailingRow(db, failed.error).catch(() => undefined);
  return row ? { row } : {};
}

/** Down to the revision the rehearsal started at, measured, then the schema compared with the one before. */
async function revertTo(
  db: Database,
  probe: ProbedDatabase,
  from: readonly Revision[],
  before: { fingerprint: string; objects: Readonly<Record<string, string>> },
  graph: RevisionGraph,
  history: History,
  runOptions: Parameters<typeof migrate>[3],
): Promise<{ check: RevertCheck; steps: number; failure?: RehearsalFailure }> {
  const now = (await history.read(db)).heads;
  if (sameHeads(now, from)) {
    return { check: { status: 'not-needed', summary: 'nothing was applied: nothing to revert' }, steps: 0 };
  }
  if (from.length > 1) {
    return {
      check: {
        status: 'not-run',
        summary: `the database started at several heads (${from.join(', ')}): revert the copy by hand, or drop it`,
      },
      steps: 0,
    };
  }
  const intent: Intent = { action: 'sync', target: from[0] ?? 'base' };
  const plan = makePlan(graph, now, intent);
  await probe.expect('down', plan.steps);
  const failure = await runPhase(() => migrate(probe, graph, intent, runOptions), probe, 'down');
  const after = await currentFingerprint(db, history);
  if (failure) {
    return {
      check: {
        status: 'failed',
        summary: `a down step failed: ${failure.revision ?? ''} ${failure.message}`.trim(),
      },
      steps: plan.steps.length,
      failure,
    };
  }
  const changes = compareObjects(before.objects, after.objects);
  const restored = after.fingerprint === before.fingerprint;
  return {
    check: {
      status: restored ? 'restored' : 'differs',
      summary: restored
        ? `${plan.steps.length} down step${plan.steps.length === 1 ? '' : 's'} brought the schema back to the one before (fingerprint ${after.fingerprint.slice(0, 12)})`
        : `after ${plan.steps.length} down step${plan.steps.length === 1 ? '' : 's'} the schema is not the one before: ` +
          describeChanges(changes),
      fingerprintBefore: before.fingerprint,
      fingerprintAfter: after.fingerprint,
      ...(restored ? {} : { changes }),
    },
    steps: plan.steps.length,
  };
}

function describeChanges(changes: ObjectChanges): string {
  const parts = [
    changes.changed.length > 0 ? `changed ${changes.changed.join(', ')}` : '',
    changes.added.length > 0 ? `left behind ${changes.added.join(', ')}` : '',
    changes.removed.length > 0 ? `missing ${changes.removed.join(', ')}` : '',
  ].filter(Boolean);
  return parts.join('; ') || 'the catalog differs';
}

function sameHeads(a: readonly Revision[], b: readonly Revision[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

function lockRetryOf(phase: 'up' | 'down', details: Record<string, unknown> | undefined): LockRetry {
  return {
    phase,
    during: String(details?.during ?? ''),
    retry: Number(details?.retry ?? 0),
    of: Number(details?.of ?? 0),
    waitMs: Number(details?.waitMs ?? 0),
    heldBy: String(details?.heldBy ?? ''),
  };
}
