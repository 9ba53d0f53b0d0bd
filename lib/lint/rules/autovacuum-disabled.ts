/**
 * autovacuum-disabled: SET (autovacuum_enabled = false), or toast.autovacuum_enabled, on a table,
 * in ALTER TABLE or CREATE TABLE ... WITH.
 */
import type { Node } from 'libpg-query';
import { fromNames, fromRangeVar, quoted } from '../model/relation-name.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const autovacuumDisabled = {
  id: 'autovacuum-disabled',
  title: 'Autovacuum turned off on a table',
  why: 'Dead rows are never reclaimed and statistics never refreshed: the table and its indexes bloat and plans go stale until someone vacuums by hand; only the anti-wraparound vacuum still runs, late and long.',
  fix: steps(
    '1. Tune instead of disabling: autovacuum_vacuum_scale_factor, autovacuum_vacuum_cost_limit, autovacuum_vacuum_insert_threshold.',
    '2. If the table is really vacuumed by a job of yours, mark it `-- rds-migrate:allow autovacuum-disabled <reason>` and say which job.',
  ),
  detect: { by: 'statement', check: autovacuumTurnedOff },
} as const satisfies RuleModule;

function autovacuumTurnedOff({ node }: StatementUnderCheck): StatementHit[] {
  if ('CreateStmt' in node && node.CreateStmt.relation) {
    const table = fromRangeVar(node.CreateStmt.relation);
    return disabledOptions(node.CreateStmt.options).map((option) => ({
      message: `CREATE TABLE ${quoted(table)} WITH (${option} = false) turns autovacuum off for it`,
    }));
  }
  return tableCommands(node, 'AT_SetRelOptions').flatMap(({ table, command, part }) => {
    const options = command.def && 'List' in command.def ? command.def.List.items : [];
    return disabledOptions(options).map((option) => ({
      part,
      message: `SET (${option} = false) turns autovacuum off for table ${quoted(table)}`,
    }));
  });
}

const FALSE = new Set(['false', 'off', 'no', '0', 'f', 'n']);

function disabledOptions(options: Node[] | undefined): string[] {
  return (options ?? []).flatMap((option) => {
    if (!('DefElem' in option) || option.DefElem.defname !== 'autovacuum_enabled') return [];
    const arg = option.DefElem.arg;
    const value =
      arg === undefined
        ? 'true'
        : 'String' in arg
          ? arg.String.sval
          : 'Integer' in arg
            ? String(arg.Integer.ival ?? 0)
            : 'TypeName' in arg
              ? fromNames(arg.TypeName.names)?.name
              : 'Boolean' in arg
                ? String(arg.Boolean.boolval ?? false)
                : undefined;
    if (!value || !FALSE.has(value.toLowerCase())) return [];
    const namespace = option.DefElem.defnamespace;
    return [`${namespace ? `${namespace}.` : ''}autovacuum_enabled`];
  });
}
