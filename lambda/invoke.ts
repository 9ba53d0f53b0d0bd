/**
 * Manual invokes of the deployed function (`aws lambda invoke --payload '{"action":"status"}'`):
 * the read commands of the CLI, answered as JSON, and the mutating ones behind `"confirm": true`.
 */
import { assertAllowLinesReasoned } from '../lib/engine/allow-lines.ts';
import type { Database } from '../lib/engine/database.ts';
import { Deploys } from '../lib/engine/deploys.ts';
import { GraphError, UsageError } from '../lib/engine/errors.ts';
import {
  isManualAction,
  MANUAL_ACTIONS,
  type ManualAction,
  SNAPSHOT_TAG,
  WRITE_ACTIONS,
} from '../lib/engine/function-contract.ts';
import type { RevisionGraph } from '../lib/engine/graph.ts';
import type { LogRow } from '../lib/engine/history.ts';
import { BASE } from '../lib/engine/migration.ts';
import { type Intent, makePlan, migrate, type RunReport, stampTargets } from '../lib/engine/runner.ts';
import { SnapshotBusyError, type SnapshotInfo } from '../lib/engine/snapshot.ts';
import { readStatus, type Status } from '../lib/engine/status.ts';
import { resolveRevision } from '../lib/engine/target.ts';
import { assertHeadsKnown, FUNCTION_RECOVERY } from '../lib/engine/unknown-revisions.ts';
import {
  executionsOf,
  revertingRuns,
  type SteerResult,
  startInvokeRuns,
  steer,
} from './background-actions.ts';
import { isRecord } from './config.ts';
import { boundedString, shortText } from './input.ts';
import { MANAGED_TAG } from './rds-snapshots.ts';
import { type RestoreCommands, restoreCommands } from './restore.ts';
import { migrationLogger, type Runtime } from './runtime.ts';
import type { ExecutionStatus } from './step-functions.ts';

const RECENT = 10;

export interface StatusResult extends Status {
  readonly action: 'status';
  /** The bundle's single head, or null when it has several. */
  readonly head: string | null;
  readonly snapshots: readonly SnapshotInfo[];
  /** Why the snapshots could not be listed, when they could not. */
  readonly snapshotsError?: string;
  /** The latest deploys: where each started from, its snapshot policy and restore point. */
  readonly deploys: readonly DeploySummary[];
  /** The Step Functions execution of each background run that has one, as Step Functions reports it. */
  readonly backgroundExecutions: Readonly<Record<string, ExecutionStatus>>;
}

export interface DeploySummary {
  readonly requestId: string;
  readonly stack: string;
  readonly from: readonly string[];
  readonly target: string;
  readonly startedAt: Date;
  readonly finishedAt?: Date;
  readonly snapshotPolicy?: string;
  readonly snapshotReason?: string;
  readonly snapshotId?: string;
  readonly restorePoint?: Date;
  readonly backupRetentionDays?: number;
  /** The AWS CLI commands that bring the database back to where this deploy started. */
  readonly restore: RestoreCommands;
}

export interface HistoryResult {
  readonly action: 'history';
  readonly entries: readonly LogRow[];
}

export interface ShowResult {
  readonly action: 'show';
  readonly revision: string;
  readonly parents: readonly string[];
  readonly message: string;
  readonly source: string;
  readonly transactional: boolean;
  readonly checksum: string;
  readonly hasDownStep: boolean;
  readonly inBundle: boolean;
  readonly applied: boolean;
  readonly log: readonly LogRow[];
}

export interface HeadsResult {
  readonly action: 'heads';
  /** The bundle's heads. */
  readonly heads: readonly string[];
  /** The database's heads. */
  readonly current: readonly string[];
  /** The branch labels of the bundle's heads that have any (`label@head` names them). */
  readonly branchLabels: Readonly<Record<string, readonly string[]>>;
}

export interface RunResult extends RunReport {
  readonly action: 'up' | 'down' | 'stamp';
  /** The snapshot taken (or named with "snapshotId") before the run; absent with "snapshot": false or nothing to do. */
  readonly snapshotId?: string;
}

export type InvokeResult = StatusResult | HistoryResult | ShowResult | HeadsResult | RunResult | SteerResult;

export async function invoke(payload: Record<string, unknown>, runtime: Runtime): Promise<InvokeResult> {
  const action = parseAction(payload.action);
  const writes = (WRITE_ACTIONS as readonly string[]).includes(action);
  if (writes) assertWritesAllowed(action, runtime);
  if (writes && payload.confirm !== true) {
    throw new UsageError(
      `action '${action}' changes the database; add "confirm": true to the payload to run it ` +
        `(try {"action":"status"} first to see what it would do)`,
    );
  }
  const who = writes ? requester(payload, runtime) : undefined;
  runtime.logger.info('manual invoke', {
    action,
    revision: payload.revision === undefined ? undefined : shortText(payload.revision),
    ...(who ? { requestedBy: who } : {}),
  });
  switch (action) {
    case 'status':
      return status(runtime);
    case 'history':
      return history(runtime, payload.limit);
    case 'show':
      return show(runtime, requiredRevision(payload, 'show'));
    case 'heads':
      return heads(runtime);
    case 'up':
    case 'down':
    case 'stamp':
      return run(runtime, action, payload, who as string);
    case 'pause':
    case 'resume':
    case 'cancel':
      return steer(runtime, action, requiredRevision(payload, action), argsOf(payload.args), who as string);
  }
}

/**
 * Manual writes are the construct's opt-in (operations: { writes: true }), and come only through
 * the alias grantOperate grants: whoever may read the status cannot change the database.
 */
function assertWritesAllowed(action: ManualAction, runtime: Runtime): void {
  const { writes, operateAlias } = runtime.config.manual;
  if (!writes || !operateAlias) {
    throw new UsageError(
      `action '${action}' changes the database, and this function is read-only by hand (status, history, show, ` +
        'heads): turn manual writes on with operations: { writes: true } on the DatabaseMigrations construct, ' +
        'grant operators with grantOperate(), and invoke its operate alias; or run rds-migrate from a machine ' +
        'that reaches the database',
    );
  }
  if (runtime.invocation.qualifier !== operateAlias) {
    throw new UsageError(
      `action '${action}' changes the database: invoke the function's '${operateAlias}' alias ` +
        `(--function-name <function>:${operateAlias}), which grantOperate() grants; this call came through ` +
        `${runtime.invocation.qualifier ? `'${shortText(runtime.invocation.qualifier, 64)}'` : 'the unqualified function'}`,
    );
  }
}

/** Who asks for a manual write, for the history: the invocation's request id and the payload's "by". */
function requester(payload: Record<string, unknown>, runtime: Runtime): string {
  if (payload.by !== undefined && (typeof payload.by !== 'string' || !REQUESTER.test(payload.by))) {
    throw new UsageError(
      '"by" names who asks, for the history: up to 64 letters, digits and _.:/=+@- (an IAM user or role name, ' +
        'an email, a ticket)',
    );
  }
  const request = runtime.invocation.requestId ? `:${runtime.invocation.requestId}` : '';
  return `${runtime.actor}:invoke${request}${payload.by ? `:by=${payload.by}` : ''}`;
}

/** Characters RDS accepts in a tag value too (the snapshot is tagged with who asked). */
const REQUESTER = /^[A-Za-z0-9_.:/=+@-]{1,64}$/;

function parseAction(value: unknown): ManualAction {
  if (isManualAction(value)) return value;
  const what = value === undefined ? 'no action' : `unknown action '${shortText(value, 40)}'`;
  throw new UsageError(
    `${what}; valid actions: ${MANUAL_ACTIONS.join(', ')} (up, down, stamp, pause, resume and cancel need "confirm": true), ` +
      'e.g. {"action":"status"}',
  );
}

async function status(runtime: Runtime): Promise<StatusResult> {
  const graph = await runtime.bundle();
  const { current, deploys } = await runtime.withDatabase(async (db) => ({
    current: await readStatus(db, graph, runtime.history, RECENT),
    deploys: await recentDeploys(db, runtime),
  }));
  const head = graph.heads.length === 1 ? (graph.heads[0] ?? null) : null;
  const backgroundExecutions = await executionsOf(runtime, current.background);
  try {
    const snapshots = (await runtime.snapshots.list()).slice(0, RECENT);
    return { action: 'status', ...current, head, snapshots, deploys, backgroundExecutions };
  } catch (error) {
    // Status is what an operator looks at when something is wrong: answer without the snapshots.
    return {
      action: 'status',
      ...current,
      head,
      snapshots: [],
      snapshotsError: (error as Error).message,
      deploys,
      backgroundExecutions,
    };
  }
}

/** The latest deploys with their restore points; none on a history older than format 3. */
async function recentDeploys(db: Database, runtime: Runtime): Promise<DeploySummary[]> {
  const found = await db.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
    `${runtime.history.schema}.deploys`,
  ]);
  if (!found.rows[0]?.found) return [];
  const target = { kind: runtime.config.kind, identifier: runtime.config.identifier };
  return (await new Deploys(runtime.history).recent(db, 5)).map((deploy) => ({
    requestId: deploy.requestId,
    stack: deploy.stack,
    from: deploy.from,
    target: deploy.target,
    startedAt: deploy.startedAt,
    ...(deploy.finishedAt ? { finishedAt: deploy.finishedAt } : {}),
    ...(deploy.snapshotPolicy ? { snapshotPolicy: deploy.snapshotPolicy } : {}),
    ...(deploy.snapshotReason ? { snapshotReason: deploy.snapshotReason } : {}),
    ...(deploy.snapshotId && deploy.phase !== 'snapshot-pending' ? { snapshotId: deploy.snapshotId } : {}),
    ...(deploy.restorePointAt ? { restorePoint: deploy.restorePointAt } : {}),
    ...(deploy.backupRetentionDays === undefined ? {} : { backupRetentionDays: deploy.backupRetentionDays }),
    restore: restoreCommands(
      target,
      deploy.restorePointAt,
      deploy.backupRetentionDays,
      deploy.phase === 'snapshot-pending' ? undefined : deploy.snapshotId,
    ),
  }));
}

async function history(runtime: Runtime, limit: unknown): Promise<HistoryResult> {
  const count = limit === undefined ? 50 : Number(limit);
  if (!Number.isInteger(count) || count < 1 || count > 1000) {
    throw new UsageError('"limit" must be a whole number from 1 to 1000');
  }
  return { action: 'history', entries: await runtime.withDatabase((db) => runtime.history.log(db, count)) };
}

async function show(runtime: Runtime, spec: string): Promise<ShowResult> {
  const graph = await runtime.bundle();
  return runtime.withDatabase(async (db) => {
    const state = await runtime.history.read(db);
    const applied = state.heads.every((revision) => graph.has(revision))
      ? graph.ancestors(state.heads)
      : undefined;
    const log = async (revision: string) =>
      (await runtime.history.log(db, 1000)).filter((row) => row.revision === revision).slice(0, RECENT);
    const resolved = resolveInBundle(graph, spec, state.heads);
    if (resolved !== undefined) {
      const migration = graph.get(resolved);
      return {
        action: 'show',
        revision: migration.revision,
        parents: migration.downRevisions,
        message: migration.message,
        source: migration.source,
        transactional: migration.transaction,
        checksum: migration.checksum,
        hasDownStep: migration.down !== undefined,
        inBundle: true,
        applied: applied?.has(migration.revision) ?? state.heads.includes(migration.revision),
        log: await log(migration.revision),
      };
    }
    const recorded = (await runtime.history.recordedRevisions(db)).find((record) => record.revision === spec);
    if (!recorded) {
      throw new UsageError(
        `no migration has revision '${shortText(spec)}', in this function's bundle or in the history`,
      );
    }
    return {
      action: 'show',
      revision: recorded.revision,
      parents: recorded.parents,
      message: recorded.message,
      source: recorded.source,
      transactional: recorded.transactional,
      checksum: recorded.checksum,
      hasDownStep: recorded.downStep !== undefined,
      inBundle: false,
      applied: state.checksums.has(recorded.revision),
      log: await log(recorded.revision),
    };
  });
}

async function heads(runtime: Runtime): Promise<HeadsResult> {
  const graph = await runtime.bundle();
  const state = await runtime.withDatabase((db) => runtime.history.read(db));
  const branchLabels: Record<string, readonly string[]> = {};
  for (const revision of graph.heads) {
    const labels = graph.branchLabels(revision);
    if (labels.length > 0) branchLabels[revision] = labels;
  }
  return { action: 'heads', heads: graph.heads, current: state.heads, branchLabels };
}

async function run(
  runtime: Runtime,
  action: 'up' | 'down' | 'stamp',
  payload: Record<string, unknown>,
  who: string,
): Promise<RunResult> {
  const graph = await runtime.bundle();
  const revision = optionalRevision(payload);
  const intent: Intent =
    action === 'up'
      ? { action: 'upgrade', target: revision ?? 'head' }
      : action === 'down'
        ? { action: 'downgrade', target: revision }
        : { action: 'stamp', target: requiredRevision(payload, 'stamp'), purge: purgeOf(payload) };
  const args = argsOf(payload.args);
  // Unknown current revisions are named before a snapshot is taken, with the purge that recovers.
  if (!(intent.action === 'stamp' && intent.purge)) {
    const state = await runtime.withDatabase((db) => runtime.history.read(db));
    assertHeadsKnown(graph, state, FUNCTION_RECOVERY, stampTargets(intent));
  }
  // The guide's rule: a backup before every change to production. A stamp changes no data.
  const snapshotId =
    action === 'stamp' ? undefined : await snapshotBefore(runtime, graph, intent, payload, who);
  const report = await runtime.withDatabase(async (db) => {
    // A background run this revert goes past is stopped first.
    const reverted =
      action === 'down'
        ? makePlan(graph, (await runtime.history.read(db)).heads, intent).steps.map((step) => step.revision)
        : [];
    const done = await revertingRuns(runtime, db, reverted, who, () =>
      migrate(db, graph, intent, {
        history: runtime.history,
        actor: who,
        args,
        log: migrationLogger(runtime.logger),
        lockWaitMs: runtime.lockWaitMs(),
        deadline: runtime.deadline(),
        recovery: FUNCTION_RECOVERY,
      }),
    );
    if (done.backgroundStarted) await startInvokeRuns(runtime, db, done.backgroundStarted, done.runId, args);
    return done;
  });
  runtime.logger.info('manual run done', {
    action,
    status: report.status,
    from: report.from,
    to: report.to,
    snapshotId,
    requestedBy: who,
  });
  return { action, ...report, ...(snapshotId ? { snapshotId } : {}) };
}

/** How often a manual run looks at the snapshot it waits for. */
const SNAPSHOT_POLL_MS = 10_000;
/** What a manual run keeps of its invocation for the migration after the snapshot. */
const RUN_MARGIN_MS = 60_000;

/**
 * Takes a snapshot and waits for it, unless the payload says `"snapshot": false`, names one it
 * took before (`"snapshotId"`), or the plan has nothing to do. Returns the snapshot's id.
 */
async function snapshotBefore(
  runtime: Runtime,
  graph: RevisionGraph,
  intent: Intent,
  payload: Record<string, unknown>,
  who: string,
): Promise<string | undefined> {
  if (payload.snapshot !== undefined && typeof payload.snapshot !== 'boolean') {
    throw new UsageError('"snapshot" must be true or false (false: run without taking a snapshot first)');
  }
  if (payload.snapshot === false) {
    if (runtime.config.manual.withoutSnapshot) return undefined;
    throw new UsageError(
      '"snapshot": false is refused: a manual change takes a snapshot first, unless the construct allows ' +
        'otherwise (operations: { writes: true, allowWithoutSnapshot: true }); nothing was run',
    );
  }
  if (payload.snapshotId !== undefined) {
    const id = boundedString(payload.snapshotId, 255);
    if (!id) {
      throw new UsageError(
        '"snapshotId" must name a snapshot this function took, as an earlier answer gave it',
      );
    }
    await assertOwnSnapshot(runtime, id);
    await waitForSnapshot(runtime, id);
    return id;
  }
  const heads = (await runtime.withDatabase((db) => runtime.history.read(db))).heads;
  const plan = makePlan(graph, heads, intent);
  if (plan.steps.length === 0) return undefined;
  // Refused now, before a snapshot, as the run would refuse it.
  if (intent.action !== 'stamp') await assertAllowLinesReasoned(plan);
  const now = runtime.clock.now();
  const id = runtime.snapshots.nameAt(now);
  try {
    await runtime.snapshots.create({
      name: id,
      tags: {
        [SNAPSHOT_TAG.by]: who,
        [SNAPSHOT_TAG.from]: plan.from.join('+') || 'base',
        [SNAPSHOT_TAG.to]: plan.to.join('+') || 'base',
      },
    });
  } catch (error) {
    if (!(error instanceof SnapshotBusyError)) throw error;
    throw new UsageError(
      `no snapshot could be started (${error.busyWith}), so nothing was run; invoke again once the database is ` +
        'available, or add "snapshot": false to run without one',
    );
  }
  runtime.logger.info('manual run: snapshot requested', { snapshotId: id });
  await waitForSnapshot(runtime, id);
  return id;
}

/**
 * A snapshot named as a manual run's backup must be one this function made of this database:
 * listed for it (RDS lists a database's own snapshots) and carrying the tool's managed tag.
 */
async function assertOwnSnapshot(runtime: Runtime, id: string): Promise<void> {
  const found = (await runtime.snapshots.list()).find((snapshot) => snapshot.id === id);
  if (found?.tags[MANAGED_TAG] === 'true') return;
  throw new UsageError(
    `"snapshotId" ${shortText(id, 80)} is not a snapshot this function made of ${runtime.config.kind} ` +
      `${runtime.config.identifier} (${found ? `it lacks the ${MANAGED_TAG} tag` : 'none of that name is listed for it'}); ` +
      'nothing was run. Name one an earlier answer gave, or leave "snapshotId" out to take a new one',
  );
}

/** Waits until `id` is available, within the invocation's time; says what to do otherwise. */
async function waitForSnapshot(runtime: Runtime, id: string): Promise<void> {
  const deadline = runtime.deadline();
  for (;;) {
    const state = await runtime.snapshots.state(id);
    if (state === 'available') return;
    if (state === 'failed')
      throw new UsageError(`snapshot ${id} failed, so nothing was run; see the RDS events`);
    const left = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - Date.now();
    if (left < RUN_MARGIN_MS + SNAPSHOT_POLL_MS) {
      throw new UsageError(
        `snapshot ${id} is still being made and this invocation has no time left to wait, so nothing was run; ` +
          `invoke again with "snapshotId": "${id}" once it is available (it is then used, not taken again), ` +
          'or with "snapshot": false to run without one',
      );
    }
    runtime.logger.info('manual run: waiting for the snapshot', { snapshotId: id, state });
    await runtime.sleep(SNAPSHOT_POLL_MS);
  }
}

/**
 * The bundle's revision `spec` names (any target: `head-1`, `billing@head`, `-1` from the current
 * heads), or undefined when the bundle has none (the history may).
 */
function resolveInBundle(graph: RevisionGraph, spec: string, current: readonly string[]): string | undefined {
  try {
    const revision = resolveRevision(graph, spec, { current, direction: 'at' });
    if (revision === BASE) throw new UsageError(`'${shortText(spec)}' is base, not a revision; name one`);
    return revision;
  } catch (error) {
    if (error instanceof GraphError && error.problem === 'unknown-revision') return undefined;
    throw error;
  }
}

/** `"purge": true` on a stamp: forget the current revisions first, those the bundle lacks included. */
function purgeOf(payload: Record<string, unknown>): boolean {
  if (payload.purge === undefined) return false;
  if (typeof payload.purge !== 'boolean') {
    throw new UsageError('"purge" must be true or false (true: forget the current revisions, then stamp)');
  }
  return payload.purge;
}

function requiredRevision(payload: Record<string, unknown>, action: string): string {
  const revision = optionalRevision(payload);
  if (revision === undefined) throw new UsageError(`action '${action}' needs a "revision"`);
  return revision;
}

function optionalRevision(payload: Record<string, unknown>): string | undefined {
  if (payload.revision === undefined) return undefined;
  if (typeof payload.revision !== 'string' || payload.revision === '' || payload.revision.length > 200) {
    throw new UsageError(
      '"revision" must be a revision target as the CLI takes it: an id (or 4+ characters of one), a branch label, ' +
        'head, heads, base, <branch>@<target> (billing@head), or a step (-1, +2, head-1, base+2)',
    );
  }
  return payload.revision;
}

function argsOf(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (
    !isRecord(value) ||
    Object.keys(value).length > 100 ||
    !Object.entries(value).every(
      ([key, item]) => key.length <= 128 && typeof item === 'string' && item.length <= 4096,
    )
  ) {
    throw new UsageError(
      '"args" must be an object of strings, like the CLI\'s -x key=value (at most 100, keys up to 128 ' +
        'characters, values up to 4096)',
    );
  }
  return value as Record<string, string>;
}
