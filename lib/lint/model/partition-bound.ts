/**
 * Whether valid CHECK constraints already imply a partition's bound, so ATTACH PARTITION skips its
 * scan (PostgreSQL 18 docs, ALTER TABLE, ATTACH PARTITION: "if a valid CHECK constraint ... implies
 * the partition constraint, the scan is skipped"; on the server it logs "partition constraint for
 * table ... is implied by existing constraints" at DEBUG1). The partition constraint includes
 * `key IS NOT NULL`, so the key column must be NOT NULL too: a CHECK alone lets NULLs through.
 *
 * A small prover, on the safe side: a single-column key, constants it can compare (numbers, and
 * ISO dates and timestamps written alike), comparisons joined by AND. What it cannot prove it
 * leaves to the scan, as a false alarm costs less than a missed lock.
 */
import type { Node, PartitionBoundSpec } from 'libpg-query';

type Constant = number | string;

interface Comparison {
  readonly operator: '<' | '<=' | '=' | '>=' | '>';
  readonly value: Constant;
}

export function boundImpliedByChecks(
  bound: PartitionBoundSpec | undefined,
  key: string,
  checks: readonly Node[],
  keyDeclaredNotNull: boolean,
): boolean {
  if (!bound || bound.is_default) return false;
  const conjuncts = checks.flatMap(andParts);
  const notNull = keyDeclaredNotNull || conjuncts.some((conjunct) => isNotNullTest(conjunct, key));
  if (!notNull) return false;
  if (bound.strategy === 'r') return rangeImplied(bound, key, conjuncts);
  if (bound.strategy === 'l') return listImplied(bound, key, conjuncts);
  return false;
}

function rangeImplied(bound: PartitionBoundSpec, key: string, conjuncts: readonly Node[]): boolean {
  if ((bound.lowerdatums ?? []).length !== 1 || (bound.upperdatums ?? []).length !== 1) return false;
  const comparisons = conjuncts.flatMap((conjunct) => comparisonsOf(conjunct, key));
  /** MINVALUE/MAXVALUE, or a comparison with a constant on the right side of the bound's value. */
  const held = (
    datum: Node | undefined,
    boundless: 'minvalue' | 'maxvalue',
    accepts: (comparison: Comparison, order: number) => boolean,
  ) =>
    isBoundless(datum, boundless) ||
    comparisons.some((comparison) => {
      const limit = constantOf(datum);
      const order = limit === undefined ? undefined : compare(comparison.value, limit);
      return order !== undefined && accepts(comparison, order);
    });
  // key >= c, key > c or key = c, with c at or above the bound's FROM.
  const lowerHeld = held(
    bound.lowerdatums?.[0],
    'minvalue',
    ({ operator }, order) => ['>=', '>', '='].includes(operator) && order >= 0,
  );
  // TO is exclusive: key < c with c at or below it, key <= c or key = c below it.
  const upperHeld = held(bound.upperdatums?.[0], 'maxvalue', ({ operator }, order) =>
    operator === '<' ? order <= 0 : ['<=', '='].includes(operator) && order < 0,
  );
  return lowerHeld && upperHeld;
}

function listImplied(bound: PartitionBoundSpec, key: string, conjuncts: readonly Node[]): boolean {
  const allowed = (bound.listdatums ?? []).map(constantOf);
  if (allowed.some((value) => value === undefined)) return false;
  return conjuncts.some((conjunct) => {
    const values = listOf(conjunct, key);
    return (
      values !== undefined &&
      values.length > 0 &&
      values.every((value) => allowed.some((other) => other !== undefined && compare(value, other) === 0))
    );
  });
}

function andParts(node: Node): Node[] {
  if ('BoolExpr' in node && node.BoolExpr.boolop === 'AND_EXPR')
    return (node.BoolExpr.args ?? []).flatMap(andParts);
  return [node];
}

function isNotNullTest(node: Node, key: string): boolean {
  return (
    'NullTest' in node && node.NullTest.nulltesttype === 'IS_NOT_NULL' && columnOf(node.NullTest.arg) === key
  );
}

const FLIPPED: Readonly<Record<string, Comparison['operator']>> = {
  '<': '>',
  '<=': '>=',
  '=': '=',
  '>=': '<=',
  '>': '<',
};

/** `key op constant` or `constant op key`, and BETWEEN as its two comparisons. */
function comparisonsOf(node: Node, key: string): Comparison[] {
  if (!('A_Expr' in node)) return [];
  const expression = node.A_Expr;
  if (expression.kind === 'AEXPR_BETWEEN' && columnOf(expression.lexpr) === key) {
    const range = expression.rexpr && 'List' in expression.rexpr ? (expression.rexpr.List.items ?? []) : [];
    const [low, high] = range.map(constantOf);
    return low !== undefined && high !== undefined
      ? [
          { operator: '>=', value: low },
          { operator: '<=', value: high },
        ]
      : [];
  }
  if (expression.kind !== 'AEXPR_OP') return [];
  const name = expression.name?.[0];
  const operator = name && 'String' in name ? name.String.sval : undefined;
  if (!operator || !(operator in FLIPPED)) return [];
  if (columnOf(expression.lexpr) === key) {
    const value = constantOf(expression.rexpr);
    return value === undefined ? [] : [{ operator: operator as Comparison['operator'], value }];
  }
  if (columnOf(expression.rexpr) === key) {
    const value = constantOf(expression.lexpr);
    const flipped = FLIPPED[operator];
    return value === undefined || !flipped ? [] : [{ operator: flipped, value }];
  }
  return [];
}

/** `key IN (a, b)` or `key = c`: the values the key may take. */
function listOf(node: Node, key: string): Constant[] | undefined {
  if (!('A_Expr' in node) || columnOf(node.A_Expr.lexpr) !== key) return undefined;
  const expression = node.A_Expr;
  if (expression.kind === 'AEXPR_IN') {
    const items = expression.rexpr && 'List' in expression.rexpr ? (expression.rexpr.List.items ?? []) : [];
    const values = items.map(constantOf);
    return values.every((value) => value !== undefined) ? (values as Constant[]) : undefined;
  }
  const equality = comparisonsOf(node, key);
  return equality.length === 1 && equality[0]?.operator === '=' ? [equality[0].value] : undefined;
}

function columnOf(node: Node | undefined): string | undefined {
  if (!node) return undefined;
  if ('TypeCast' in node) return columnOf(node.TypeCast.arg);
  if (!('ColumnRef' in node)) return undefined;
  const field = node.ColumnRef.fields?.at(-1);
  return field && 'String' in field ? field.String.sval : undefined;
}

function constantOf(node: Node | undefined): Constant | undefined {
  if (!node) return undefined;
  if ('TypeCast' in node) return constantOf(node.TypeCast.arg);
  if (!('A_Const' in node) || node.A_Const.isnull) return undefined;
  const constant = node.A_Const;
  if (constant.sval) return constant.sval.sval ?? '';
  if (constant.ival) return constant.ival.ival ?? 0;
  if (constant.fval) return Number(constant.fval.fval);
  return undefined;
}

function isBoundless(node: Node | undefined, word: 'minvalue' | 'maxvalue'): boolean {
  return columnOf(node) === word;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;

/** The order of two constants, when it is certain whatever their type; undefined otherwise. */
function compare(a: Constant, b: Constant): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  const left = String(a);
  const right = String(b);
  if (left === right) return 0;
  const numbers = [Number(left), Number(right)];
  if (left.trim() !== '' && right.trim() !== '' && numbers.every(Number.isFinite)) {
    return Math.sign((numbers[0] ?? 0) - (numbers[1] ?? 0));
  }
  if (ISO_DATE.test(left) && ISO_DATE.test(right) && left.length === right.length) {
    return left < right ? -1 : 1;
  }
  return undefined;
}
