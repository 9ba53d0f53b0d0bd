/**
 * partition-with-default: a new partition (CREATE TABLE ... PARTITION OF, ATTACH PARTITION) of a
 * table that has a DEFAULT partition, which PostgreSQL scans under an ACCESS EXCLUSIVE lock; and
 * DETACH PARTITION CONCURRENTLY there, which it refuses.
 */
import { fromRangeVar, quoted, type RelationName } from '../model/relation-name.ts';
import type { SchemaKnowledge } from '../model/schema-knowledge.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const partitionWithDefault = {
  id: 'partition-with-default',
  title: 'A partition added or detached beside a DEFAULT partition',
  why: 'A new partition makes PostgreSQL scan the whole DEFAULT partition for rows that belong to it, holding an ACCESS EXCLUSIVE lock on it (and on the parent for CREATE TABLE ... PARTITION OF): the table is unreadable meanwhile, and the statement fails if such a row exists. DETACH CONCURRENTLY is refused while a DEFAULT partition exists.',
  fix: steps(
    '1. Add a CHECK constraint to the DEFAULT partition that excludes the new range, NOT VALID, then VALIDATE it (no strong lock): ' +
      'ALTER TABLE t_default ADD CONSTRAINT t_default_not_2026 CHECK (NOT (at >= $$2026-01-01$$ AND at < $$2027-01-01$$)) NOT VALID; ALTER TABLE t_default VALIDATE CONSTRAINT t_default_not_2026;',
    '2. Then attach the new partition: PostgreSQL sees the constraint and skips the scan.',
    '3. Rows of the new range already in the default make it fail: move them first (check: SELECT count(*) FROM t_default WHERE <bound>).',
  ),
  detect: { by: 'statement', check: beside },
} as const satisfies RuleModule;

function beside({ node, schema }: StatementUnderCheck): StatementHit[] {
  if ('CreateStmt' in node && node.CreateStmt.partbound && !node.CreateStmt.partbound.is_default) {
    const parent = node.CreateStmt.inhRelations?.[0];
    const name = node.CreateStmt.relation;
    if (!parent || !('RangeVar' in parent) || !name) return [];
    return newPartition(
      schema,
      fromRangeVar(parent.RangeVar),
      fromRangeVar(name),
      'CREATE TABLE ... PARTITION OF',
      0,
    );
  }
  return tableCommands(node, 'AT_AttachPartition', 'AT_DetachPartition').flatMap(
    ({ table, command, part }) => {
      const partition = command.def && 'PartitionCmd' in command.def ? command.def.PartitionCmd : undefined;
      if (!partition?.name) return [];
      if (command.subtype === 'AT_AttachPartition') {
        if (partition.bound?.is_default) return [];
        return newPartition(schema, table, fromRangeVar(partition.name), 'ATTACH PARTITION', part);
      }
      const fallback = schema.facts.table(table)?.defaultPartition;
      if (!partition.concurrent || !fallback) return [];
      return [
        {
          part,
          message: `DETACH PARTITION ${quoted(fromRangeVar(partition.name))} CONCURRENTLY fails: table ${quoted(table)} has a DEFAULT partition ${quoted(fallback)}`,
        },
      ];
    },
  );
}

function newPartition(
  schema: SchemaKnowledge,
  parent: RelationName,
  partition: RelationName,
  statement: string,
  part: number,
): StatementHit[] {
  const fallback = schema.facts.table(parent)?.defaultPartition;
  if (!fallback || schema.createdHere(fallback)) return [];
  return [
    {
      part,
      message:
        `${statement} ${quoted(partition)} scans DEFAULT partition ${quoted(fallback)} of table ${quoted(parent)} under an ACCESS EXCLUSIVE lock ` +
        `(reads and writes wait), and fails if any row of it belongs to the new partition; check first: SELECT count(*) FROM ${quoted(fallback)} WHERE <the new bound>`,
    },
  ];
}
