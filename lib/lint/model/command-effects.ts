/**
 * The effects of the statements whose lock model is more than a lock level: ALTER TABLE (the
 * strongest lock of its subcommands), CREATE TABLE, SELECT, UPDATE and DELETE of whole tables,
 * VACUUM, CREATE INDEX, REINDEX, RENAME, DROP and ALTER DOMAIN. The table that maps each statement
 * kind to its entry is lock-model.ts.
 */
import type {
  AlterTableStmt,
  CreateStmt,
  DropStmt,
  Node,
  RangeVar,
  RenameStmt,
  VacuumStmt,
} from 'libpg-query';
import { ALTER_TABLE_SUBCOMMANDS, type SubcommandContext } from './alter-table-model.ts';
import { concurrently, type EffectParts, LOCKS, lock, ref, refused, table } from './effect-parts.ts';
import type { LockMode } from './lock-modes.ts';
import { isOptionOn, rangeVars, readWork, relationsRead } from './parse-tree-reading.ts';
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
// The other statements.

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
export function boundedByKeys(where: Node): boolean {
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

function dropIndexEffect(statement: DropStmt, context: ModelContext): EffectParts {
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
