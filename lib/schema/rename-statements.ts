/**
 * The SQL of decided renames (rename-decisions.ts), each with the statement that undoes it: the
 * tables, then the columns, then what PostgreSQL named after them (`posts_pkey`, `posts_id_seq`,
 * `users_name_idx`) when the wanted schema has it under the name the new one gives
 * (`articles_pkey`), so the rename does not leave a key to rebuild. The diff between the renamed
 * schema and the wanted one does the rest (a nullability, a default, a type).
 */
import { escapeIdentifier } from '../engine/sql-quote.ts';
import type { RenamePair } from './rename-decisions.ts';
import type { NamedObject } from './schema-diff.ts';

export interface RenameStatement {
  readonly sql: string;
  /** The statement that renames it back: the down step's. */
  readonly undo: string;
  /** The comment above it, without `-- `; none for a name that follows its table's. */
  readonly notes: readonly string[];
  /**
   * The linter's rules whose findings stay, with no allow line: the rename loses no data, but
   * deployed code that uses the old name breaks, which check keeps saying until a person decides.
   */
  readonly kept: readonly string[];
}

export function renameStatements(
  renames: readonly RenamePair[],
  named: { readonly head: readonly NamedObject[]; readonly wanted: readonly NamedObject[] },
): RenameStatement[] {
  const statements: RenameStatement[] = [];
  const tables = new Map<string, string>();
  for (const pair of renames) {
    if (pair.kind !== 'table') continue;
    tables.set(pair.from, pair.to);
    statements.push(...tableRenames(pair.from, pair.to));
  }
  const columns = new Map<string, Map<string, string>>();
  for (const pair of renames) {
    if (pair.kind !== 'column') continue;
    tables.set(pair.fromTable, pair.toTable);
    columns.set(pair.fromTable, (columns.get(pair.fromTable) ?? new Map()).set(pair.from, pair.to));
    const table = qualified(pair.toTable);
    statements.push({
      sql: `ALTER TABLE ${table} RENAME COLUMN ${escapeIdentifier(pair.from)} TO ${escapeIdentifier(pair.to)};`,
      undo: `ALTER TABLE ${table} RENAME COLUMN ${escapeIdentifier(pair.to)} TO ${escapeIdentifier(pair.from)};`,
      notes: [
        `Column ${pair.toTable}.${pair.from} renamed to ${pair.to}, not dropped and added: its data stays.`,
      ],
      kept: ['rename-column'],
    });
  }
  for (const [fromTable, toTable] of tables) {
    statements.push(...derivedRenames(fromTable, toTable, columns.get(fromTable) ?? new Map(), named));
  }
  return statements;
}

/**
 * A table renamed, or moved to another schema (SET SCHEMA, which takes its indexes and the
 * sequences its columns own along), or both: the move first, then the rename in its new schema.
 */
function tableRenames(from: string, to: string): RenameStatement[] {
  const moved = `${schemaOf(to)}.${bare(from)}`;
  const statements: RenameStatement[] = [];
  if (schemaOf(from) !== schemaOf(to))
    statements.push({
      sql: `ALTER TABLE ${qualified(from)} SET SCHEMA ${escapeIdentifier(schemaOf(to))};`,
      undo: `ALTER TABLE ${qualified(moved)} SET SCHEMA ${escapeIdentifier(schemaOf(from))};`,
      notes: [`Table ${from} moved to schema ${schemaOf(to)}, not dropped and created: its rows stay.`],
      // No lint rule flags a move (yet), though deployed code that names the old schema breaks.
      kept: [],
    });
  if (bare(from) !== bare(to))
    statements.push({
      sql: `ALTER TABLE ${qualified(moved)} RENAME TO ${escapeIdentifier(bare(to))};`,
      undo: `ALTER TABLE ${qualified(to)} RENAME TO ${escapeIdentifier(bare(from))};`,
      notes: [`Table ${moved} renamed to ${to}, not dropped and created: its rows stay.`],
      kept: ['rename-table'],
    });
  return statements;
}

/** The constraints, indexes and sequences of `fromTable` whose names follow its name or its columns'. */
function derivedRenames(
  fromTable: string,
  toTable: string,
  columns: ReadonlyMap<string, string>,
  named: { readonly head: readonly NamedObject[]; readonly wanted: readonly NamedObject[] },
): RenameStatement[] {
  // A moved table's indexes and sequences are in its new schema by the time they are renamed.
  const schema = schemaOf(toTable);
  const onTable = (objects: readonly NamedObject[], table: string, inSchema: string) =>
    objects.filter((object) => object.schema === inSchema && object.table === table);
  // Relations (indexes, sequences) share one namespace per schema; constraints, one per table.
  const taken = (object: NamedObject, name: string) =>
    named.head.some(
      (other) =>
        other.schema === schema &&
        other.name === name &&
        (object.kind === 'constraint'
          ? other.kind === 'constraint' && other.table === object.table
          : other.kind !== 'constraint'),
    );
  const wanted = onTable(named.wanted, bare(toTable), schema);
  return onTable(named.head, bare(fromTable), schemaOf(fromTable)).flatMap((object) => {
    const name = derivedName(object.name, bare(fromTable), bare(toTable), columns);
    if (name === undefined || taken(object, name)) return [];
    if (wanted.some((other) => other.name === object.name && other.kind === object.kind)) return [];
    if (!wanted.some((other) => other.name === name && other.kind === object.kind)) return [];
    const [from, to] = [escapeIdentifier(object.name), escapeIdentifier(name)];
    const q = escapeIdentifier(schema);
    const [sql, undo] =
      object.kind === 'constraint'
        ? [
            `ALTER TABLE ${qualified(toTable)} RENAME CONSTRAINT ${from} TO ${to};`,
            `ALTER TABLE ${qualified(toTable)} RENAME CONSTRAINT ${to} TO ${from};`,
          ]
        : [
            `ALTER ${object.kind === 'index' ? 'INDEX' : 'SEQUENCE'} ${q}.${from} RENAME TO ${to};`,
            `ALTER ${object.kind === 'index' ? 'INDEX' : 'SEQUENCE'} ${q}.${to} RENAME TO ${from};`,
          ];
    return [{ sql, undo, notes: [], kept: [] }];
  });
}

/**
 * `posts_user_id_fkey` → `articles_user_id_fkey` for posts renamed to articles, `users_name_idx`
 * → `users_full_name_idx` for its column: the table's name as the prefix, the columns' as words
 * between underscores. Undefined when nothing in it changes.
 */
export function derivedName(
  name: string,
  fromTable: string,
  toTable: string,
  columns: ReadonlyMap<string, string>,
): string | undefined {
  const prefixed = name.startsWith(`${fromTable}_`);
  const rest = prefixed ? name.slice(fromTable.length + 1) : name;
  const words = [...columns.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const renamed =
    words.length === 0
      ? rest
      : rest.replace(
          new RegExp(`(^|_)(${words.join('|')})(?=_|$)`, 'g'),
          (_, before: string, column: string) => `${before}${columns.get(column)}`,
        );
  const result = prefixed ? `${toTable}_${renamed}` : renamed;
  return result === name ? undefined : result;
}

function qualified(table: string): string {
  return `${escapeIdentifier(schemaOf(table))}.${escapeIdentifier(bare(table))}`;
}

function schemaOf(table: string): string {
  return table.slice(0, table.indexOf('.'));
}

function bare(table: string): string {
  return table.slice(table.indexOf('.') + 1);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
