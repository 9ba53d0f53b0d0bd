/** Turns the samples into cells (medians and ratios), the printed table, and the aims' verdicts. */
import { median, ratio } from './stats.ts';
import { PHASES, type Tool } from './tools/tool.ts';

export interface Cell {
  readonly tool: string;
  readonly phase: string;
  readonly n: number;
  readonly samplesMs: readonly number[];
  readonly medianMs: number;
  /** Median over the raw one-transaction floor (same N, same phase). */
  readonly vsOneTransaction?: number;
  /** Median over raw pg with one transaction per migration (same N, same phase). */
  readonly vsPerMigration?: number;
  /** Medians of the parts a tool timed on its own. */
  readonly details?: Readonly<Record<string, number>>;
}

interface SampleLike {
  readonly tool: string;
  readonly n: number;
  readonly phase: string;
  readonly ms: number;
  readonly details?: Readonly<Record<string, number>>;
}

const FLOOR = 'raw pg, one transaction';
const PER_MIGRATION = 'raw pg, tx per migration';
const OURS = 'rds-migrate';
const PEERS = ['kysely Migrator', 'node-pg-migrate', 'node-pg-migrate, single tx'];
/** A no-op up at the largest size, in single-digit milliseconds (issues 18 and 32). */
const NO_OP_AIM_MS = 10;
/** Issue 32: a deploy's few migrations and a first run of ten within 1.5x of the floor, larger plans 1.15x. */
const SMALL_PLAN_AIM = 1.5;
const LARGE_PLAN_AIM = 1.15;

export function summarise(
  samples: readonly SampleLike[],
  tools: readonly Tool[],
  sizes: readonly number[],
): Cell[] {
  const medianOf = (tool: string, n: number, phase: string): number | undefined => {
    const found = samples.filter((s) => s.tool === tool && s.n === n && s.phase === phase).map((s) => s.ms);
    return found.length > 0 ? median(found) : undefined;
  };
  const cells: Cell[] = [];
  for (const n of sizes) {
    for (const phase of PHASES) {
      for (const tool of tools) {
        const own = samples.filter((s) => s.tool === tool.name && s.n === n && s.phase === phase);
        if (own.length === 0) continue;
        const medianMs = median(own.map((s) => s.ms));
        cells.push({
          tool: tool.name,
          phase,
          n,
          samplesMs: own.map((s) => round(s.ms)),
          medianMs: round(medianMs),
          vsOneTransaction: roundRatio(ratio(medianMs, medianOf(FLOOR, n, phase))),
          vsPerMigration: roundRatio(ratio(medianMs, medianOf(PER_MIGRATION, n, phase))),
          ...detailMedians(own),
        });
      }
    }
  }
  return cells;
}

function detailMedians(samples: readonly SampleLike[]): { details?: Record<string, number> } {
  const keys = [...new Set(samples.flatMap((s) => Object.keys(s.details ?? {})))];
  if (keys.length === 0) return {};
  return {
    details: Object.fromEntries(
      keys.map((key) => [key, round(median(samples.map((s) => s.details?.[key] ?? 0)))]),
    ),
  };
}

export function formatTable(cells: readonly Cell[], tools: readonly Tool[]): string {
  const header = ['N', 'phase', 'tool', 'median ms', 'x 1-tx floor', 'x tx/migration', 'parts (median ms)'];
  const rows = cells.map((cell) => [
    String(cell.n),
    cell.phase,
    cell.tool,
    cell.medianMs.toFixed(1),
    times(cell.vsOneTransaction),
    times(cell.vsPerMigration),
    Object.entries(cell.details ?? {})
      .map(([key, value]) => `${key} ${value.toFixed(1)}`)
      .join(', '),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const numeric = new Set([0, 3, 4, 5]);
  const line = (row: readonly string[]) =>
    row
      .map((value, column) =>
        numeric.has(column) ? value.padStart(widths[column] ?? 0) : value.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((width) => '-'.repeat(width)))];
  let previous = '';
  for (const [index, row] of rows.entries()) {
    const group = `${row[0]} ${row[1]}`;
    if (previous && group !== previous) out.push('');
    previous = group;
    out.push(line(rows[index] as string[]));
  }
  const legend = tools.map((tool) => `  ${tool.name}: ${tool.transactions}`);
  return [...out, '', 'transactions:', ...legend].join('\n');
}

/** The no-op `up` measured on its own at a larger size (issue 18 asks for N = 2,000). */
export interface LargeNoOp {
  readonly n: number;
  readonly medianMs: number;
  readonly samplesMs: readonly number[];
  readonly details: Readonly<Record<string, number>>;
}

/**
 * `up` of a few migrations onto a history some earlier runs wrote: what most deploys do (the
 * table's `up` starts from an empty database, so a first run's setup is in it). Its aims (issue
 * 32): ahead of every peer configuration, within 1.5x of the floor.
 */
export function ontoHistoryLines(cells: readonly Cell[], applied: number): string[] {
  const up = cells.filter((cell) => cell.phase === 'up');
  const ours = up.find((cell) => cell.tool === OURS);
  if (!ours) return [];
  const fastest = fastestPeer(up, ours.n);
  const rows = up.map(
    (cell) =>
      `  ${cell.tool.padEnd(28)} ${cell.medianMs.toFixed(1).padStart(7)} ms  ${times(cell.vsOneTransaction).padStart(6)} the floor` +
      (cell.details ? `  (${describeParts(cell.details)})` : ''),
  );
  const where = `N=${ours.n} up onto ${applied} applied (the deploy case)`;
  return [
    `N=${ours.n} up onto ${applied} applied by earlier runs of the same tool (what a deploy sees):`,
    ...rows,
    withinFloor(where, ours, SMALL_PLAN_AIM),
    ...(fastest ? [aheadOfPeers(where, ours, fastest)] : []),
  ];
}

/** The peer configuration with the shortest median `up` at `n`, if any ran. */
function fastestPeer(cells: readonly Cell[], n: number): Cell | undefined {
  return cells
    .filter((cell) => cell.n === n && cell.phase === 'up' && PEERS.includes(cell.tool))
    .reduce<Cell | undefined>(
      (best, cell) => (!best || cell.medianMs < best.medianMs ? cell : best),
      undefined,
    );
}

/** How far from the one-transaction floor a phase may be (issue 32): 1.5x at N = 10, 1.15x above. */
function floorAim(n: number): number {
  return n <= 10 ? SMALL_PLAN_AIM : LARGE_PLAN_AIM;
}

/** The aims of issue 32 (which tighten those of issues 2 and 18), each with what was measured. */
export function verdicts(cells: readonly Cell[], sizes: readonly number[], largeNoOp?: LargeNoOp): string[] {
  const find = (tool: string, n: number, phase: string) =>
    cells.find((cell) => cell.tool === tool && cell.n === n && cell.phase === phase);
  const lines: string[] = ['aims (issue 32):'];
  for (const n of sizes) {
    const ours = find(OURS, n, 'up');
    if (!ours) continue;
    lines.push(withinFloor(`N=${n} up`, ours, floorAim(n)));
    const fastest = fastestPeer(cells, n);
    if (fastest) lines.push(aheadOfPeers(`N=${n} up`, ours, fastest));
    // N = 10 down has no aim: the bench reports it in the table.
    const down = find(OURS, n, 'down');
    if (down && n > 10) lines.push(withinFloor(`N=${n} down`, down, LARGE_PLAN_AIM));
  }
  const largest = Math.max(...sizes);
  const noOp = find(OURS, largest, 'no-op up');
  if (noOp) {
    const met = noOp.medianMs < NO_OP_AIM_MS;
    const loading = noOp.details?.['load + graph'];
    lines.push(
      `  N=${largest} no-op up under ${NO_OP_AIM_MS} ms: ${mark(met)}` +
        `${met ? '' : ` by ${(noOp.medianMs - NO_OP_AIM_MS).toFixed(1)} ms`} ` +
        `(${noOp.medianMs.toFixed(1)} ms, ${describeParts(noOp.details)})` +
        (met || loading === undefined
          ? ''
          : `\n      why: reading and checksumming ${largest} files and building the graph is ${loading.toFixed(1)} ms of it ` +
            '(the drift check compares every applied file with its checksum); migrate() alone ' +
            `${(noOp.medianMs - loading).toFixed(1)} ms`),
    );
  }
  if (largeNoOp) {
    lines.push(
      `  N=${largeNoOp.n} no-op up (reported, no aim): ${largeNoOp.medianMs.toFixed(1)} ms ` +
        `(${describeParts(largeNoOp.details)}; samples ${largeNoOp.samplesMs.map((ms) => ms.toFixed(1)).join(', ')})`,
    );
  }
  return lines;
}

/** `what` within `aim` times the floor: met, or missed by how many milliseconds, with where the time went. */
function withinFloor(what: string, ours: Cell, aim: number): string {
  const ratio = ours.vsOneTransaction;
  const met = ratio !== undefined && ratio <= aim;
  const floorMs = ratio ? ours.medianMs / ratio : undefined;
  const over = !met && floorMs !== undefined ? ` by ${(ours.medianMs - floorMs * aim).toFixed(1)} ms` : '';
  return (
    `  ${what} within ${aim}x of the one-transaction floor: ${mark(met)}${over} ` +
    `(${times(ratio)}: ${ours.medianMs.toFixed(1)} ms, floor ${floorMs?.toFixed(1) ?? '?'} ms; ${describeParts(ours.details)})` +
    (met ? '' : whyOverFloor(ours, floorMs, aim))
  );
}

/**
 * The parts of a run that are not its migrations' work, and what they are for: the schema
 * fingerprint is the drift detection issue 32 keeps whole; the history's tables are created once.
 */
const FIXED_PARTS: readonly (readonly [string, string])[] = [
  ['fingerprint check', 'the schema fingerprint compared before the run'],
  ['fingerprint after', 'the schema fingerprint recorded after the run'],
  ['history setup', "the history's tables created on a first run"],
];

/** Milliseconds of a run's fixed parts (FIXED_PARTS) it timed. */
function fixedPartsMs(ours: Cell): number {
  return FIXED_PARTS.reduce((sum, [part]) => sum + (ours.details?.[part] ?? 0), 0);
}

/** Why a run is over its aim: what its fixed parts cost, and where it would stand without them. */
function whyOverFloor(ours: Cell, floorMs: number | undefined, aim: number): string {
  const parts = FIXED_PARTS.filter(([part]) => (ours.details?.[part] ?? 0) > 0);
  if (parts.length === 0 || floorMs === undefined) return '';
  const without = ours.medianMs - fixedPartsMs(ours);
  const within = without / floorMs <= aim;
  return (
    `
      why: ${parts.map(([part, meaning]) => `${meaning} ${(ours.details?.[part] ?? 0).toFixed(1)} ms`).join(', ')}` +
    ` (server time, mostly fixed per session: the deparse and the catalog stamp read every catalog the fingerprint covers);` +
    ` without them ${without.toFixed(1)} ms, ${times(without / floorMs)} the floor: ` +
    (within
      ? 'within the aim'
      : `still over it by ${(without - floorMs * aim).toFixed(1)} ms${restOverFloor(ours)}`)
  );
}

/** What else a run timed beside its migrations, when it is over its aim even without the fixed parts. */
function restOverFloor(ours: Cell): string {
  const fixed = new Set(FIXED_PARTS.map(([part]) => part));
  const rest = Object.entries(ours.details ?? {})
    .filter(([part]) => part !== 'migrate' && !fixed.has(part))
    .map(([part, ms]) => `${part} ${ms.toFixed(1)}`);
  return rest.length > 0 ? ` (besides the migrations' own statements: ${rest.join(', ')} ms)` : '';
}

function aheadOfPeers(what: string, ours: Cell, fastest: Cell): string {
  const met = ours.medianMs < fastest.medianMs;
  const fixedMs = fixedPartsMs(ours);
  const why =
    met || fixedMs === 0
      ? ''
      : `\n      why: no peer records a schema fingerprint or checks drift; without those parts (${fixedMs.toFixed(1)} ms) ` +
        `${(ours.medianMs - fixedMs).toFixed(1)} ms, ${ours.medianMs - fixedMs < fastest.medianMs ? 'ahead' : 'still behind'}`;
  return (
    `  ${what} ahead of every peer configuration: ${mark(met)}` +
    `${met ? '' : ` by ${(ours.medianMs - fastest.medianMs).toFixed(1)} ms`} ` +
    `(${ours.medianMs.toFixed(1)} ms vs fastest peer ${fastest.tool} ${fastest.medianMs.toFixed(1)} ms)${why}`
  );
}

/** Where a run's time went: migrate() and the loading apart, and the parts of migrate() the tool timed. */
function describeParts(details: Readonly<Record<string, number>> | undefined): string {
  const parts = Object.entries(details ?? {})
    .filter(([part]) => part !== 'migrate' && part !== 'load + graph')
    .map(([part, ms]) => `${part} ${ms.toFixed(1)}`);
  return (
    `of which migrate() ${details?.migrate?.toFixed(1) ?? '?'} ms` +
    (parts.length > 0 ? ` (${parts.join(', ')})` : '') +
    `, load + graph ${details?.['load + graph']?.toFixed(1) ?? '?'} ms`
  );
}

function mark(met: boolean): string {
  return met ? 'met' : 'MISSED';
}

function times(value: number | undefined): string {
  return value === undefined ? '-' : `${value.toFixed(2)}x`;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function roundRatio(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 1000) / 1000;
}
