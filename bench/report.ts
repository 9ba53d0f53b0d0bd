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
/** A no-op up at the largest size, in single-digit milliseconds (issue 18). */
const NO_OP_AIM_MS = 10;

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
 * table's `up` starts from an empty database, so a first run's setup is in it). No aim; the
 * lines say where rds-migrate stands against the floor and the peers on the same setup.
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
  return [
    `N=${ours.n} up onto ${applied} applied by earlier runs of the same tool (what a deploy sees; reported, no aim):`,
    ...rows,
    `  rds-migrate ${fastest && ours.medianMs < fastest.medianMs ? 'ahead of' : 'behind'} the fastest peer` +
      (fastest ? ` (${fastest.tool} ${fastest.medianMs.toFixed(1)} ms)` : ''),
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

/**
 * How far from the one-transaction floor `up` may be: 1.25x at N = 10, where the history's
 * tables are most of the work (issue 18), 1.1x above (issue 2).
 */
function floorAim(n: number): number {
  return n <= 10 ? 1.25 : 1.1;
}

/** The aims of issues 2 and 18, each with what was measured. */
export function verdicts(cells: readonly Cell[], sizes: readonly number[], largeNoOp?: LargeNoOp): string[] {
  const find = (tool: string, n: number, phase: string) =>
    cells.find((cell) => cell.tool === tool && cell.n === n && cell.phase === phase);
  const lines: string[] = ['aims (issues 2 and 18):'];
  for (const n of sizes) {
    const ours = find(OURS, n, 'up');
    if (!ours) continue;
    const floorRatio = ours.vsOneTransaction;
    const aim = floorAim(n);
    lines.push(
      `  N=${n} up within ${aim}x of the one-transaction floor: ${mark(floorRatio !== undefined && floorRatio <= aim)} (${times(floorRatio)})`,
    );
    const fastest = fastestPeer(cells, n);
    if (fastest) {
      lines.push(
        `  N=${n} up ahead of every peer configuration: ${mark(ours.medianMs < fastest.medianMs)} ` +
          `(${ours.medianMs.toFixed(1)} ms vs fastest peer ${fastest.tool} ${fastest.medianMs.toFixed(1)} ms)`,
      );
    }
  }
  const largest = Math.max(...sizes);
  const noOp = find(OURS, largest, 'no-op up');
  if (noOp) {
    lines.push(
      `  N=${largest} no-op up under ${NO_OP_AIM_MS} ms: ${mark(noOp.medianMs < NO_OP_AIM_MS)} ` +
        `(${noOp.medianMs.toFixed(1)} ms, ${describeParts(noOp.details)})`,
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

function describeParts(details: Readonly<Record<string, number>> | undefined): string {
  return (
    `of which migrate() ${details?.migrate?.toFixed(1) ?? '?'} ms, ` +
    `load + graph ${details?.['load + graph']?.toFixed(1) ?? '?'} ms`
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
