/**
 * The effects of the statements that build or drop an index: CREATE INDEX (CONCURRENTLY or not,
 * ON ONLY a partitioned table), REINDEX of an index, a table, a schema or the database, and DROP
 * INDEX. The table that maps each statement kind to its entry is lock-model.ts.
 */
import type { DropStmt, Node } from 'libpg-query';
import { concurrently, type EffectParts, LOCKS, lock, ref, refused, table } from './effect-parts.ts';
import type { LockMode } from './lock-modes.ts';
import { isOptionOn } from './parse-tree-reading.ts';
import { fromNameList, fromRangeVar, quoted } from './relation-name.ts';
import { ALLOWED_IN_TRANSACTION, type ModelContext, type Target, type Work } from './statement-effect.ts';

export function indexEffect(
  statement: Extract<Node, { IndexStmt: unknown }>['IndexStmt'],
  context: ModelContext,
): EffectParts {
  if (!statement.relation) return {};
  const relation = fromRangeVar(statement.relation);
  const target = table(relation);
  const index = statement.idxname ? `${quoted(statement.idxname)} ` : '';
  if (statement.concurrent) {
    return {
      statement: 'CREATE INDEX CONCURRENTLY',
      locks: [lock(target, 'SHARE UPDATE EXCLUSIVE', ref('CREATE INDEX', 'Building Indexes Concurrently'))],
      work: [
        {
          kind: 'index build',
          target,
          message: `CREATE INDEX CONCURRENTLY ${index}builds on ${quoted(relation)}`,
          doc: ref('CREATE INDEX'),
        },
      ],
      transactionBlock: concurrently(
        'CREATE INDEX CONCURRENTLY',
        ref('CREATE INDEX', 'Building Indexes Concurrently'),
      ),
    };
  }
  // ON ONLY a partitioned table creates an invalid index on the parent alone: nothing is built.
  // (The parser leaves inh out when it is false.)
  const built = statement.relation.inh === true;
  return {
    locks: [lock(target, 'SHARE', LOCKS)],
    work: built
      ? [
          {
            kind: 'index build',
            target,
            message: `CREATE INDEX ${index}on existing table ${quoted(relation)} blocks its writes while it builds; use CONCURRENTLY`,
            // CONCURRENTLY is refused on a partitioned table: the rule partitioned-index gives its recipe.
            recipe: context.schema.facts.table(relation)?.partitioned
              ? undefined
              : 'create-index-non-concurrently',
            doc: ref('CREATE INDEX', 'Building Indexes Concurrently'),
          },
        ]
      : [],
  };
}

export function reindexEffect(
  statement: Extract<Node, { ReindexStmt: unknown }>['ReindexStmt'],
  context: ModelContext,
): EffectParts {
  const concurrent = (statement.params ?? []).some((param) => isOptionOn(param, 'concurrently'));
  const doc = ref('REINDEX', 'Notes');
  if (
    statement.kind === 'REINDEX_OBJECT_SCHEMA' ||
    statement.kind === 'REINDEX_OBJECT_DATABASE' ||
    statement.kind === 'REINDEX_OBJECT_SYSTEM'
  ) {
    const target: Target = {
      kind: 'group',
      description:
        `every index in ${statement.kind.replace('REINDEX_OBJECT_', '').toLowerCase()} ${statement.name ?? ''}`.trim(),
    };
    return {
      statement: `REINDEX ${statement.kind.replace('REINDEX_OBJECT_', '')}`,
      locks: [lock(target, concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE', doc)],
      work: [reindexWork(target, concurrent)],
      transactionBlock: concurrent
        ? concurrently('REINDEX CONCURRENTLY', doc)
        : refused(`REINDEX ${statement.kind.replace('REINDEX_OBJECT_', '')}`, doc),
    };
  }
  if (!statement.relation) return {};
  const named = fromRangeVar(statement.relation);
  const isIndex = statement.kind === 'REINDEX_OBJECT_INDEX';
  const parent = isIndex ? context.schema.tableOfIndex(named) : named;
  const indexTarget: Target = isIndex
    ? table(named, 'index')
    : { kind: 'group', description: `every index of table ${quoted(named)}`, owner: named };
  if (concurrent) {
    return {
      statement: 'REINDEX CONCURRENTLY',
      locks: [
        lock(indexTarget, 'SHARE UPDATE EXCLUSIVE', doc),
        ...(parent ? [lock(table(parent), 'SHARE UPDATE EXCLUSIVE', doc)] : []),
      ],
      work: [reindexWork(indexTarget, true)],
      transactionBlock: concurrently('REINDEX CONCURRENTLY', doc),
    };
  }
  return {
    locks: [
      // The planner locks every index of a table it plans for, so ACCESS EXCLUSIVE on an index stops nearly every query.
      lock(indexTarget, 'ACCESS EXCLUSIVE', doc),
      ...(parent ? [lock(table(parent), 'SHARE', doc)] : []),
    ],
    work: [reindexWork(indexTarget, false)],
  };
}

function reindexWork(target: Target, concurrent: boolean): Work {
  const what = target.kind === 'group' ? target.description : `index ${quoted(target.name)}`;
  return concurrent
    ? {
        kind: 'index build',
        target,
        message: `REINDEX CONCURRENTLY rebuilds ${what}`,
        doc: ref('REINDEX', 'Rebuilding Indexes Concurrently'),
      }
    : {
        kind: 'index build',
        target,
        message: `REINDEX rebuilds ${what} under an ACCESS EXCLUSIVE lock on the index and a SHARE lock on its table; use CONCURRENTLY`,
        recipe: 'reindex-non-concurrently',
        doc: ref('REINDEX', 'Notes'),
      };
}

export function dropIndexEffect(statement: DropStmt, context: ModelContext): EffectParts {
  const doc = ref('DROP INDEX', 'CONCURRENTLY (a plain DROP INDEX takes ACCESS EXCLUSIVE on the table)');
  const mode: LockMode = statement.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
  const locks = (statement.objects ?? []).flatMap((object) => {
    const index = fromNameList(object);
    if (!index) return [];
    const parent = context.schema.tableOfIndex(index);
    return [lock(table(index, 'index'), mode, doc), ...(parent ? [lock(table(parent), mode, doc)] : [])];
  });
  return {
    statement: statement.concurrent ? 'DROP INDEX CONCURRENTLY' : 'DROP INDEX',
    locks,
    transactionBlock: statement.concurrent
      ? concurrently('DROP INDEX CONCURRENTLY', doc)
      : ALLOWED_IN_TRANSACTION,
  };
}
