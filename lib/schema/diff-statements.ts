/**
 * The diff library's statements as PostgreSQL's parser reads them: each one a change of a known
 * kind (a column added, an index built, a constraint validated, an enum set aside to be
 * recreated), with its names read from the parse tree, so safe-migrations.ts decides on kinds and
 * names rather than on the library's spelling. What our rules do not rewrite is `other`.
 */
import type { AlterTableCmd, ColumnDef, Constraint, Node, RangeVar } from 'libpg-query';

/** The suffix the diff library gives an enum it recreates, while the new one takes its name. */
const SET_ASIDE = '__old_version_to_be_dropped';

interface Statement {
  /** The statement as the library wrote it. */
  readonly sql: string;
}

/** A table as the library names it: `schema.table`, unquoted. */
type Table = string;

export type DiffStatement = Statement &
  (
    | { readonly kind: 'create-table'; readonly table: Table }
    | { readonly kind: 'drop-table'; readonly table: Table }
    | {
        readonly kind: 'create-index';
        readonly table: Table;
        readonly unique: boolean;
        readonly only: boolean;
      }
    | { readonly kind: 'drop-index'; readonly index: string }
    | {
        readonly kind: 'add-column';
        readonly table: Table;
        readonly column: string;
        readonly notNull?: NotNullClause;
      }
    | { readonly kind: 'set-not-null'; readonly table: Table; readonly column: string }
    | { readonly kind: 'add-identity'; readonly table: Table; readonly column: string }
    | {
        readonly kind: 'set-data-type';
        readonly table: Table;
        readonly column: string;
        /** The statement without its USING, when USING only casts the column to the new type. */
        readonly withoutUsing?: string;
        /** The enum a column is converted to through text (`using col::text::type`). */
        readonly viaTextTo?: string;
      }
    | { readonly kind: 'drop-column'; readonly table: Table; readonly column: string }
    | {
        readonly kind: 'adopt-index';
        readonly table: Table;
        readonly constraint: string;
      }
    | {
        readonly kind: 'add-constraint-not-valid';
        readonly table: Table;
        readonly constraint: string;
        /** A foreign key's referenced table, as written (`users`, `public.users`). */
        readonly references?: string;
        /** The statement without NOT VALID. */
        readonly checkedAtOnce: string;
      }
    | { readonly kind: 'validate-constraint'; readonly table: Table; readonly constraint: string }
    | { readonly kind: 'drop-constraint'; readonly table: Table; readonly constraint: string }
    | { readonly kind: 'validate-domain-constraint'; readonly domain: string; readonly constraint: string }
    | { readonly kind: 'comment-on-index'; readonly index: string }
    | { readonly kind: 'function-bodies-unchecked' }
    | { readonly kind: 'enum-set-aside'; readonly type: string }
    | { readonly kind: 'enum-created'; readonly type: string }
    | { readonly kind: 'enum-set-aside-dropped'; readonly type: string }
    | { readonly kind: 'other' }
  );

export type DiffStatementKind = DiffStatement['kind'];

/** NOT NULL in an added column's definition: the statement as it would read without it. */
interface NotNullClause {
  /** No DEFAULT, identity or generation: rows that exist need a value. */
  readonly needsBackfill: boolean;
  readonly withoutNotNull: string;
}

let parserModule: Promise<typeof import('libpg-query')> | undefined;
function parser(): Promise<typeof import('libpg-query')> {
  parserModule ??= import('libpg-query');
  return parserModule;
}

/** Reads each of the library's statements (one per string) through the parser. */
export async function readDiffStatements(statements: readonly string[]): Promise<DiffStatement[]> {
  const { parse } = await parser();
  const read: DiffStatement[] = [];
  for (const sql of statements) {
    const stmts = (await parse(sql)).stmts ?? [];
    const node = stmts.length === 1 ? stmts[0]?.stmt : undefined;
    read.push(node ? diffStatement(sql, node) : { sql, kind: 'other' });
  }
  return read;
}

function diffStatement(sql: string, node: Node): DiffStatement {
  if ('CreateStmt' in node) return { sql, kind: 'create-table', table: tableName(node.CreateStmt.relation) };
  if ('IndexStmt' in node) {
    const index = node.IndexStmt;
    return {
      sql,
      kind: 'create-index',
      table: tableName(index.relation),
      unique: index.unique === true,
      only: index.relation?.inh !== true,
    };
  }
  if ('AlterTableStmt' in node) {
    const { relation, cmds = [] } = node.AlterTableStmt;
    const cmd = cmds.length === 1 ? cmds[0] : undefined;
    if (cmd && 'AlterTableCmd' in cmd) return alterTable(sql, tableName(relation), cmd.AlterTableCmd);
  }
  if ('AlterDomainStmt' in node && node.AlterDomainStmt.subtype === 'V') {
    const domain = node.AlterDomainStmt;
    return {
      sql,
      kind: 'validate-domain-constraint',
      domain: joined(domain.typeName ?? []),
      constraint: domain.name ?? '',
    };
  }
  if ('CommentStmt' in node && node.CommentStmt.objtype === 'OBJECT_INDEX' && node.CommentStmt.object)
    return { sql, kind: 'comment-on-index', index: namesOf(node.CommentStmt.object) };
  if ('DropStmt' in node) return drop(sql, node.DropStmt.removeType, node.DropStmt.objects ?? []);
  if ('RenameStmt' in node) {
    const rename = node.RenameStmt;
    const type = rename.renameType === 'OBJECT_TYPE' && rename.object ? namesOf(rename.object) : undefined;
    if (type && rename.newname?.endsWith(SET_ASIDE)) return { sql, kind: 'enum-set-aside', type };
  }
  if ('CreateEnumStmt' in node)
    return { sql, kind: 'enum-created', type: joined(node.CreateEnumStmt.typeName ?? []) };
  if ('VariableSetStmt' in node) {
    const set = node.VariableSetStmt;
    const value = set.args?.[0];
    const off = value && 'A_Const' in value && value.A_Const.sval?.sval === 'off';
    if (set.name === 'check_function_bodies' && !set.is_local && off)
      return { sql, kind: 'function-bodies-unchecked' };
  }
  return { sql, kind: 'other' };
}

function alterTable(sql: string, table: Table, cmd: AlterTableCmd): DiffStatement {
  const column = cmd.name ?? '';
  switch (cmd.subtype) {
    case 'AT_AddColumn': {
      const def = cmd.def && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
      if (!def) break;
      const notNull = notNullClause(sql, def);
      return { sql, kind: 'add-column', table, column: def.colname ?? '', ...(notNull ? { notNull } : {}) };
    }
    case 'AT_SetNotNull':
      return { sql, kind: 'set-not-null', table, column };
    case 'AT_AddIdentity':
      return { sql, kind: 'add-identity', table, column };
    case 'AT_DropColumn':
      return { sql, kind: 'drop-column', table, column };
    case 'AT_AlterColumnType': {
      const def = cmd.def && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
      return def ? columnType(sql, table, column, def) : { sql, kind: 'other' };
    }
    case 'AT_ValidateConstraint':
      return { sql, kind: 'validate-constraint', table, constraint: column };
    case 'AT_DropConstraint':
      return { sql, kind: 'drop-constraint', table, constraint: column };
    case 'AT_AddConstraint': {
      const constraint = cmd.def && 'Constraint' in cmd.def ? cmd.def.Constraint : undefined;
      return constraint ? addConstraint(sql, table, constraint) : { sql, kind: 'other' };
    }
  }
  return { sql, kind: 'other' };
}

function addConstraint(sql: string, table: Table, constraint: Constraint): DiffStatement {
  const name = constraint.conname ?? '';
  const isKey = constraint.contype === 'CONSTR_UNIQUE' || constraint.contype === 'CONSTR_PRIMARY';
  if (isKey && constraint.indexname) return { sql, kind: 'adopt-index', table, constraint: name };
  const suffix = ' not valid;';
  if (!constraint.skip_validation || !sql.toLowerCase().endsWith(suffix)) return { sql, kind: 'other' };
  const pktable = constraint.contype === 'CONSTR_FOREIGN' ? constraint.pktable : undefined;
  return {
    sql,
    kind: 'add-constraint-not-valid',
    table,
    constraint: name,
    ...(pktable ? { references: tableName(pktable) } : {}),
    checkedAtOnce: `${sql.slice(0, -suffix.length)};`,
  };
}

/** NOT NULL among an added column's constraints, or undefined. */
function notNullClause(sql: string, def: ColumnDef): NotNullClause | undefined {
  const constraints = (def.constraints ?? []).flatMap((node) =>
    'Constraint' in node ? [node.Constraint] : [],
  );
  const notNull = constraints.find((constraint) => constraint.contype === 'CONSTR_NOTNULL');
  if (notNull?.location === undefined) return undefined;
  const valued = constraints.some((constraint) =>
    ['CONSTR_DEFAULT', 'CONSTR_IDENTITY', 'CONSTR_GENERATED'].includes(constraint.contype ?? ''),
  );
  const bytes = Buffer.from(sql);
  const before = bytes.subarray(0, notNull.location).toString().trimEnd();
  const after = bytes.subarray(notNull.location).toString();
  if (!after.toLowerCase().startsWith('not null')) return undefined;
  return { needsBackfill: !valued, withoutNotNull: before + after.slice('not null'.length) };
}

function columnType(sql: string, table: Table, column: string, def: ColumnDef): DiffStatement {
  const using = def.raw_default && 'TypeCast' in def.raw_default ? def.raw_default.TypeCast : undefined;
  const inner = using?.arg && 'TypeCast' in using.arg ? using.arg.TypeCast : undefined;
  const viaText = inner && joined(inner.typeName?.names ?? []) === 'text' && def.typeName;
  if (viaText)
    return { sql, kind: 'set-data-type', table, column, viaTextTo: joined(def.typeName?.names ?? []) };
  const castColumn = using?.arg && 'ColumnRef' in using.arg ? using.arg.ColumnRef : undefined;
  const castsOnly =
    castColumn?.location !== undefined &&
    joined(castColumn.fields ?? []) === column &&
    !def.collClause &&
    sameTree(using?.typeName, def.typeName);
  if (!castsOnly || castColumn?.location === undefined) return { sql, kind: 'set-data-type', table, column };
  const head = Buffer.from(sql).subarray(0, castColumn.location).toString().trimEnd();
  if (!head.toLowerCase().endsWith(' using')) return { sql, kind: 'set-data-type', table, column };
  return { sql, kind: 'set-data-type', table, column, withoutUsing: `${head.slice(0, -' using'.length)};` };
}

function drop(sql: string, removeType: string | undefined, objects: readonly Node[]): DiffStatement {
  const object = objects.length === 1 ? objects[0] : undefined;
  if (!object) return { sql, kind: 'other' };
  if (removeType === 'OBJECT_TABLE') return { sql, kind: 'drop-table', table: namesOf(object) };
  if (removeType === 'OBJECT_INDEX') return { sql, kind: 'drop-index', index: namesOf(object) };
  if (removeType === 'OBJECT_TYPE' && 'TypeName' in object) {
    const type = joined(object.TypeName.names ?? []);
    if (type.endsWith(SET_ASIDE))
      return { sql, kind: 'enum-set-aside-dropped', type: type.slice(0, -SET_ASIDE.length) };
  }
  return { sql, kind: 'other' };
}

function tableName(relation: RangeVar | undefined): Table {
  if (!relation) return '';
  return relation.schemaname ? `${relation.schemaname}.${relation.relname}` : (relation.relname ?? '');
}

/** `public.users` of a name list (`List` of `String`s, or the list itself). */
function namesOf(node: Node): string {
  return 'List' in node ? joined(node.List.items ?? []) : joined([node]);
}

function joined(names: readonly Node[]): string {
  return names.map((name) => ('String' in name ? name.String.sval : '')).join('.');
}

/** Two parse trees alike but for where their nodes stand in the text. */
function sameTree(a: unknown, b: unknown): boolean {
  const withoutLocations = (value: unknown) =>
    JSON.stringify(value, (key, inner: unknown) => (key === 'location' ? undefined : inner));
  return a !== undefined && withoutLocations(a) === withoutLocations(b);
}
