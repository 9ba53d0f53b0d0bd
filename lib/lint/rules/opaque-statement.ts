/**
 * opaque-statement: a statement whose work the lock model cannot see (a DO block, CALL, EXECUTE,
 * ALTER EXTENSION UPDATE, DROP EXTENSION ... CASCADE, a SELECT that calls a function for its side
 * effects). It may lock, rewrite or drop anything, so it is never passed in silence: a person reads
 * it and acknowledges it with `-- rds-migrate:allow opaque-statement <reason>`.
 *
 * CREATE EXTENSION is the exception: its script creates the extension's own objects, all new, and
 * it is how every project gets pgcrypto or citext; DROP EXTENSION without CASCADE drops only those,
 * since PostgreSQL refuses it while anything else depends on them.
 */
import type { Node } from 'libpg-query';
import { describeStatement } from '../model/lock-model.ts';
import { type RuleModule, type StatementHit, type StatementUnderCheck, steps } from '../rule.ts';

export const opaqueStatement = {
  id: 'opaque-statement',
  title: 'A statement whose locks and work the linter cannot see',
  why: 'The statement runs code the lock model cannot read (a DO block, a procedure, a function, an extension script): it may lock, rewrite or drop anything, so someone must read it and vouch for it.',
  fix: steps(
    '1. Write the statements as plain SQL in the migration, so the linter checks each one (a loop over known tables becomes one statement per table).',
    '2. If it must stay code (a conditional on the catalog, a function the app owns), read what it runs, check its locks on a copy of the database, ' +
      'and mark it `-- rds-migrate:allow opaque-statement <what it does and why that is safe>`.',
  ),
  detect: { by: 'statement', check: opaqueStatements },
} as const satisfies RuleModule;

/**
 * Built-in functions a migration calls in a bare SELECT whose effect is known: sequences, settings,
 * advisory locks, waiting, notifications, and plain reads.
 */
const KNOWN_FUNCTIONS: ReadonlySet<string> = new Set([
  'setval',
  'nextval',
  'currval',
  'lastval',
  'set_config',
  'current_setting',
  'pg_advisory_lock',
  'pg_advisory_xact_lock',
  'pg_advisory_lock_shared',
  'pg_advisory_xact_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_xact_lock',
  'pg_advisory_unlock',
  'pg_advisory_unlock_all',
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  'pg_notify',
  'now',
  'version',
  'pg_backend_pid',
  'txid_current',
  'pg_current_xact_id',
  'count',
  'max',
  'min',
  'sum',
  'to_regclass',
  'format',
]);

function opaqueStatements({ node, pgVersion, schema }: StatementUnderCheck): StatementHit[] {
  if ('CreateExtensionStmt' in node) return [];
  if ('DropStmt' in node && node.DropStmt.removeType === 'OBJECT_EXTENSION') {
    return node.DropStmt.behavior === 'DROP_CASCADE'
      ? [
          {
            message:
              'DROP EXTENSION ... CASCADE drops whatever the extension created and every object that depends on it ' +
              '(a column of one of its types, an index using its operators), none of them named here',
          },
        ]
      : [];
  }
  if ('DoStmt' in node) return [{ message: doMessage(node) }];
  if ('SelectStmt' in node) return calledFunctions(node);
  const opaque = describeStatement(node, { pgVersion, schema }).opaque;
  return opaque ? [{ message: `${opaque}: its locks, rewrites and scans are unknown` }] : [];
}

function doMessage(node: Extract<Node, { DoStmt: unknown }>): string {
  const body = (node.DoStmt.args ?? []).flatMap((argument) =>
    'DefElem' in argument &&
    argument.DefElem.defname === 'as' &&
    argument.DefElem.arg &&
    'String' in argument.DefElem.arg
      ? [argument.DefElem.arg.String.sval ?? '']
      : [],
  )[0];
  const dynamic = body !== undefined && /\bEXECUTE\b/i.test(body);
  return (
    `DO runs a code block whose statements the linter cannot see${dynamic ? ', building SQL at run time (EXECUTE)' : ''}: ` +
    'its locks, rewrites and scans are unknown'
  );
}

/** A bare SELECT runs in a migration for its side effects: a function it calls may do anything. */
function calledFunctions(node: Extract<Node, { SelectStmt: unknown }>): StatementHit[] {
  const select = node.SelectStmt;
  if (select.intoClause) return [];
  const calls = [
    ...(select.targetList ?? []).flatMap((target) =>
      'ResTarget' in target && target.ResTarget.val && 'FuncCall' in target.ResTarget.val
        ? [target.ResTarget.val.FuncCall]
        : [],
    ),
    ...(select.fromClause ?? []).flatMap((from) =>
      'RangeFunction' in from
        ? (from.RangeFunction.functions ?? []).flatMap((pair) => {
            const first = 'List' in pair ? pair.List.items?.[0] : undefined;
            return first && 'FuncCall' in first ? [first.FuncCall] : [];
          })
        : [],
    ),
  ];
  const unknown = calls.flatMap((call) => {
    const names = (call.funcname ?? []).flatMap((part) => ('String' in part ? [part.String.sval ?? ''] : []));
    const name = names.at(-1) ?? '';
    const builtIn = names.length > 1 ? names[0] === 'pg_catalog' : KNOWN_FUNCTIONS.has(name);
    return builtIn ? [] : [names.join('.')];
  });
  if (unknown.length === 0) return [];
  return [
    {
      message:
        `SELECT calls ${unknown.map((name) => `${name}()`).join(', ')}, run for ${unknown.length === 1 ? 'its' : 'their'} ` +
        'side effects, which the linter cannot see: the locks, rewrites and scans are unknown',
    },
  ];
}
