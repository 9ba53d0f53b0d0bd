/**
 * Renames in autogenerate: the diff library sees only a table or column that disappears and one
 * that appears, which it writes as a drop and an add (the data is lost). When the two have the
 * same shape, a person decides which it is, as Drizzle Kit's rename prompt asks:
 * `--rename old=new` (a rename), `--drop-add old=new` (really a drop and an add), or an answer at
 * the terminal. Without a decision nothing is written: `RenameUndecidedError` names each pair and
 * the flags that decide it.
 *
 * Candidates: a column that disappears while one of the same type appears in the same table (its
 * nullability and default may differ: they follow the rename as ALTERs); a table that disappears
 * while one appears that has at least half of their columns in common (name and type), so a table
 * renamed while it gains a column is asked about too. A table may appear in another schema: it is
 * moved there (SET SCHEMA), its rows with it, rather than dropped and created.
 */
import { UsageError } from '../engine/errors.ts';
import type { InspectedColumn } from './schema-diff.ts';

/** `schema.table` → its columns: a schema as the decisions need it (schema-diff.ts `tablesOf`). */
export type TablesByName = ReadonlyMap<string, readonly InspectedColumn[]>;

/** A table or column that disappears, paired with one that appears. Tables are `schema.table`. */
export type RenamePair =
  | { readonly kind: 'table'; readonly from: string; readonly to: string }
  | {
      readonly kind: 'column';
      /** The table at head, and in the wanted schema (itself, or the table it is renamed to). */
      readonly fromTable: string;
      readonly toTable: string;
      readonly from: string;
      readonly to: string;
    };

/** What the person asked for on the command line: `old=new` each. */
export interface RenameRequests {
  readonly renames?: readonly string[];
  readonly dropAdds?: readonly string[];
}

/** Asks the person whether `pair` is a rename (true) or a drop and an add (false). */
export type AskRename = (pair: RenamePair, question: string) => Promise<boolean>;

export interface RenameDecisions {
  /** Tables first (a column rename names its table by the new name), in the order decided. */
  readonly renames: readonly RenamePair[];
  /** Candidates a person confirmed as a drop and an add. */
  readonly dropAdds: readonly RenamePair[];
}

/** Flags that spell the decisions: what the refusal tells the person to pass. */
export const RENAME_FLAG = '--rename';
export const DROP_ADD_FLAG = '--drop-add';

/**
 * Candidates nobody decided, with no terminal to ask: nothing is written, and the message names
 * each pair and both flags.
 */
export class RenameUndecidedError extends UsageError {
  constructor(
    readonly undecided: readonly RenamePair[],
    tables: { readonly head: TablesByName; readonly wanted: TablesByName },
  ) {
    const lines = undecided.flatMap((pair) => [
      `  ${describeCandidate(pair, tables)}:`,
      `    ${RENAME_FLAG} ${pairSpec(pair)}     a rename: the rows keep their data`,
      `    ${DROP_ADD_FLAG} ${pairSpec(pair)}   a drop and an add: the data of ${nameOf(pair, 'from')} is lost`,
    ]);
    super(
      [
        'nothing was written: a rename or a drop and an add? Written as a drop and an add, a rename loses ' +
          'the data, and there is no terminal to ask which it is. Say it for each:',
        ...lines,
        'then run the command again with those flags (in a terminal it asks instead).',
      ].join('\n'),
    );
  }
}

/**
 * The decisions for every candidate between `head` and `wanted`: from `requests` first, then by
 * `ask` in the order the wanted schema lists them; throws `RenameUndecidedError` for those left
 * when there is no one to ask, and `UsageError` for a request that names no such change.
 */
export async function decideRenames(
  tables: { readonly head: TablesByName; readonly wanted: TablesByName },
  requests: RenameRequests,
  ask?: AskRename,
): Promise<RenameDecisions> {
  const resolver = new RequestResolver(tables);
  const requested = {
    renames: (requests.renames ?? []).map((spec) => resolver.table(spec, RENAME_FLAG)),
    dropAdds: (requests.dropAdds ?? []).map((spec) => resolver.table(spec, DROP_ADD_FLAG)),
  };
  const tableRenames = requested.renames.flatMap((pair) => (pair?.kind === 'table' ? [pair] : []));
  const pairing = new Map<string, string>();
  for (const name of tables.head.keys()) if (tables.wanted.has(name)) pairing.set(name, name);
  for (const pair of tableRenames) pairing.set(pair.from, pair.to);
  resolver.pairing = pairing;

  const columnRequests = {
    renames: (requests.renames ?? []).flatMap((spec, index) =>
      requested.renames[index] ? [] : [resolver.column(spec, RENAME_FLAG)],
    ),
    dropAdds: (requests.dropAdds ?? []).flatMap((spec, index) =>
      requested.dropAdds[index] ? [] : [resolver.column(spec, DROP_ADD_FLAG)],
    ),
  };
  assertDistinct([...tableRenames, ...columnRequests.renames]);

  const confirmedDropAdds = [
    ...requested.dropAdds.flatMap((pair) => (pair ? [pair] : [])),
    ...columnRequests.dropAdds,
  ];
  const decider = new Decider(confirmedDropAdds, tables, ask);
  const renames: RenamePair[] = [...tableRenames];
  renames.push(...(await decider.decide(tableCandidates(tables, tableRenames))));
  for (const pair of renames) if (pair.kind === 'table') pairing.set(pair.from, pair.to);
  renames.push(...columnRequests.renames);
  renames.push(...(await decider.decide(columnCandidates(tables, pairing, columnRequests.renames))));
  if (decider.undecided.length > 0) throw new RenameUndecidedError(decider.undecided, tables);
  return { renames, dropAdds: decider.dropAdds };
}

/** `users.name=users.full_name`, `posts=articles`: a pair as the flags spell it. */
function pairSpec(pair: RenamePair): string {
  return `${nameOf(pair, 'from')}=${nameOf(pair, 'to')}`;
}

/** `users.name`, `billing.invoices`: one side of a pair as a person reads it (public is left out). */
export function nameOf(pair: RenamePair, side: 'from' | 'to'): string {
  if (pair.kind === 'table') return shortTable(pair[side]);
  return `${shortTable(side === 'from' ? pair.fromTable : pair.toTable)}.${pair[side]}`;
}

/** The question for one candidate, as the terminal asks it (yes: a rename). */
function renameQuestion(pair: RenamePair, tables: { head: TablesByName; wanted: TablesByName }): string {
  const from = nameOf(pair, 'from');
  const to = nameOf(pair, 'to');
  return (
    `${describeCandidate(pair, tables)}. Is it ${from} renamed to ${to} (the rows keep their data)? ` +
    `No: ${from} is dropped with its data, and ${to} ${pair.kind === 'table' ? 'created' : 'added'}.`
  );
}

function shortTable(qualified: string): string {
  return qualified.startsWith('public.') ? qualified.slice('public.'.length) : qualified;
}

function describeCandidate(pair: RenamePair, tables: { head: TablesByName; wanted: TablesByName }): string {
  if (pair.kind === 'column') {
    const type = tables.wanted.get(pair.toTable)?.find((column) => column.name === pair.to)?.type;
    return `column ${nameOf(pair, 'from')} disappears while ${nameOf(pair, 'to')}${type ? ` (${type})` : ''} appears`;
  }
  const before = tables.head.get(pair.from) ?? [];
  const after = tables.wanted.get(pair.to) ?? [];
  const common = commonColumns(before, after);
  const shape =
    common === before.length && common === after.length
      ? 'with the same columns'
      : `with ${common} of its ${before.length} columns`;
  return `table ${nameOf(pair, 'from')} disappears while ${nameOf(pair, 'to')} appears ${shape}`;
}

/** Puts each candidate to the flags, then to the person; keeps what nobody decided. */
class Decider {
  readonly dropAdds: RenamePair[] = [];
  readonly undecided: RenamePair[] = [];

  constructor(
    private readonly confirmed: readonly RenamePair[],
    private readonly tables: { head: TablesByName; wanted: TablesByName },
    private readonly ask: AskRename | undefined,
  ) {}

  /** The renames among `candidates`, grouped by what appears: once one is a rename, its others are not candidates. */
  async decide(candidates: readonly RenamePair[]): Promise<RenamePair[]> {
    const renames: RenamePair[] = [];
    const claimed = new Set<string>();
    for (const pair of candidates) {
      if (claimed.has(sideKey(pair, 'from')) || claimed.has(sideKey(pair, 'to'))) continue;
      if (this.confirmed.some((confirmed) => samePair(confirmed, pair))) {
        this.dropAdds.push(pair);
        continue;
      }
      if (!this.ask) {
        this.undecided.push(pair);
        continue;
      }
      if (await this.ask(pair, renameQuestion(pair, this.tables))) {
        renames.push(pair);
        claimed.add(sideKey(pair, 'from')).add(sideKey(pair, 'to'));
      } else {
        this.dropAdds.push(pair);
      }
    }
    return renames;
  }
}

/** Tables that disappear and appear with at least half of their columns in common, by what appears. */
function tableCandidates(
  tables: { head: TablesByName; wanted: TablesByName },
  decided: readonly RenamePair[],
): RenamePair[] {
  const renamedFrom = new Set(decided.map((pair) => pair.from));
  const renamedTo = new Set(decided.map((pair) => pair.to));
  const gone = [...tables.head].filter(([name]) => !tables.wanted.has(name) && !renamedFrom.has(name));
  const candidates: RenamePair[] = [];
  for (const [to, after] of tables.wanted) {
    if (tables.head.has(to) || renamedTo.has(to)) continue;
    for (const [from, before] of gone) {
      const common = commonColumns(before, after);
      const all = new Set([...before, ...after].map(columnKey)).size;
      if (common > 0 && common * 2 >= all) candidates.push({ kind: 'table', from, to });
    }
  }
  return candidates;
}

/** Columns that disappear while one of the same type appears in the same (or renamed) table. */
function columnCandidates(
  tables: { head: TablesByName; wanted: TablesByName },
  pairing: ReadonlyMap<string, string>,
  decided: readonly RenamePair[],
): RenamePair[] {
  const candidates: RenamePair[] = [];
  for (const [fromTable, toTable] of pairing) {
    const before = tables.head.get(fromTable) ?? [];
    const after = tables.wanted.get(toTable) ?? [];
    const taken = (side: 'from' | 'to', name: string) =>
      decided.some(
        (pair) =>
          pair.kind === 'column' &&
          (side === 'from' ? pair.fromTable === fromTable : pair.toTable === toTable) &&
          pair[side] === name,
      );
    const gone = before.filter(
      (column) => !after.some((other) => other.name === column.name) && !taken('from', column.name),
    );
    for (const added of after) {
      if (before.some((other) => other.name === added.name) || taken('to', added.name)) continue;
      for (const column of gone) {
        if (column.type === added.type)
          candidates.push({ kind: 'column', fromTable, toTable, from: column.name, to: added.name });
      }
    }
  }
  return candidates;
}

/**
 * Reads `old=new` against the two schemas. A name is `table`, `schema.table`, `table.column` or
 * `schema.table.column`; the new side may leave out what stays the same (`users.name=full_name`).
 */
class RequestResolver {
  /** Head table → wanted table, once the table renames are known. */
  pairing: ReadonlyMap<string, string> = new Map();

  constructor(private readonly tables: { head: TablesByName; wanted: TablesByName }) {}

  /** The table pair `spec` names, or undefined when it names columns. */
  table(spec: string, flag: string): RenamePair | undefined {
    const [from, to] = this.sides(spec, flag);
    const table = this.headTable(from);
    if (table === undefined) return undefined;
    const target = to.length === 1 ? `${schemaOf(table)}.${to[0]}` : to.join('.');
    const fail = (problem: string) => {
      throw new UsageError(`${flag} ${spec}: ${problem}`);
    };
    if (!this.tables.head.has(table)) fail(`head's schema has no table ${shortTable(table)}`);
    if (to.length > 2) fail(`a table is renamed to a table: write ${flag} ${shortTable(table)}=<new table>`);
    if (this.tables.wanted.has(table))
      fail(`table ${shortTable(table)} is still in the wanted schema: nothing to rename`);
    if (!this.tables.wanted.has(target)) fail(`the wanted schema has no table ${shortTable(target)}`);
    if (this.tables.head.has(target)) fail(`table ${shortTable(target)} exists already at head`);
    return { kind: 'table', from: table, to: target };
  }

  /** The column pair `spec` names (after `table` found no table in it). */
  column(spec: string, flag: string): RenamePair {
    const [from, to] = this.sides(spec, flag);
    const fail = (problem: string): never => {
      throw new UsageError(`${flag} ${spec}: ${problem}`);
    };
    if (from.length < 2 || from.length > 3)
      fail(
        `head's schema has no table ${from.join('.')}; name a table (posts=articles) or a column ` +
          '(users.name=users.full_name), with its schema when not public (billing.invoices.total=amount)',
      );
    const fromTable = from.length === 3 ? `${from[0]}.${from[1]}` : `public.${from[0]}`;
    const fromColumn = from[from.length - 1] as string;
    const columns = this.tables.head.get(fromTable);
    if (!columns) fail(`head's schema has no table ${shortTable(fromTable)}`);
    if (!columns?.some((column) => column.name === fromColumn))
      fail(`table ${shortTable(fromTable)} has no column ${fromColumn} at head`);
    const paired = this.pairing.get(fromTable);
    if (paired === undefined)
      fail(
        `table ${shortTable(fromTable)} is not in the wanted schema: rename the table first (${flag} <old>=<new>)`,
      );
    const toTable =
      to.length === 1
        ? (paired as string)
        : to.length === 2
          ? `${schemaOf(fromTable)}.${to[0]}`
          : `${to[0]}.${to[1]}`;
    const toColumn = to[to.length - 1] as string;
    if (to.length > 3) fail('a column is renamed to a column: write <table>.<old>=<table>.<new>');
    if (toTable !== paired)
      fail(
        `a column stays in its table: ${shortTable(fromTable)} is ${shortTable(paired as string)} in the wanted schema, ` +
          `so write ${shortTable(fromTable)}.${fromColumn}=${shortTable(paired as string)}.${toColumn}`,
      );
    const after = this.tables.wanted.get(toTable) ?? [];
    if (after.some((column) => column.name === fromColumn))
      fail(`column ${fromColumn} is still in ${shortTable(toTable)} in the wanted schema: nothing to rename`);
    if (!after.some((column) => column.name === toColumn))
      fail(`the wanted schema has no column ${shortTable(toTable)}.${toColumn}`);
    if (columns?.some((column) => column.name === toColumn))
      fail(`column ${shortTable(fromTable)}.${toColumn} exists already at head`);
    return { kind: 'column', fromTable, toTable, from: fromColumn, to: toColumn };
  }

  /** `schema.table` when `parts` names a table of head's schema (`posts`, `billing.invoices`). */
  private headTable(parts: readonly string[]): string | undefined {
    if (parts.length === 1) return `public.${parts[0]}`;
    if (parts.length === 2 && this.tables.head.has(parts.join('.'))) return parts.join('.');
    return undefined;
  }

  private sides(spec: string, flag: string): [string[], string[]] {
    const sides = spec.split('=');
    const parts = sides.map((side) => side.trim().split('.'));
    if (sides.length !== 2 || parts.some((side) => side.some((part) => part === ''))) {
      throw new UsageError(
        `${flag} ${spec}: write old=new, e.g. ${flag} users.name=users.full_name for a column or ${flag} posts=articles for a table`,
      );
    }
    return parts as [string[], string[]];
  }
}

/** Two requests that rename the same thing, or to the same thing, cannot both hold. */
function assertDistinct(renames: readonly RenamePair[]): void {
  const seen = new Map<string, RenamePair>();
  for (const pair of renames) {
    for (const side of ['from', 'to'] as const) {
      const key = `${side} ${sideKey(pair, side)}`;
      const other = seen.get(key);
      if (other)
        throw new UsageError(
          `${RENAME_FLAG} ${pairSpec(other)} and ${RENAME_FLAG} ${pairSpec(pair)} name the same ${pair.kind}: keep one`,
        );
      seen.set(key, pair);
    }
  }
}

function sideKey(pair: RenamePair, side: 'from' | 'to'): string {
  if (pair.kind === 'table') return `table ${pair[side]}`;
  return `column ${side === 'from' ? pair.fromTable : pair.toTable}.${pair[side]}`;
}

function samePair(a: RenamePair, b: RenamePair): boolean {
  return sideKey(a, 'from') === sideKey(b, 'from') && sideKey(a, 'to') === sideKey(b, 'to');
}

function schemaOf(qualified: string): string {
  return qualified.split('.')[0] as string;
}

function columnKey(column: InspectedColumn): string {
  return `${column.name} ${column.type}`;
}

function commonColumns(a: readonly InspectedColumn[], b: readonly InspectedColumn[]): number {
  const keys = new Set(b.map(columnKey));
  return a.filter((column) => keys.has(columnKey(column))).length;
}
