/**
 * The round trip: on a scratch database, apply every migration from base to head one revision
 * at a time, go down to base one step at a time, then up again, comparing the schema after each
 * step with the one it must equal. The first difference names the revision whose step caused it.
 */
import type { Database } from '../engine/database.ts';
import { MigrationFailed } from '../engine/errors.ts';
import { RevisionGraph } from '../engine/graph.ts';
import { History } from '../engine/history.ts';
import type { Migration, Revision } from '../engine/migration.ts';
import { type Intent, migrate } from '../engine/runner.ts';
import { SchemaTracker, snapshotDifference, type TrackedSnapshot } from './schema-tracker.ts';

interface RoundTripOptions {
  /** The trip covers these heads and their ancestors. @default every head of the graph */
  readonly heads?: readonly Revision[];
  /** @default new History() */
  readonly history?: History;
  /** Context arguments for every migration. @default {} */
  readonly args?: Readonly<Record<string, string>>;
  readonly actor: string;
  /**
   * Revisions applied before the trip, in one run and without comparisons: the migrations a
   * scoped check leaves out (already applied, or unchanged since a git ref). Every ancestor of a
   * revision in it must be in it too. @default none
   */
  readonly prefix?: ReadonlySet<Revision>;
}

type RoundTripPhase = 'up' | 'down' | 'up again';

interface RoundTripDifference {
  readonly revision: Revision;
  readonly source: string;
  readonly phase: RoundTripPhase;
  /** `schema`: the step left another schema than expected; `failed`: the step itself failed. */
  readonly kind: 'schema' | 'failed';
  readonly message: string;
  /** Schema lines there after the step that should not be. */
  readonly extra: readonly string[];
  /** Schema lines that should be there after the step and are not. */
  readonly missing: readonly string[];
}

export interface RoundTripReport {
  /** Revisions on the way from base to the heads, or from the prefix to the heads. */
  readonly revisions: number;
  /** Revisions of the prefix, applied first without comparisons. */
  readonly prefixApplied: number;
  readonly applied: number;
  readonly reverted: number;
  readonly reapplied: number;
  /** The highest migration without a down step: the way down turns back there. */
  readonly turnedBackAt?: {
    readonly revision: Revision;
    readonly source: string;
    readonly irreversible?: string;
  };
  /** The first difference found; the trip stops there. */
  readonly difference?: RoundTripDifference;
  /**
   * False when the DDL of each step could not be followed (the event triggers that follow it take a
   * superuser, on RDS rds_superuser, to create): every snapshot was read whole, slower, as exact.
   */
  readonly tracked: boolean;
  readonly durationMs: number;
}

export async function roundTrip(
  db: Database,
  graph: RevisionGraph,
  options: RoundTripOptions,
): Promise<RoundTripReport> {
  const started = performance.now();
  const history = options.history ?? new History();
  const everything = graph.sorted(graph.ancestors(options.heads ?? graph.heads));
  const prefix = options.prefix ?? new Set<Revision>();
  // The prefix first: it holds every ancestor of its revisions, so this is still an order.
  const order = [
    ...everything.filter((revision) => prefix.has(revision)),
    ...everything.filter((revision) => !prefix.has(revision)),
  ];
  const base = order.length - everything.filter((revision) => !prefix.has(revision)).length;
  const chain = asChain(graph, order);
  // A scratch database: background migrations run in-process at their step, as up would.
  const backgroundInline = order.filter((revision) => chain.has(revision) && chain.get(revision).background);
  const run = (intent: Intent) =>
    migrate(db, chain, intent, {
      actor: options.actor,
      args: options.args,
      history,
      recordFingerprint: false,
      requireAllowReasons: false,
      backgroundInline,
    });
  const tracker = await SchemaTracker.start(db, history.schema);
  try {
    return await trip(tracker, run, chain, order, base, started);
  } finally {
    await tracker.stop();
  }
}

/** The trip itself, on `order` from `base` (the prefix before it applied first). */
async function trip(
  tracker: SchemaTracker,
  run: (intent: Intent) => Promise<unknown>,
  chain: RevisionGraph,
  order: readonly Revision[],
  base: number,
  started: number,
): Promise<RoundTripReport> {
  const snapshot = () => tracker.snapshot();
  const counts = { applied: 0, reverted: 0, reapplied: 0 };
  let turnedBackAt: RoundTripReport['turnedBackAt'];
  const report = (difference?: RoundTripDifference): RoundTripReport => ({
    revisions: order.length - base,
    prefixApplied: base,
    ...counts,
    turnedBackAt,
    difference,
    tracked: tracker.tracking,
    durationMs: Math.round(performance.now() - started),
  });

  if (base > 0) {
    const last = chain.get(order[base - 1] as Revision);
    const failure = await attempt(last, 'up', () => run({ action: 'upgrade', target: last.revision }));
    if (failure) return report(failure);
  }

  // schemas[i] is the schema before order[i] first went up; schemas[order.length], at the heads.
  const schemas: TrackedSnapshot[] = new Array(base);
  schemas.push(await tracker.wholeSnapshot());
  for (const revision of order.slice(base)) {
    const failure = await attempt(chain.get(revision), 'up', () =>
      run({ action: 'upgrade', target: revision }),
    );
    if (failure) return report(failure);
    counts.applied += 1;
    schemas.push(await snapshot());
  }
  await tracker.verify();

  let lowest = order.length;
  for (let index = order.length - 1; index >= base; index--) {
    const migration = chain.get(order[index] as Revision);
    if (!migration.down) {
      turnedBackAt = {
        revision: migration.revision,
        source: migration.source,
        irreversible: migration.irreversible,
      };
      break;
    }
    const failure = await attempt(migration, 'down', () => run({ action: 'downgrade' }));
    if (failure) return report(failure);
    counts.reverted += 1;
    const difference = compare(migration, 'down', schemas[index] ?? NO_SCHEMA, await snapshot());
    if (difference) return report(await confirmed(tracker, difference));
    lowest = index;
  }
  await tracker.verify();

  // Up again without a snapshot per step (they cost most of the trip on a large schema): one
  // comparison at the top, and only when that differs, a second pass that names the revision.
  const upAgain = async (compareEach: boolean): Promise<RoundTripDifference | undefined> => {
    for (let index = lowest; index < order.length; index++) {
      const migration = chain.get(order[index] as Revision);
      const failure = await attempt(migration, 'up again', () =>
        run({ action: 'upgrade', target: migration.revision }),
      );
      if (failure) return failure;
      if (!compareEach) {
        counts.reapplied += 1;
        continue;
      }
      const difference = compare(migration, 'up again', schemas[index + 1] ?? NO_SCHEMA, await snapshot());
      if (difference) return confirmed(tracker, difference);
    }
    return undefined;
  };
  const failure = await upAgain(false);
  if (failure) return report(failure);
  const top = chain.get(order[order.length - 1] as Revision);
  const atTop = compare(top, 'up again', schemas[order.length] ?? NO_SCHEMA, await snapshot());
  await tracker.verify();
  if (!atTop) return report();
  for (let index = order.length - 1; index >= lowest; index--) {
    const migration = chain.get(order[index] as Revision);
    const downAgain = await attempt(migration, 'down', () => run({ action: 'downgrade' }));
    if (downAgain) return report(atTop);
  }
  return report((await upAgain(true)) ?? atTop);
}

/**
 * The revisions as one chain in graph order, so each step goes up or down exactly one revision
 * whatever the branches and merges. Only the scratch history sees the parents change.
 */
function asChain(graph: RevisionGraph, order: readonly Revision[]): RevisionGraph {
  return RevisionGraph.from(
    order.map(
      (revision, index): Migration => ({
        ...graph.get(revision),
        downRevisions: index === 0 ? [] : [order[index - 1] as Revision],
      }),
    ),
  );
}

async function attempt(
  migration: Migration,
  phase: RoundTripPhase,
  step: () => Promise<unknown>,
): Promise<RoundTripDifference | undefined> {
  try {
    await step();
    return undefined;
  } catch (error) {
    const detail =
      error instanceof MigrationFailed
        ? `${error.postgres.code ? `[${error.postgres.code}] ` : ''}${error.postgres.message}`
        : error instanceof Error
          ? error.message
          : String(error);
    return {
      revision: migration.revision,
      source: migration.source,
      phase,
      kind: 'failed',
      message: `its ${phase === 'down' ? 'down' : 'up'} step failed ${describePhase(phase)}: ${detail}`,
      extra: [],
      missing: [],
    };
  }
}

const NO_SCHEMA: TrackedSnapshot = { objects: new Map() };

/** A difference found on tracked snapshots, once the schema read whole agrees with the tracking. */
async function confirmed(
  tracker: SchemaTracker,
  difference: RoundTripDifference,
): Promise<RoundTripDifference> {
  await tracker.verify();
  return difference;
}

function compare(
  migration: Migration,
  phase: RoundTripPhase,
  expected: TrackedSnapshot,
  actual: TrackedSnapshot,
): RoundTripDifference | undefined {
  const { extra, missing } = snapshotDifference(expected, actual);
  if (extra.length === 0 && missing.length === 0) return undefined;
  const message =
    phase === 'down'
      ? 'after its down step the schema is not what it was before its up step: make the down step undo ' +
        'exactly what the up step does (drop what it creates, restore what it drops or changes)'
      : 'going up again after the down steps gives another schema than the first time: make the down ' +
        'step restore everything the up step relies on, and the up step independent of leftovers';
  return {
    revision: migration.revision,
    source: migration.source,
    phase,
    kind: 'schema',
    message,
    extra,
    missing,
  };
}

function describePhase(phase: RoundTripPhase): string {
  if (phase === 'up') return 'on the way up from base';
  if (phase === 'down') return 'on the way down to base';
  return 'going up again after the way down';
}
