/**
 * When ALTER TABLE rewrites a table, from the documented rules (PostgreSQL 18 docs, ALTER TABLE,
 * Notes): a column type change rewrites unless the old type is binary coercible to the new one
 * and USING leaves the values alone; an added column rewrites when its default is volatile (and,
 * before 11, when it has any default at all), or when it is a stored generated or identity
 * column. Pure functions over parse-tree pieces and what the linter knows of the column.
 */
import type { ColumnDef, Constraint, Node, TypeName } from 'libpg-query';
import type { PgVersion } from './pg-version.ts';

/** A column's type as the parser spells it: `pg_catalog.varchar(20)` → { name: 'varchar', modifiers: [20] }. */
export interface ColumnType {
  readonly name: string;
  /** Type modifiers (length, precision, scale); empty when unconstrained. */
  readonly modifiers: readonly number[];
  readonly array: boolean;
}

export const ALTER_TABLE_NOTES = 'PostgreSQL 18 docs, ALTER TABLE, Notes';

export function columnType(typeName: TypeName | undefined): ColumnType | undefined {
  const name = lastName(typeName?.names);
  if (!typeName || name === undefined) return undefined;
  const modifiers = (typeName.typmods ?? []).flatMap((node) =>
    'A_Const' in node && node.A_Const.ival ? [node.A_Const.ival.ival ?? 0] : [],
  );
  return { name, modifiers, array: (typeName.arrayBounds ?? []).length > 0 };
}

export function formatType(type: ColumnType): string {
  const modifiers = type.modifiers.length > 0 ? `(${type.modifiers.join(',')})` : '';
  return `${type.name}${modifiers}${type.array ? '[]' : ''}`;
}

type TypeChange =
  | { readonly rewrite: false; readonly why: string }
  | { readonly rewrite: true; readonly why: string }
  | { readonly rewrite: 'unknown'; readonly why: string };

/**
 * Binary-coercible changes PostgreSQL makes without touching a row: text and varchar are the
 * same bytes, and cidr is a subset of inet (pg_cast lists these with method 'b').
 */
const BINARY_COERCIBLE: ReadonlySet<string> = new Set(['varchar>text', 'text>varchar', 'cidr>inet']);

/**
 * Types whose length or precision can grow (or be dropped) without a rewrite: the length check
 * becomes a no-op (PostgreSQL 9.2 release notes, "ALTER TABLE ... SET DATA TYPE avoids table
 * rewrites": varchar, varbit, numeric precision, interval, timestamp, timestamptz).
 */
const WIDENING_WITHOUT_REWRITE: ReadonlySet<string> = new Set([
  'varchar',
  'varbit',
  'numeric',
  'timestamp',
  'timestamptz',
  'interval',
]);

/**
 * Whether `ALTER COLUMN ... TYPE to [USING using]` rewrites, given the column's type before
 * (undefined when no earlier migration shows it).
 */
export function typeChange(
  column: string,
  from: ColumnType | undefined,
  to: ColumnType,
  using: Node | undefined,
  collate: boolean,
): TypeChange {
  if (using && !isPlainColumn(using, column)) {
    return { rewrite: true, why: 'USING computes new values, so every row is rewritten' };
  }
  if (!from) {
    return {
      rewrite: 'unknown',
      why: `no earlier migration shows the column's type, so a change to ${formatType(to)} may rewrite the table`,
    };
  }
  const change = `${formatType(from)} to ${formatType(to)}`;
  if (collate) return { rewrite: true, why: `${change} with a new collation rebuilds the column's indexes` };
  if (from.array !== to.array) return { rewrite: true, why: `${change} converts every value` };
  if (from.name === to.name && sameOrWider(from, to)) {
    return { rewrite: false, why: `${change} keeps every stored value valid (no rewrite, no index rebuild)` };
  }
  if (BINARY_COERCIBLE.has(`${from.name}>${to.name}`) && to.modifiers.length === 0) {
    return { rewrite: false, why: `${change} is binary coercible (no rewrite)` };
  }
  return { rewrite: true, why: `${change} is not binary coercible, so every row is rewritten` };
}

function sameOrWider(from: ColumnType, to: ColumnType): boolean {
  if (to.modifiers.length === 0 && (from.modifiers.length === 0 || WIDENING_WITHOUT_REWRITE.has(to.name))) {
    return true;
  }
  if (from.modifiers.join(',') === to.modifiers.join(',')) return true;
  if (!WIDENING_WITHOUT_REWRITE.has(to.name) || from.modifiers.length === 0) return false;
  const [fromLength = 0, fromScale = 0] = from.modifiers;
  const [toLength = 0, toScale = 0] = to.modifiers;
  // numeric(p, s) grows without a rewrite only when the scale stays: the stored digits do not move.
  if (to.name === 'numeric') return toScale === fromScale && toLength >= fromLength;
  if (to.name === 'interval') return false;
  return toLength >= fromLength;
}

/** `USING col` or `USING col::type`: the values stay what the plain cast gives. */
function isPlainColumn(expression: Node, column: string): boolean {
  const inner = 'TypeCast' in expression ? expression.TypeCast.arg : expression;
  if (!inner || !('ColumnRef' in inner)) return false;
  const field = inner.ColumnRef.fields?.at(-1);
  return field !== undefined && 'String' in field && field.String.sval === column;
}

// ---------------------------------------------------------------------------------------------
// ADD COLUMN.

/** Functions whose result changes per row (pg_proc.provolatile = 'v'), as they appear in defaults. */
const VOLATILE_FUNCTIONS: ReadonlySet<string> = new Set([
  'random',
  'random_normal',
  'setseed',
  'gen_random_uuid',
  'gen_random_bytes',
  'uuidv4',
  'uuidv7',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'txid_current',
  'pg_current_xact_id',
]);

const SERIAL_TYPES: ReadonlySet<string> = new Set([
  'smallserial',
  'serial',
  'bigserial',
  'serial2',
  'serial4',
  'serial8',
]);

export function columnConstraints(column: ColumnDef): Constraint[] {
  return (column.constraints ?? []).flatMap((node) => ('Constraint' in node ? [node.Constraint] : []));
}

export function isSerial(column: ColumnDef): boolean {
  const names = column.typeName?.names ?? [];
  return names.length === 1 && SERIAL_TYPES.has(lastName(names) ?? '');
}

/** Why an added column rewrites the table, or undefined when its values fit in the catalog. */
type AddedColumnRewrite =
  | { readonly cause: 'volatile'; readonly what: string }
  | { readonly cause: 'default-before-11'; readonly what: string }
  | { readonly cause: 'stored-generated'; readonly what: string };

export function addedColumnRewrite(column: ColumnDef, version: PgVersion): AddedColumnRewrite | undefined {
  const constraints = columnConstraints(column);
  if (isSerial(column)) return { cause: 'volatile', what: 'a serial type (a nextval() default)' };
  if (constraints.some((constraint) => constraint.contype === 'CONSTR_IDENTITY')) {
    return { cause: 'volatile', what: 'an identity' };
  }
  const generated = constraints.find((constraint) => constraint.contype === 'CONSTR_GENERATED');
  // PostgreSQL 18 adds virtual generated columns (the default kind there): computed on read, stored nowhere.
  if (generated && (generated.generated_kind !== 'v' || version < 18)) {
    return { cause: 'stored-generated', what: 'a stored generated column' };
  }
  const expression = constraints.find((constraint) => constraint.contype === 'CONSTR_DEFAULT')?.raw_expr;
  if (!expression || isNullConstant(expression)) return undefined;
  const volatile = functionNames(expression).find((name) => VOLATILE_FUNCTIONS.has(name));
  if (volatile) return { cause: 'volatile', what: `volatile default ${volatile}()` };
  if (version < 11) return { cause: 'default-before-11', what: 'a DEFAULT' };
  return undefined;
}

function isNullConstant(expression: Node): boolean {
  return 'A_Const' in expression && expression.A_Const.isnull === true;
}

/** Names of every function called anywhere in an expression tree. */
export function functionNames(tree: unknown): string[] {
  if (Array.isArray(tree)) return tree.flatMap(functionNames);
  if (typeof tree !== 'object' || tree === null) return [];
  const nested = Object.values(tree).flatMap(functionNames);
  const last = (tree as { FuncCall?: { funcname?: Node[] } }).FuncCall?.funcname?.at(-1);
  return last && 'String' in last && last.String.sval ? [last.String.sval, ...nested] : nested;
}

function lastName(names: readonly Node[] | undefined): string | undefined {
  const last = names?.at(-1);
  return last && 'String' in last ? last.String.sval : undefined;
}
