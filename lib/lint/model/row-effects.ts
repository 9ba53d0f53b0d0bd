/**
 * The effects of the statements that read or change a table's rows: SELECT (and SELECT INTO),
 * UPDATE and DELETE of whole tables or of rows no key bounds, VACUUM and ANALYZE. The table that
 * maps each statement kind to its entry is lock-model.ts.
 */
import type { Node, RangeVar, VacuumStmt } from 'libpg-query';
import { type EffectParts, LOCKS, lock, ref, refused, table } from './effect-parts.ts';
import { isOptionOn, readWork, relationsRead } from './parse-tree-reading.ts';
import { fromRangeVar, quoted } from './relation-name.ts';
import type { Target } from './statement-effect.ts';

export function selectEffect(statement: Extract<Node, { SelectStmt: unknown }>['SelectStmt']): EffectParts {
  const sources = relationsRead(statement);
  const rowLocks = (statement.lockingClause ?? []).length > 0;
  const locks = sources.map((name) => lock(table(name), rowLocks ? 'ROW SHARE' : 'ACCESS SHARE', LOCKS));
  const work = statement.intoClause ? readWork({ SelectStmt: statement }, 'SELECT INTO') : [];
  return { locks, work, statement: statement.intoClause ? 'SELECT INTO' : 'SELECT' };
}

/**
 * UPDATE or DELETE: without WHERE every row is locked until commit, stalling every writer of the
 * table: a finding. One whose WHERE does not bound it to some keys (a backfill's `WHERE col IS
 * NULL`, a purge's one-sided range) may change every row just the same: long work, no finding by
 * itself (its rows may be few), but a lock held since an earlier statement is held through it. One
 * that joins another table (UPDATE ... FROM, DELETE ... USING) is bounded by it.
 */
export function wholeTableWrite(
  verb: 'UPDATE' | 'DELETE',
  relation: RangeVar | undefined,
  where: Node | undefined,
  recipe: 'update-without-where' | 'delete-without-where',
  joined = false,
): EffectParts {
  if (!relation) return {};
  const target = table(fromRangeVar(relation));
  const locks = [lock(target, 'ROW EXCLUSIVE', LOCKS)];
  if (where && (joined || boundedByKeys(where))) return { locks };
  const name = quoted(fromRangeVar(relation));
  const doc = ref('Concurrency Control', '13.3.2 Row-Level Locks');
  if (where) {
    return {
      locks,
      work: [
        {
          kind: 'row locks',
          target,
          message:
            `${verb} ... WHERE can change every row of table ${name}: nothing in its WHERE bounds it to a key, a list of keys ` +
            'or a closed range (IS NULL, <> or a one-sided range match any number of rows)',
          doc,
        },
      ],
    };
  }
  return {
    locks,
    work: [
      {
        kind: 'row locks',
        target,
        message: `${verb} without WHERE changes every row of table ${name} in one transaction`,
        recipe,
        doc,
      },
    ],
  };
}

/**
 * Whether a WHERE limits the rows to some keys: a column equal to a value or a parameter, IN or
 * = ANY a list, BETWEEN, a closed range on one column, IN a subquery with LIMIT (a batch). AND needs
 * one such condition, OR needs every branch to be one.
 */
function boundedByKeys(where: Node): boolean {
  if ('BoolExpr' in where) {
    const args = where.BoolExpr.args ?? [];
    if (where.BoolExpr.boolop === 'OR_EXPR') return args.length > 0 && args.every(boundedByKeys);
    if (where.BoolExpr.boolop !== 'AND_EXPR') return false;
    return args.some(boundedByKeys) || closedRange(args);
  }
  if ('SubLink' in where) {
    const sublink = where.SubLink;
    const select =
      sublink.subselect && 'SelectStmt' in sublink.subselect ? sublink.subselect.SelectStmt : undefined;
    return sublink.subLinkType === 'ANY_SUBLINK' && select?.limitCount !== undefined;
  }
  if (!('A_Expr' in where)) return false;
  const expression = where.A_Expr;
  if (!isColumn(expression.lexpr)) return false;
  switch (expression.kind) {
    case 'AEXPR_OP':
      return operatorOf(expression) === '=' && isValue(expression.rexpr);
    case 'AEXPR_OP_ANY':
    case 'AEXPR_IN':
      return operatorOf(expression) === '=';
    case 'AEXPR_BETWEEN':
      return true;
    default:
      return false;
  }
}

/** `col >= a AND col < b` (any of <, <=, >, >=): a closed range on one column. */
function closedRange(conjuncts: readonly Node[]): boolean {
  const sides = new Map<string, Set<'low' | 'high'>>();
  for (const conjunct of conjuncts) {
    if (!('A_Expr' in conjunct) || conjunct.A_Expr.kind !== 'AEXPR_OP') continue;
    const expression = conjunct.A_Expr;
    const column =
      isColumn(expression.lexpr) && isValue(expression.rexpr) ? columnKey(expression.lexpr) : undefined;
    const operator = operatorOf(expression);
    if (!column || !operator) continue;
    const side = operator.startsWith('>') ? 'low' : operator.startsWith('<') ? 'high' : undefined;
    if (side) sides.set(column, (sides.get(column) ?? new Set()).add(side));
  }
  return [...sides.values()].some((found) => found.size === 2);
}

function operatorOf(expression: { name?: Node[] }): string | undefined {
  const name = expression.name?.at(-1);
  return name && 'String' in name ? name.String.sval : undefined;
}

function isColumn(node: Node | undefined): node is Extract<Node, { ColumnRef: unknown }> {
  return node !== undefined && 'ColumnRef' in node;
}

function columnKey(node: Extract<Node, { ColumnRef: unknown }>): string {
  return (node.ColumnRef.fields ?? [])
    .map((field) => ('String' in field ? field.String.sval : '*'))
    .join('.');
}

/** A constant, a parameter, or either cast: one value, the same for every row. */
function isValue(node: Node | undefined): boolean {
  if (!node) return false;
  if ('TypeCast' in node) return isValue(node.TypeCast.arg);
  return ('A_Const' in node && node.A_Const.isnull !== true) || 'ParamRef' in node;
}

export function vacuumEffect(statement: VacuumStmt): EffectParts {
  const relations = (statement.rels ?? []).flatMap((node) =>
    'VacuumRelation' in node && node.VacuumRelation.relation
      ? [fromRangeVar(node.VacuumRelation.relation)]
      : [],
  );
  const targets: Target[] =
    relations.length > 0
      ? relations.map((name) => table(name))
      : [{ kind: 'group', description: 'every table of the database' }];
  if (!statement.is_vacuumcmd) {
    return {
      statement: 'ANALYZE',
      locks: targets.map((target) => lock(target, 'SHARE UPDATE EXCLUSIVE', LOCKS)),
    };
  }
  const full = (statement.options ?? []).some((option) => isOptionOn(option, 'full'));
  const what =
    relations.length > 0
      ? `table ${relations.map((name) => quoted(name)).join(', ')}`
      : 'every table of the database';
  return {
    statement: full ? 'VACUUM FULL' : 'VACUUM',
    locks: targets.map((target) =>
      lock(
        target,
        full ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE',
        `${LOCKS}; ${ref('VACUUM', 'Notes')}`,
      ),
    ),
    work: full
      ? targets.map((target) => ({
          kind: 'rewrite' as const,
          target,
          message: `VACUUM FULL rewrites ${what} under an ACCESS EXCLUSIVE lock`,
          recipe: 'vacuum-full' as const,
          doc: ref('VACUUM', 'Notes'),
        }))
      : targets.map((target) => ({
          kind: 'scan' as const,
          target,
          message: `VACUUM reads ${what}`,
          doc: ref('VACUUM'),
        })),
    transactionBlock: refused(
      full ? 'VACUUM FULL' : 'VACUUM',
      ref('VACUUM', 'Notes (VACUUM cannot be executed inside a transaction block)'),
    ),
  };
}
