/**
 * narrowing-type-change: a type change that fails on values an empty database never holds:
 * ALTER SEQUENCE ... AS a narrower integer, ALTER COLUMN ... TYPE a narrower integer, a shorter
 * varchar, numeric with fewer integer digits, of an existing table or sequence.
 */
import { fromRangeVar, quoted } from '../model/relation-name.ts';
import { type ColumnType, columnType, formatType } from '../model/rewrite-rules.ts';
import { integerType, SEQUENCE_TYPES, type SequenceType, sequenceTypeOf } from '../model/type-facts.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const narrowingTypeChange = {
  id: 'narrowing-type-change',
  title: 'A type narrowed below values the data may hold',
  why: 'Passes on an empty database and fails on the real one: a sequence past the new maximum, a value out of the narrower range or longer than the new length stops the migration (and the deploy).',
  fix: steps(
    '1. Check the data first, on the real database: SELECT min(col), max(col) FROM t; SELECT max(length(col)) FROM t; SELECT last_value FROM seq;',
    '2. Fix or move the rows that do not fit, in an earlier migration, or keep the wider type.',
    '3. Then narrow, marked `-- rds-migrate:allow narrowing-type-change <reason>` with what the check showed.',
  ),
  detect: { by: 'statement', check: narrowed },
} as const satisfies RuleModule;

const INTEGER_LIMITS: Record<SequenceType, string> = {
  int2: '32767',
  int4: '2147483647',
  int8: '9223372036854775807',
};

function narrowed({ node, schema }: StatementUnderCheck): StatementHit[] {
  if ('AlterSeqStmt' in node && node.AlterSeqStmt.sequence) {
    const sequence = fromRangeVar(node.AlterSeqStmt.sequence);
    const to = sequenceTypeOf(node.AlterSeqStmt.options);
    if (!to || schema.createdHere(sequence)) return [];
    // CREATE SEQUENCE makes a bigint; a sequence no migration shows is taken as one too.
    const from = schema.types.sequenceType(sequence) ?? 'int8';
    if (SEQUENCE_TYPES.indexOf(to) >= SEQUENCE_TYPES.indexOf(from)) return [];
    return [
      {
        message:
          `ALTER SEQUENCE ${quoted(sequence)} AS ${to} fails if the sequence is already past ${INTEGER_LIMITS[to]} ` +
          `(and nextval fails once it gets there); check first: SELECT last_value FROM ${quoted(sequence)}`,
      },
    ];
  }
  return tableCommands(node, 'AT_AlterColumnType').flatMap(({ table, command, part }) => {
    if (schema.createdHere(table)) return [];
    const column = command.name ?? '';
    const definition = command.def && 'ColumnDef' in command.def ? command.def.ColumnDef : undefined;
    const to = columnType(definition?.typeName);
    const from = schema.columnType(table, column);
    const check = from && to ? narrowing(from, to, quoted(column), quoted(table)) : undefined;
    if (!from || !to || !check) return [];
    return [
      {
        part,
        message: `ALTER COLUMN ${quoted(column)} TYPE ${formatType(to)} narrows ${formatType(from)}: fails if any row ${check}`,
      },
    ];
  });
}

/** What a row must hold for the change to fail, and the query that finds it; undefined when every value fits. */
function narrowing(from: ColumnType, to: ColumnType, column: string, table: string): string | undefined {
  if (from.array || to.array) return undefined;
  const fromInteger = integerType(from.name);
  const toInteger = integerType(to.name);
  if (fromInteger && toInteger) {
    if (SEQUENCE_TYPES.indexOf(toInteger) >= SEQUENCE_TYPES.indexOf(fromInteger)) return undefined;
    return `holds a value beyond ±${INTEGER_LIMITS[toInteger]}; check first: SELECT min(${column}), max(${column}) FROM ${table}`;
  }
  const toLength = to.modifiers[0];
  if ((to.name === 'varchar' || to.name === 'bpchar') && toLength !== undefined) {
    const fromLength = ['varchar', 'bpchar'].includes(from.name) ? from.modifiers[0] : undefined;
    if (fromLength !== undefined && fromLength <= toLength) return undefined;
    if (!['varchar', 'bpchar', 'text'].includes(from.name)) return undefined;
    return `holds a value longer than ${toLength} characters; check first: SELECT max(length(${column})) FROM ${table}`;
  }
  if (from.name === 'numeric' && to.name === 'numeric' && to.modifiers.length > 0) {
    const [toPrecision = 0, toScale = 0] = to.modifiers;
    const [fromPrecision, fromScale = 0] = from.modifiers;
    if (fromPrecision !== undefined && fromPrecision - fromScale <= toPrecision - toScale) return undefined;
    return `holds a value of ${toPrecision - toScale} or more integer digits; check first: SELECT max(abs(${column})) FROM ${table}`;
  }
  return undefined;
}
