/**
 * Text for humans from the engine's result objects. Nothing here decides anything: each
 * function formats one kind of result; `--json` prints the objects themselves. What was read
 * from a database (revisions, actors, messages, notes) goes through `printable` first, so an
 * escape sequence in a row reaches the terminal as text (`\x1b[31m`), not as a command (JSON
 * escapes control characters itself).
 */

import { describeProgress } from '../engine/background-gate.ts';
import type { BackgroundProgress } from '../engine/background-runs.ts';
import { counted } from '../engine/counted.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { LogRow } from '../engine/history.ts';
import { CURRENT_FORMAT } from '../engine/history-format.ts';
import type { Migration, Revision } from '../engine/migration.ts';
import { printable, printableValues } from '../engine/printable.ts';
import type { RunReport } from '../engine/runner.ts';
import { describeSchemaDrift } from '../engine/schema-fingerprint.ts';
import type { Status } from '../engine/status.ts';
import { CLI_RECOVERY, FUNCTION_RECOVERY, type RecoveryWords } from '../engine/unknown-revisions.ts';

export function revisionList(revisions: readonly Revision[]): string {
  return revisions.length === 0 ? 'base' : revisions.map(printable).join(', ');
}

function describeRevision(graph: RevisionGraph, revision: Revision): string {
  if (!graph.has(revision)) return `${revision} (not in this folder)`;
  const labels = graph.branchLabels(revision);
  const branch = labels.length > 0 ? `; branch ${labels.join(', ')}` : '';
  return `${revision} (${graph.get(revision).message}${branch})`;
}

/**
 * `recovery` names the migrations and the purge command in the line about unknown revisions:
 * the CLI's folder, or the deployed function's bundle.
 */
export function formatStatus(
  read: Status,
  graph: RevisionGraph,
  target: string,
  recovery: RecoveryWords = CLI_RECOVERY,
): string {
  const status = printableValues(read);
  const lines = [
    `database   ${target}`,
    `current    ${status.current.length === 0 ? 'base (nothing applied)' : status.current.map((r) => describeRevision(graph, r)).join(', ')}`,
    `head       ${status.heads.length === 0 ? 'none (no migrations)' : status.heads.map((r) => describeRevision(graph, r)).join(', ')}`,
  ];
  if (status.heads.length > 1)
    lines.push('           several heads: join them with rds-migrate merge -m "merge heads"');
  if (status.unknown.length > 0) {
    const them = status.unknown.length === 1 ? 'it' : 'them';
    const recoverTo = status.recoverTo ?? [];
    lines.push(
      `unknown    ${status.unknown.join(', ')}: ${status.unknown.length === 1 ? 'a revision' : 'revisions'} ` +
        `no file in ${recovery.migrations} has; a deleted migration, or another branch's`,
      `           run from the code that has ${them}, or ${recovery.purgeCommand(recoverTo)} to forget ${them} ` +
        `and record ${revisionList(recoverTo)} (what the log says is applied here; the schema stays as it is)`,
    );
  }
  // A function deployed by an older release answers without historyFormat.
  const format = status.historyFormat ?? { version: CURRENT_FORMAT };
  if (format.version > CURRENT_FORMAT) {
    lines.push(
      `history    format ${format.version}${format.release ? ` (rds-migrate ${format.release})` : ''} is newer than ` +
        `this release's ${CURRENT_FORMAT}: it can read and revert, not apply; use the newer rds-migrate`,
    );
  } else if (format.version > 0 && format.version < CURRENT_FORMAT) {
    lines.push(
      `history    format ${format.version}; the next change upgrades it to format ${CURRENT_FORMAT}`,
    );
  }
  if (status.inProgress) {
    const p = status.inProgress;
    lines.push(
      `interrupted ${p.direction} of ${p.revision} (outside a transaction) started ${p.startedAt.toISOString()} by ${p.actor}; ` +
        'check it, then run the same command again',
    );
  }
  for (const batch of status.batches) {
    const total = batch.estimatedTotal === undefined ? '' : ` of ~${batch.estimatedTotal}`;
    const eta = batch.etaSeconds === undefined ? '' : `, ETA ${batch.etaSeconds} s`;
    lines.push(
      `batches    ${batch.revision} ${batch.name}: ${batch.rows}${total} rows in ${batch.batches} batches, ` +
        `${batch.rowsPerSecond} rows/s${eta} (last ${batch.updatedAt.toISOString()})`,
    );
  }
  // A function deployed by an older release answers without background runs.
  lines.push(...formatBackground(status.background ?? []));
  if (status.drift.length > 0) {
    for (const drift of status.drift) {
      lines.push(
        `drift      ${drift.revision} (${drift.source}) changed after it was applied: ${drift.appliedChecksum.slice(0, 12)} -> ${drift.currentChecksum.slice(0, 12)}`,
      );
    }
  }
  const schemaDrift = describeSchemaDrift(status.schemaDrift);
  if (schemaDrift) {
    lines.push(`schema     ${schemaDrift}`);
    if (status.schemaDrift?.state === 'changed')
      lines.push(
        '           rds-migrate diff shows the SQL that brings it back; or put the change in a migration',
      );
  }
  if (status.pending.length === 0) {
    lines.push(status.unknown.length > 0 ? 'pending    unknown' : 'pending    none: up to date');
  } else {
    lines.push(
      `pending    ${pendingCount(status.pending.length)} ${pendingHint(status.heads.length, graph)}:`,
    );
    for (const pending of status.pending) {
      const outside = pending.transactional ? '' : '  [outside a transaction]';
      lines.push(`  ${pending.revision}  ${pending.message}  ${pending.source}${outside}`);
    }
  }
  return lines.join('\n');
}

/** One line per background run: its state and how far it is; a completed one in short. */
function formatBackground(runs: readonly BackgroundProgress[]): string[] {
  return printableValues(runs).map((run) => {
    if (run.state === 'completed') {
      const when = run.completedAt ? ` ${new Date(run.completedAt).toISOString()}` : '';
      if (run.rangeCount === 0)
        return `background ${run.revision} completed${when}, in-process within the plan that needed it`;
      return `background ${run.revision} completed${when}: ${run.rows.toLocaleString('en-US')} rows over ${run.rangeCount} ranges`;
    }
    const what =
      {
        pending: 'pending (applied, not started)',
        running: 'running',
        paused: 'paused (resume to go on)',
        failed: 'failed (resume to go on from the checkpoints)',
        cancelled: 'cancelled (down reverts it)',
        reverted: 'reverted',
      }[run.state as string] ?? run.state;
    return `background ${run.revision} ${what}: ${describeProgress(run)}`;
  });
}

function pendingCount(count: number): string {
  return `${count} migration${count === 1 ? '' : 's'}`;
}

/** What applies the pending migrations: `up`, unless several heads make it refuse. */
function pendingHint(heads: number, graph: RevisionGraph): string {
  if (heads <= 1) return '(rds-migrate up applies them)';
  const label = graph.heads.map((head) => graph.branchLabels(head)[0]).find(Boolean);
  return (
    `on ${heads} heads (rds-migrate up refuses: join them with rds-migrate merge -m "merge heads", ` +
    `or apply every branch with rds-migrate up heads${label ? `, or one with rds-migrate up ${label}@head` : ''})`
  );
}

export function formatRun(run: RunReport): string {
  const report = printableValues(run);
  if (report.status === 'up-to-date') return `nothing to do: the database is at ${revisionList(report.to)}`;
  if (report.status === 'stamped') {
    const purged = report.purged ? `; purged ${report.purged.join(', ')}, which no file here has` : '';
    return `stamped: ${revisionList(report.from)} -> ${revisionList(report.to)} (no SQL ran${purged})`;
  }
  const lines = report.steps.map((step) => {
    const arrow = step.direction === 'up' ? 'applied ' : 'reverted';
    const outside = step.transactional ? '' : ' [outside a transaction]';
    return `${arrow} ${step.revision}  ${step.source}  ${step.durationMs.toFixed(1)} ms${outside}`;
  });
  if (report.resumed) lines.unshift(`resumed ${report.resumed}, which an earlier run left half-done`);
  if (report.status === 'stopped') {
    lines.push(
      `stopped at the deadline with ${counted(report.remaining, 'migration')} to go; run again to continue`,
    );
  }
  const units = new Set(report.steps.map((step) => step.unit)).size;
  lines.push(
    `${revisionList(report.from)} -> ${revisionList(report.to)}: ${report.steps.length} migration${report.steps.length === 1 ? '' : 's'} ` +
      `in ${units} transaction${units === 1 ? '' : 's'}, ${report.durationMs} ms`,
  );
  return lines.join('\n');
}

export interface HistoryEntry {
  readonly revision: Revision;
  readonly parents: readonly Revision[];
  readonly message: string;
  readonly source: string;
  readonly head: boolean;
  readonly current: boolean;
  readonly applied: boolean;
  readonly mergePoint: boolean;
  readonly branchPoint: boolean;
  /** The branch labels that apply to it (its own and those it inherits). */
  readonly branchLabels: readonly string[];
  /** Revisions of other branches it needs (depends_on). */
  readonly dependsOn: readonly Revision[];
}

export function historyEntries(graph: RevisionGraph, current: readonly Revision[]): HistoryEntry[] {
  const applied = graph.ancestors(current.filter((revision) => graph.has(revision)));
  return [...graph.order].reverse().map((revision) => {
    const migration = graph.get(revision);
    return {
      revision,
      parents: migration.downRevisions,
      message: migration.message,
      source: migration.source,
      head: graph.heads.includes(revision),
      current: current.includes(revision),
      applied: applied.has(revision),
      mergePoint: migration.downRevisions.length > 1,
      branchPoint: graph.children(revision).length > 1,
      branchLabels: graph.branchLabels(revision),
      dependsOn: graph.dependencies(revision),
    };
  });
}

export function formatHistory(
  entries: readonly HistoryEntry[],
  readLog: readonly LogRow[] | undefined,
  graph: RevisionGraph,
): string {
  const log = printableValues(readLog);
  const lines: string[] = [];
  for (const entry of entries) {
    const marks = [
      entry.head ? 'head' : '',
      entry.current ? 'current' : '',
      entry.mergePoint ? 'merge' : '',
      entry.branchPoint ? 'branchpoint' : '',
    ].filter(Boolean);
    const mark = marks.length > 0 ? ` (${marks.join(', ')})` : '';
    const applied = entry.applied ? '*' : ' ';
    // As Alembic prints them: dependencies after the parents, labels after the revision.
    const needs = entry.dependsOn.length > 0 ? ` (${entry.dependsOn.join(', ')})` : '';
    const labels = entry.branchLabels.length > 0 ? ` (${entry.branchLabels.join(', ')})` : '';
    lines.push(
      `${applied} ${entry.parents.join(', ') || '<base>'}${needs} -> ${entry.revision}${labels}${mark}, ${entry.message}`,
    );
    if (log) {
      const migration = graph.get(entry.revision);
      lines.push(
        `      file ${entry.source}  checksum ${migration.checksum.slice(0, 12)}  ${migration.transaction ? '' : 'transaction: false'}`.trimEnd(),
      );
      const last = log.find((row) => row.revision === entry.revision);
      if (last) {
        lines.push(
          `      last ${last.direction} ${last.startedAt.toISOString()} by ${last.actor} in ${last.durationMs.toFixed(1)} ms`,
        );
      }
    }
  }
  if (entries.length === 0) lines.push('no migrations yet: rds-migrate create "message" makes the first');
  else lines.push('(* applied)');
  if (log && log.length > 0) lines.push('', formatLog(log));
  return lines.join('\n');
}

export interface RevisionDetails {
  readonly revision: Revision;
  readonly message: string;
  readonly source: string;
  readonly parents: readonly Revision[];
  readonly children: readonly Revision[];
  /** Its own branch labels (targets: `<label>`, `<label>@head`). */
  readonly branchLabels: readonly string[];
  /** The labels it is on, its own or inherited. */
  readonly onBranches: readonly string[];
  readonly dependsOn: readonly Revision[];
  readonly transaction: boolean;
  readonly timeouts: Migration['timeouts'];
  readonly checksum: string;
  readonly irreversible?: string;
  readonly up: string;
  readonly down?: string;
  readonly applied: boolean;
  readonly log: readonly LogRow[];
}

export function revisionDetails(
  graph: RevisionGraph,
  revision: Revision,
  current: readonly Revision[],
  log: readonly LogRow[],
): RevisionDetails {
  const migration = graph.get(revision);
  const text = (step: Migration['up'] | undefined): string | undefined =>
    step === undefined ? undefined : step.kind === 'sql' ? step.sql : `(code in ${migration.source})`;
  return {
    revision,
    message: migration.message,
    source: migration.source,
    parents: migration.downRevisions,
    children: graph.children(revision),
    branchLabels: migration.branchLabels ?? [],
    onBranches: graph.branchLabels(revision),
    dependsOn: graph.dependencies(revision),
    transaction: migration.transaction,
    timeouts: migration.timeouts,
    checksum: migration.checksum,
    irreversible: migration.irreversible,
    up: text(migration.up) ?? '',
    down: text(migration.down),
    applied: graph.ancestors(current.filter((r) => graph.has(r))).has(revision),
    log: log.filter((row) => row.revision === revision),
  };
}

export function formatDetails(details: RevisionDetails): string {
  const lines = [
    `revision     ${details.revision}`,
    `message      ${details.message}`,
    `file         ${details.source}`,
    `parents      ${details.parents.join(', ') || '<base>'}`,
    `children     ${details.children.join(', ') || '<none: a head>'}`,
  ];
  if (details.dependsOn.length > 0) lines.push(`depends on   ${details.dependsOn.join(', ')}`);
  if (details.onBranches.length > 0) {
    const own = details.branchLabels.length > 0 ? ` (labelled here: ${details.branchLabels.join(', ')})` : '';
    lines.push(`branch       ${details.onBranches.join(', ')}${own}`);
  }
  lines.push(
    `transaction  ${details.transaction}`,
    `timeouts     lock ${details.timeouts.lockTimeout ?? 'default'}, statement ${details.timeouts.statementTimeout ?? 'default'}`,
    `checksum     ${details.checksum}`,
    `applied      ${details.applied ? 'yes' : 'no'}`,
  );
  if (details.irreversible) lines.push(`irreversible ${details.irreversible}`);
  lines.push('', '-- up', details.up || '(empty)', '', '-- down', details.down ?? '(none)');
  if (details.log.length > 0) {
    lines.push('', 'log:');
    for (const row of printableValues(details.log)) {
      lines.push(
        `  ${row.startedAt.toISOString()} ${row.direction} by ${row.actor} in ${row.durationMs.toFixed(1)} ms`,
      );
    }
  }
  return lines.join('\n');
}

/** The deployed function's answer to `rds-migrate invoke`, as the local commands print theirs. */
export function formatRemote(
  received: Record<string, unknown>,
  graph: RevisionGraph,
  functionName: string,
): string {
  const answer = printableValues(received);
  switch (answer.action) {
    case 'status': {
      const status = answer as unknown as Status & {
        snapshots?: { id: string; createdAt: Date; state: string }[];
      };
      const lines = [formatStatus(status, graph, `through ${functionName}`, FUNCTION_RECOVERY)];
      if (typeof answer.snapshotsError === 'string')
        lines.push(`snapshots  cannot be listed: ${answer.snapshotsError}`);
      for (const snapshot of status.snapshots ?? []) {
        lines.push(`snapshot   ${snapshot.id}  ${snapshot.createdAt.toISOString()}  ${snapshot.state}`);
      }
      lines.push(...formatDeploys((answer.deploys as RemoteDeploy[] | undefined) ?? []));
      const executions = (answer.backgroundExecutions ?? {}) as Record<
        string,
        { status: string; error?: string }
      >;
      for (const [revision, execution] of Object.entries(executions)) {
        lines.push(
          `execution  ${revision}  ${execution.status}${execution.error ? ` (${execution.error})` : ''}`,
        );
      }
      return lines.join('\n');
    }
    case 'history':
      return formatLog((answer.entries as LogRow[] | undefined) ?? []);
    case 'heads':
      return [
        `bundle heads    ${revisionList((answer.heads as string[] | undefined) ?? [])}`,
        `database heads  ${revisionList((answer.current as string[] | undefined) ?? [])}`,
      ].join('\n');
    case 'show':
      return [
        `revision     ${answer.revision}`,
        `message      ${answer.message}`,
        `file         ${answer.source}${answer.inBundle ? '' : ' (known only from the history)'}`,
        `parents      ${((answer.parents as string[] | undefined) ?? []).join(', ') || '<base>'}`,
        `transaction  ${answer.transactional}`,
        `checksum     ${answer.checksum}`,
        `down step    ${answer.hasDownStep ? 'yes' : 'no'}`,
        `applied      ${answer.applied ? 'yes' : 'no'}`,
        formatLog((answer.log as LogRow[] | undefined) ?? []),
      ].join('\n');
    case 'pause':
    case 'resume':
    case 'cancel':
      return `background ${answer.revision} is ${answer.state}${typeof answer.execution === 'string' ? ` (execution ${answer.execution})` : ''}`;
    case 'up':
    case 'down':
    case 'stamp': {
      const run = formatRun(answer as unknown as RunReport);
      return typeof answer.snapshotId === 'string'
        ? `snapshot   ${answer.snapshotId} taken first\n${run}`
        : run;
    }
    default:
      return JSON.stringify(answer, null, 2);
  }
}

/** A deploy as the function's status answer lists it (dates already revived from the JSON). */
interface RemoteDeploy {
  readonly from: readonly string[];
  readonly target: string;
  readonly startedAt: Date | string;
  readonly snapshotPolicy?: string;
  readonly snapshotReason?: string;
  readonly snapshotId?: string;
  readonly restorePoint?: Date | string;
  readonly backupRetentionDays?: number;
  readonly restore?: {
    readonly pointInTime?: string;
    readonly fromSnapshot?: string;
    readonly afterwards?: string;
  };
}

/** The latest deploys, and for the newest the commands that restore where it started from. */
function formatDeploys(deploys: readonly RemoteDeploy[]): string[] {
  const iso = (value: Date | string | undefined) =>
    value === undefined ? undefined : new Date(value).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const lines = deploys.map((deploy) => {
    const from = deploy.from.length > 0 ? deploy.from.join('+') : 'base';
    const policy = deploy.snapshotPolicy
      ? `  snapshot policy ${deploy.snapshotPolicy}${deploy.snapshotReason ? ` (${deploy.snapshotReason})` : ''}`
      : '';
    const snapshot = deploy.snapshotId ? `  snapshot ${deploy.snapshotId}` : '';
    const point = deploy.restorePoint ? `  restore point ${iso(deploy.restorePoint)}` : '';
    const backups =
      deploy.backupRetentionDays === undefined
        ? ''
        : deploy.backupRetentionDays === 0
          ? '  (automated backups off: no point-in-time recovery)'
          : `  (backups kept ${deploy.backupRetentionDays} days)`;
    return `deploy     ${iso(deploy.startedAt)}  ${from} -> ${deploy.target}${policy}${snapshot}${point}${backups}`;
  });
  const restore = deploys[0]?.restore;
  if (restore?.pointInTime) lines.push(`restore    ${restore.pointInTime}`);
  if (restore?.fromSnapshot) lines.push(`restore    ${restore.fromSnapshot}`);
  if (restore?.afterwards && (restore.pointInTime || restore.fromSnapshot))
    lines.push(`           then ${restore.afterwards}`);
  return lines;
}

function formatLog(rows: readonly LogRow[]): string {
  if (rows.length === 0) return 'log: empty';
  return [
    'log (newest first):',
    ...printableValues(rows).map(
      (row) =>
        `  #${row.id} ${row.startedAt.toISOString()} ${row.direction.padEnd(10)} ${row.revision}  ${row.durationMs.toFixed(1)} ms  ${row.actor}${row.note ? `  (${row.note})` : ''}`,
    ),
  ].join('\n');
}
