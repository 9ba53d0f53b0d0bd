/**
 * identity-without-restart: ALTER COLUMN ... ADD GENERATED AS IDENTITY on a column of an existing
 * table, without moving the new sequence past the values the column holds in the same migration
 * (a START WITH, a RESTART, or a setval naming the table).
 */
import type { Node } from 'libpg-query';
import { quoted, type RelationName, sameRelation } from '../model/relation-name.ts';
import { functionNames } from '../model/rewrite-rules.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const identityWithoutRestart = {
  id: 'identity-without-restart',
  title: 'Identity added to a populated column without moving its sequence',
  why: 'The new identity sequence starts at 1 whatever the column holds: the migration passes, then the first INSERT that takes the default fails with a duplicate key on any table that already has rows.',
  fix: steps(
    '1. In the same migration, after ADD GENERATED ... AS IDENTITY, move the sequence past the existing values:',
    "   SELECT setval(pg_get_serial_sequence('t', 'id'), coalesce(max(id), 0) + 1, false) FROM t;",
    '   (or ALTER TABLE t ALTER COLUMN id RESTART WITH <a value above max(id)>).',
  ),
  detect: { by: 'statement', check: identityNotMoved },
} as const satisfies RuleModule;

function identityNotMoved({ node, schema, statements, index }: StatementUnderCheck): StatementHit[] {
  return tableCommands(node, 'AT_AddIdentity').flatMap(({ table, command, part }) => {
    if (schema.createdHere(table)) return [];
    const column = command.name ?? '';
    const identity = command.def && 'Constraint' in command.def ? command.def.Constraint : undefined;
    if (hasOption(identity?.options, 'start')) return [];
    if (statements.slice(index).some((later) => movesSequence(later, table, column))) return [];
    return [
      {
        part,
        message:
          `ADD GENERATED AS IDENTITY on column ${quoted(column)} of table ${quoted(table)} starts its sequence at 1: ` +
          `the first INSERT taking the default fails if any row already holds 1, 2, ...; check first: SELECT max(${quoted(column)}) FROM ${quoted(table)}, ` +
          'and RESTART the identity past it in the same migration',
      },
    ];
  });
}

/** RESTART or SET START on the column, or a setval call whose arguments name the table. */
function movesSequence(statement: Node, table: RelationName, column: string): boolean {
  const restarted = tableCommands(statement, 'AT_SetIdentity').some(
    (command) =>
      sameRelation(command.table, table) &&
      command.command.name === column &&
      command.command.def !== undefined &&
      'List' in command.command.def &&
      (hasOption(command.command.def.List.items, 'restart') ||
        hasOption(command.command.def.List.items, 'start')),
  );
  if (restarted) return true;
  if (!functionNames(statement).includes('setval')) return false;
  return JSON.stringify(statement).includes(table.name);
}

function hasOption(options: Node[] | undefined, name: string): boolean {
  return (options ?? []).some((option) => 'DefElem' in option && option.DefElem.defname === name);
}
