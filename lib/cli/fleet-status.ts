/**
 * `rds-migrate fleet status`: where every database of a fleet stands against one migrations
 * folder, read locally over their connection strings, as data: per target its revision, what is
 * pending (behind), revisions the folder does not know (ahead), drift, the last run and the
 * background runs; a target that cannot be read is unreachable, with the reason, and the others
 * are still read. The same summary the fleet function's status invoke gives, without AWS.
 */
import { readFile } from 'node:fs/promises';
import { mapConcurrently } from '../engine/concurrency.ts';
import { connect, describeTarget } from '../engine/connection.ts';
import { RdsMigrateError, UsageError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { History } from '../engine/history.ts';
import type { Revision } from '../engine/migration.ts';
import { printable } from '../engine/printable.ts';
import { readStatus } from '../engine/status.ts';

/** A database of the fleet: its name in the report, and how to reach it. */
interface FleetDatabase {
  readonly name: string;
  readonly url: string;
}

export interface FleetTargetStatus {
  readonly name: string;
  /** user@host:port/database: never the password. */
  readonly database: string;
  /** The target's current revisions (empty at base); absent when it could not be read. */
  readonly current?: readonly Revision[];
  readonly upToDate?: boolean;
  /** Migrations of the folder not applied here: the target is behind. */
  readonly pending?: readonly Revision[];
  /** Applied revisions the folder does not know: the target is ahead (or on another branch). */
  readonly ahead?: readonly Revision[];
  /** Applied migrations whose files changed since they ran. */
  readonly drift?: readonly Revision[];
  /** The schema against the fingerprint of the last run: 'changed' when edited outside migrations. */
  readonly schemaDrift?: string;
  /** The newest row of the run log. */
  readonly lastRun?: {
    readonly revision: Revision;
    readonly direction: string;
    readonly at: string;
    readonly actor: string;
  };
  /** Background migrations not completed (running, paused or failed). */
  readonly background?: number;
  /** Why the target could not be read: it is unreachable. */
  readonly error?: string;
}

export interface FleetStatusReport {
  /** The folder's heads: where every target should be. */
  readonly heads: readonly Revision[];
  readonly targets: readonly FleetTargetStatus[];
  readonly upToDate: readonly string[];
  readonly behind: readonly string[];
  readonly ahead: readonly string[];
  readonly drifted: readonly string[];
  readonly unreachable: readonly string[];
}

/** A fleet with a drifted or unreachable target: the command prints the report, then fails. */
export class FleetNeedsAttention extends RdsMigrateError {
  override readonly name = 'FleetNeedsAttention';
}

export async function readFleetStatus(
  fleet: readonly FleetDatabase[],
  graph: RevisionGraph,
  history: History,
  concurrency: number,
): Promise<FleetStatusReport> {
  const targets = await mapConcurrently(fleet, concurrency, (target) => targetStatus(target, graph, history));
  const named = (keep: (target: FleetTargetStatus) => boolean) =>
    targets.filter(keep).map((target) => target.name);
  return {
    heads: graph.heads,
    targets,
    upToDate: named((target) => target.upToDate === true),
    behind: named((target) => (target.pending?.length ?? 0) > 0),
    ahead: named((target) => (target.ahead?.length ?? 0) > 0),
    drifted: named((target) => (target.drift?.length ?? 0) > 0 || target.schemaDrift === 'changed'),
    unreachable: named((target) => target.error !== undefined),
  };
}

async function targetStatus(
  target: FleetDatabase,
  graph: RevisionGraph,
  history: History,
): Promise<FleetTargetStatus> {
  const database = describeTarget({ connectionString: target.url });
  let connection: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    connection = await connect({ connectionString: target.url }, 'rds-migrate fleet status');
    const status = await readStatus(connection.db, graph, history, 1);
    const last = status.recent[0];
    return {
      name: target.name,
      database,
      current: status.current,
      upToDate: status.upToDate,
      pending: status.pending.map((step) => step.revision),
      ahead: status.unknown,
      drift: status.drift.map((drifted) => drifted.revision),
      schemaDrift: status.schemaDrift.state,
      ...(last
        ? {
            lastRun: {
              revision: last.revision,
              direction: last.direction,
              at: last.startedAt.toISOString(),
              actor: last.actor,
            },
          }
        : {}),
      background: status.background.filter((run) => run.state !== 'completed').length,
    };
  } catch (error) {
    // connect() names where it tried but never the password; a query's error carries none.
    return { name: target.name, database, error: (error as Error)?.message ?? String(error) };
  } finally {
    await connection?.close();
  }
}

/** The problems that fail the command (drift, unreachable), as one line; undefined when none. */
export function fleetProblems(report: FleetStatusReport): string | undefined {
  const parts: string[] = [];
  if (report.drifted.length > 0) parts.push(`drifted: ${report.drifted.join(', ')}`);
  if (report.unreachable.length > 0) parts.push(`unreachable: ${report.unreachable.join(', ')}`);
  if (parts.length === 0) return undefined;
  return `${report.drifted.length + report.unreachable.length} of ${report.targets.length} targets need attention (${parts.join('; ')}): see their rows above`;
}

export function formatFleetStatus(report: FleetStatusReport): string {
  const head = report.heads.join('+') || 'base';
  // Each cell escaped on its own: a name or an error may hold what a terminal would act on.
  const rows = report.targets.map((target) =>
    [target.name, revisionOf(target), stateOf(target, head)].map(printable),
  );
  const width = (column: number) =>
    Math.max(...[['TARGET', 'REVISION'], ...rows].map((row) => row[column]?.length ?? 0));
  const line = (cells: readonly string[]) =>
    `${(cells[0] ?? '').padEnd(width(0))}  ${(cells[1] ?? '').padEnd(width(1))}  ${cells[2] ?? ''}`.trimEnd();
  const list = (names: readonly string[]) => (names.length === 0 ? 'none' : printable(names.join(', ')));
  return [
    `fleet of ${report.targets.length} target${report.targets.length === 1 ? '' : 's'}, head ${head}`,
    '',
    line(['TARGET', 'REVISION', 'STATE']),
    ...rows.map(line),
    '',
    `up to date   ${report.upToDate.length} of ${report.targets.length}`,
    `behind       ${list(report.behind)}`,
    `ahead        ${list(report.ahead)}`,
    `drifted      ${list(report.drifted)}`,
    `unreachable  ${list(report.unreachable)}`,
  ].join('\n');
}

function revisionOf(target: FleetTargetStatus): string {
  if (target.current === undefined) return '-';
  return target.current.join('+') || 'base';
}

function stateOf(target: FleetTargetStatus, head: string): string {
  if (target.error !== undefined) {
    const where = target.error.includes(target.database) ? '' : ` (${target.database})`;
    return `unreachable${where}: ${target.error}`;
  }
  const states: string[] = [];
  if ((target.ahead?.length ?? 0) > 0)
    states.push(
      `ahead: ${target.ahead?.join(', ')} not in this folder (deployed from newer code, or another branch)`,
    );
  const pending = target.pending ?? [];
  if (pending.length > 0)
    states.push(
      `behind: ${pending.length} pending to ${head} (${pending.slice(0, 3).join(', ')}${pending.length > 3 ? ', ...' : ''})`,
    );
  if ((target.drift?.length ?? 0) > 0)
    states.push(
      `drift: ${target.drift?.join(', ')} changed since applied (run rds-migrate status against it)`,
    );
  if (target.schemaDrift === 'changed') states.push('schema changed outside migrations (rds-migrate diff)');
  if ((target.background ?? 0) > 0) states.push(`${target.background} background run(s) not completed`);
  return states.length > 0 ? states.join('; ') : 'up to date';
}

/** The fleet from the command line: URLs or name=URL words, then the lines of a targets file. */
export async function fleetDatabases(
  words: readonly string[],
  file: string | undefined,
  command = 'fleet status',
): Promise<FleetDatabase[]> {
  const given = words.map((word, index) => databaseOf(word, `argument ${index + 1}`));
  const listed = file ? await targetsFile(file) : [];
  const fleet = [...given, ...listed];
  if (fleet.length === 0) {
    throw new UsageError(
      `name the fleet: connection strings (${command} postgres://user:pw@host/acme ...), name=URL words, ` +
        'or --targets <file> with one target a line',
    );
  }
  return uniqueNames(fleet);
}

async function targetsFile(file: string): Promise<FleetDatabase[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--targets ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return text.split('\n').flatMap((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return [];
    const words = line.split(/\s+/);
    const where = `--targets ${file} line ${index + 1}`;
    if (words.length > 2)
      throw new UsageError(
        `${where}: write a URL, or a name and a URL, separated by a space (got ${words.length} words)`,
      );
    return [words.length === 2 ? databaseOf(`${words[0]}=${words[1]}`, where) : databaseOf(line, where)];
  });
}

const URL_START = /^(postgres|postgresql):\/\//i;

function databaseOf(word: string, where: string): FleetDatabase {
  const split = URL_START.test(word) ? -1 : word.indexOf('=');
  const name = split > 0 ? word.slice(0, split) : undefined;
  const url = split > 0 ? word.slice(split + 1) : word;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    parsed = new URL('invalid:');
  }
  if (!URL_START.test(url) || !parsed.hostname) {
    // Only the scheme is repeated: the rest may hold a password.
    throw new UsageError(
      `${where} is not a PostgreSQL URL${name ? ` (target ${printable(name)})` : ''}: write postgres://user:password@host:5432/database, or name=postgres://...`,
    );
  }
  const database =
    decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username) || 'postgres';
  return { name: name ?? database, url };
}

/** Targets named by their database share a name when two servers hold the same one: they are named by server too. */
function uniqueNames(fleet: readonly FleetDatabase[]): FleetDatabase[] {
  const count = new Map<string, number>();
  for (const target of fleet) count.set(target.name, (count.get(target.name) ?? 0) + 1);
  const renamed = fleet.map((target) => {
    if ((count.get(target.name) ?? 0) < 2) return target;
    const url = new URL(target.url);
    return { ...target, name: `${url.hostname}:${url.port || 5432}/${target.name}` };
  });
  const seen = new Set<string>();
  for (const target of renamed) {
    if (seen.has(target.name)) {
      throw new UsageError(
        `target ${printable(target.name)} is given twice: name each once (name=postgres://...)`,
      );
    }
    seen.add(target.name);
  }
  return renamed;
}
