/**
 * The revision graph drawn as `git log --graph` draws commits: newest first, one lane per branch,
 * `|\` where a merge opens its parents' lanes and `|/` where branches meet at their branch point.
 * Each revision's mark says where the database stands: applied, pending, or current. On a
 * terminal the drawing uses box characters; elsewhere (a file, a pipe) plain ASCII.
 * `toDot` gives the same graph to Graphviz.
 */
import type { HistoryEntry } from './report.ts';

interface DrawingStyle {
  readonly applied: string;
  readonly pending: string;
  readonly current: string;
  readonly lane: string;
  readonly opens: string;
  readonly joins: string;
}

/** For a terminal. */
export const UNICODE: DrawingStyle = {
  applied: '●',
  pending: '○',
  current: '◉',
  lane: '│',
  opens: '╲',
  joins: '╱',
};

/** For a file or a pipe: what `git log --graph` prints. */
export const ASCII: DrawingStyle = {
  applied: '*',
  pending: 'o',
  current: '@',
  lane: '|',
  opens: '\\',
  joins: '/',
};

/**
 * `entries` newest first (children before parents), as historyEntries gives them. Lane `i` sits
 * in text column `2i`; the diagonals of a merge opening lanes or of branches joining at their
 * branch point sit in the gaps between, as git draws them (`|\`, `|/`, `|_|/`).
 */
export function drawGraph(entries: readonly HistoryEntry[], style: DrawingStyle): string[] {
  const lanes: (string | undefined)[] = [];
  const rows: { graph: string; entry?: HistoryEntry }[] = [];
  const connector = (width: number, place: (cells: string[]) => void) => {
    const cells = Array.from({ length: Math.max(0, 2 * width - 1) }, () => ' ');
    place(cells);
    rows.push({ graph: cells.join('').trimEnd() });
  };
  for (const entry of entries) {
    let column = lanes.indexOf(entry.revision);
    if (column === -1) {
      // A head: the first free lane, or a new one.
      column = lanes.indexOf(undefined);
      if (column === -1) column = lanes.length;
      lanes[column] = entry.revision;
    }
    // A branch point: other lanes were waiting for it too; they join this one.
    const joining = lanes.flatMap((lane, index) =>
      lane === entry.revision && index !== column ? [index] : [],
    );
    if (joining.length > 0) {
      connector(lanes.length, (cells) => {
        lanes.forEach((lane, index) => {
          if (lane !== undefined && !joining.includes(index)) cells[2 * index] = style.lane;
        });
        for (const index of joining) {
          // A far lane walks across underscores, passing under the lanes between.
          for (let at = 2 * column + 1; at < 2 * index - 1; at++) if (cells[at] === ' ') cells[at] = '_';
          cells[2 * index - 1] = style.joins;
        }
      });
      for (const index of joining) lanes[index] = undefined;
    }
    const mark = entry.current ? style.current : entry.applied ? style.applied : style.pending;
    const cells = lanes.map((lane, index) =>
      index === column ? mark : lane !== undefined ? style.lane : ' ',
    );
    rows.push({ graph: cells.join(' ').trimEnd(), entry });

    const [first, ...others] = entry.parents;
    lanes[column] = first;
    const opened = others.filter((parent) => !lanes.includes(parent));
    if (opened.length > 0) {
      lanes.splice(column + 1, 0, ...opened);
      connector(lanes.length, (cells) => {
        lanes.forEach((lane, index) => {
          if (lane === undefined) return;
          // Lanes left of the merge go straight down; the opened ones and those pushed right lean.
          cells[index <= column ? 2 * index : 2 * index - 1] = index <= column ? style.lane : style.opens;
        });
      });
    }
    while (lanes.length > 0 && lanes[lanes.length - 1] === undefined) lanes.pop();
  }
  const width = Math.max(...rows.map((row) => [...row.graph].length));
  return rows.map(({ graph, entry }) =>
    entry ? `${graph}${' '.repeat(width - [...graph].length)}  ${describe(entry)}` : graph,
  );
}

function describe(entry: HistoryEntry): string {
  const state = entry.current ? 'current' : entry.applied ? 'applied' : 'pending';
  const marks = [
    entry.head ? 'head' : '',
    state,
    ...entry.branchLabels.map((label) => `label ${label}`),
  ].filter(Boolean);
  const depends = entry.dependsOn.length > 0 ? `  (depends on ${entry.dependsOn.join(', ')})` : '';
  return `${entry.revision}  ${entry.message}  [${marks.join(', ')}]${depends}`;
}

/** The graph for Graphviz: arrows point from a revision to its parents; depends_on dashed. */
export function toDot(entries: readonly HistoryEntry[]): string {
  const quote = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = ['digraph revisions {', '  rankdir=BT;', '  node [shape=box, fontname="monospace"];'];
  for (const entry of entries) {
    const state = entry.current ? 'current' : entry.applied ? 'applied' : 'pending';
    const fill = entry.current ? '#9ecae1' : entry.applied ? '#c7e9c0' : '#f0f0f0';
    const labels = entry.branchLabels.length > 0 ? `\n(${entry.branchLabels.join(', ')})` : '';
    const label = quote(`${entry.revision}\n${entry.message}${labels}`).replace(/\n/g, '\\n');
    lines.push(
      `  ${quote(entry.revision)} [label=${label}, style=filled, fillcolor=${quote(fill)}, ` +
        `tooltip=${quote(state)}${entry.head ? ', penwidth=2' : ''}];`,
    );
    for (const parent of entry.parents) lines.push(`  ${quote(entry.revision)} -> ${quote(parent)};`);
    for (const dependency of entry.dependsOn) {
      lines.push(`  ${quote(entry.revision)} -> ${quote(dependency)} [style=dashed, label="depends on"];`);
    }
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
