/**
 * The effects of the statements on a table or its definition whose lock model is more than a lock
 * level: ALTER TABLE (the strongest lock of its subcommands, alter-table-model.ts), CREATE TABLE
 * (its parents and referenced tables), RENAME, DROP (DROP INDEX is index-effects.ts) and ALTER
 * DOMAIN (a scan of every column using the domain). The table that maps each statement kind to
 * its entry is lock-model.ts.
 */
import type { AlterTableStmt, CreateStmt, DropStmt, Node, RenameStmt } from 'libpg-query';
import { ALTER_TABLE_SUBCOMMANDS, type SubcommandContext } from './alter-table-model.ts';
import { type EffectParts, LOCKS, lock, ref, table } from './effect-parts.ts';
import { dropIndexEffect } from './index-effects.ts';
import type { LockMode } from './lock-modes.ts';
import { rangeVars } from './parse-tree-reading.ts';
import { fromNameList, fromNames, fromRangeVar, quoted, type RelationName } from './relation-name.ts';
import {
  ALLOWED_IN_TRANSACTION,
  type LockTaken,
  type ModelContext,
  type RelationKind,
  type StatementFacts,
  type Target,
  type TransactionBlock,
  type Work,
} from './statement-effect.ts';

// ---------------------------------------------------------------------------------------------
// ALTER TABLE: the strongest lock of its subcommands, held for all of them.

export function alterTableEffect(statement: AlterTableStmt, context: ModelContext): EffectParts {
  if (!statement.relation) return {};
  const relation = fromRangeVar(statement.relation);
  const kind = relationKind(statement.objtype);
  const locks: LockTaken[] = [];
  const work: Work[] = [];
  const facts = {
    constraintsAdded: [] as StatementFacts['constraintsAdded'][number][],
    constraintsValidated: [] as StatementFacts['constraintsValidated'][number][],
  };
  let transactionBlock: TransactionBlock = ALLOWED_IN_TRANSACTION;
  (statement.cmds ?? []).forEach((node, part) => {
    if (!('AlterTableCmd' in node)) return;
    const command = node.AlterTableCmd;
    const model = command.subtype ? ALTER_TABLE_SUBCOMMANDS[command.subtype] : undefined;
    if (!model) return;
    const subcontext: SubcommandContext = { ...context, relation, relationKind: kind, command };
    const mode = typeof model.lock === 'function' ? model.lock(subcontext) : model.lock;
    locks.push(lock(table(relation, kind), mode, model.doc));
    locks.push(...(model.otherLocks?.(subcontext) ?? []));
    work.push(...(model.work?.(subcontext) ?? []).map((item) => ({ ...item, part })));
    const block = model.transactionBlock?.(subcontext);
    if (block && !block.allowed) transactionBlock = block;
    recordConstraintFacts(command, relation, facts);
  });
  return { locks, work, transactionBlock, facts, statement: alterName(kind) };
}

function recordConstraintFacts(
  command: SubcommandContext['command'],
  table: RelationName,
  facts: {
    constraintsAdded: StatementFacts['constraintsAdded'][number][];
    constraintsValidated: StatementFacts['constraintsValidated'][number][];
  },
): void {
  if (command.subtype === 'AT_ValidateConstraint' && command.name)
    facts.constraintsValidated.push({ table, name: command.name });
  const constraint =
    command.subtype === 'AT_AddConstraint' && command.def && 'Constraint' in command.def
      ? command.def.Constraint
      : undefined;
  if (constraint?.conname)
    facts.constraintsAdded.push({
      table,
      name: constraint.conname,
      notValid: constraint.skip_validation === true,
    });
}

function alterName(kind: RelationKind): string {
  return kind === 'relation' ? 'ALTER TABLE' : `ALTER ${kind.toUpperCase()}`;
}

export function relationKind(objectType: string | undefined): RelationKind {
  switch (objectType) {
    case 'OBJECT_INDEX':
      return 'index';
    case 'OBJECT_VIEW':
      return 'view';
    case 'OBJECT_MATVIEW':
      return 'materialized view';
    case 'OBJECT_SEQUENCE':
      return 'sequence';
    default:
      return 'table';
  }
}

// ---------------------------------------------------------------------------------------------
// CREATE TABLE, RENAME, DROP and ALTER DOMAIN.

export function createTableEffect(statement: CreateStmt): EffectParts {
  const locks: LockTaken[] = [];
  const parents = rangeVars(statement.inhRelations);
  for (const parent of parents) {
    locks.push(
      statement.partbound
        ? lock(table(parent), 'ACCESS EXCLUSIVE', ref('Table Partitioning', '5.12.2.2 Partition Maintenance'))
        : lock(table(parent), 'SHARE UPDATE EXCLUSIVE', ref('CREATE TABLE', 'INHERITS')),
    );
  }
  const constraints = [
    ...(statement.constraints ?? []),
    ...(statement.tableElts ?? []).flatMap((element) => {
      if ('Constraint' in element) return [element];
      return 'ColumnDef' in element ? (element.ColumnDef.constraints ?? []) : [];
    }),
  ];
  for (const node of constraints) {
    if (!('Constraint' in node) || node.Constraint.contype !== 'CONSTR_FOREIGN' || !node.Constraint.pktable)
      continue;
    // A foreign key adds triggers to the referenced table: the lock CREATE TRIGGER takes.
    locks.push(
      lock(
        table(fromRangeVar(node.Constraint.pktable)),
        'SHARE ROW EXCLUSIVE',
        `${ref('CREATE TABLE', 'REFERENCES')}; ${LOCKS}`,
      ),
    );
  }
  return { locks };
}

export function renameEffect(statement: RenameStmt, context: ModelContext): EffectParts {
  if (!statement.relation) return {};
  const relation = fromRangeVar(statement.relation);
  const kind = relationKind(
    statement.renameType === 'OBJECT_COLUMN' || statement.renameType === 'OBJECT_TABCONSTRAINT'
      ? statement.relationType
      : statement.renameType,
  );
  // ALTER INDEX ... RENAME takes SHARE UPDATE EXCLUSIVE from 12 (when the relation really is an index).
  const mode: LockMode =
    statement.renameType === 'OBJECT_INDEX' && context.pgVersion >= 12
      ? 'SHARE UPDATE EXCLUSIVE'
      : 'ACCESS EXCLUSIVE';
  const what =
    statement.renameType === 'OBJECT_TRIGGER' ||
    statement.renameType === 'OBJECT_POLICY' ||
    statement.renameType === 'OBJECT_RULE'
      ? 'table'
      : kind;
  return {
    locks: [
      lock(
        table(relation, what),
        mode,
        ref(statement.renameType === 'OBJECT_INDEX' ? 'ALTER INDEX' : 'ALTER TABLE', 'RENAME'),
      ),
    ],
  };
}

export function dropEffect(statement: DropStmt, context: ModelContext): EffectParts {
  const objects = statement.objects ?? [];
  switch (statement.removeType) {
    case 'OBJECT_TABLE':
    case 'OBJECT_VIEW':
    case 'OBJECT_MATVIEW':
    case 'OBJECT_SEQUENCE':
    case 'OBJECT_FOREIGN_TABLE':
      return {
        statement: `DROP ${relationKind(statement.removeType).toUpperCase()}`,
        locks: objects.flatMap((object) => {
          const name = fromNameList(object);
          return name
            ? [lock(table(name, relationKind(statement.removeType)), 'ACCESS EXCLUSIVE', LOCKS)]
            : [];
        }),
      };
    case 'OBJECT_INDEX':
      return dropIndexEffect(statement, context);
    case 'OBJECT_TRIGGER':
    case 'OBJECT_RULE':
    case 'OBJECT_POLICY':
      // The object list is [table name parts..., object name]: the lock is on the table.
      return {
        statement: `DROP ${statement.removeType.replace('OBJECT_', '')}`,
        locks: objects.flatMap((object) => {
          const parts = 'List' in object ? (object.List.items ?? []) : [];
          const name = fromNames(parts.slice(0, -1));
          return name
            ? [
                lock(
                  table(name),
                  'ACCESS EXCLUSIVE',
                  ref(`DROP ${statement.removeType?.replace('OBJECT_', '') ?? ''}`),
                ),
              ]
            : [];
        }),
      };
    case 'OBJECT_SCHEMA':
      return statement.behavior === 'DROP_CASCADE'
        ? {
            statement: 'DROP SCHEMA ... CASCADE',
            locks: objects.flatMap((object) => {
              const name = 'String' in object ? object.String.sval : undefined;
              return name
                ? [
                    lock(
                      { kind: 'group', description: `every relation in schema "${name}"`, owner: { name } },
                      'ACCESS EXCLUSIVE',
                      ref('DROP SCHEMA'),
                    ),
                  ]
                : [];
            }),
          }
        : { statement: 'DROP SCHEMA' };
    case 'OBJECT_EXTENSION':
      return { statement: 'DROP EXTENSION', opaque: 'DROP EXTENSION drops whatever the extension created' };
    default:
      return { statement: `DROP ${(statement.removeType ?? '').replace('OBJECT_', '')}` };
  }
}

export function alterDomainEffect(
  statement: Extract<Node, { AlterDomainStmt: unknown }>['AlterDomainStmt'],
  context: ModelContext,
): EffectParts {
  const domain = fromNames(statement.typeName);
  if (!domain) return {};
  const users: Target = {
    kind: 'group',
    description: `every table with a column of domain ${quoted(domain)}`,
    owner: domain,
  };
  const doc = ref('ALTER DOMAIN', 'Description');
  const notNull = statement.subtype === 'O';
  const checks = (message: string, mode: LockMode): EffectParts => ({
    locks: [lock(users, mode, doc)],
    work: [
      {
        kind: 'scan',
        target: users,
        message: `${message}${failsOn(domain, context, notNull)}`,
        recipe: 'table-scan-under-lock',
        doc,
      },
    ],
  });
  switch (statement.subtype) {
    case 'C': {
      const constraint =
        statement.def && 'Constraint' in statement.def ? statement.def.Constraint : undefined;
      if (constraint?.skip_validation) return {};
      return checks(
        `ALTER DOMAIN ${quoted(domain)} ADD CONSTRAINT checks every column using the domain under a SHARE lock (writes wait); add it NOT VALID`,
        'SHARE',
      );
    }
    case 'O':
      return checks(
        `ALTER DOMAIN ${quoted(domain)} SET NOT NULL checks every column using the domain under a SHARE lock (writes wait)`,
        'SHARE',
      );
    case 'V': {
      const mode: LockMode = context.pgVersion >= 19 ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE';
      return checks(
        `ALTER DOMAIN ${quoted(domain)} VALIDATE CONSTRAINT checks every column using the domain under a ${mode} lock`,
        mode,
      );
    }
    default:
      return {};
  }
}

/** What a domain constraint fails on: any violating row of the columns the migrations show using it. */
function failsOn(domain: RelationName, context: ModelContext, notNull: boolean): string {
  const columns = context.schema.columnsOfType(domain);
  const shown = columns.map(({ table: name, column }) => `${quoted(name)}.${quoted(column)}`).join(', ');
  const first = columns[0];
  const condition = (column: string) =>
    notNull ? `${quoted(column)} IS NULL` : `NOT (<the CHECK on ${quoted(column)}>)`;
  const check = first
    ? `; check first: SELECT count(*) FROM ${quoted(first.table)} WHERE ${condition(first.column)}`
    : '';
  return `; fails if any row of ${shown || 'a column using it'} ${notNull ? 'holds NULL' : 'violates it'}${check}`;
}
