/**
 * The lock model's table of ALTER TABLE subcommands: one entry per `AlterTableType` the parser
 * knows, each with the lock it takes (PostgreSQL 18 docs, ALTER TABLE, Description: "An ACCESS
 * EXCLUSIVE lock is acquired unless explicitly noted", and src/backend/commands/tablecmds.c,
 * AlterTableGetLockLevel, which the docs summarise) and the work it does under that lock (ALTER
 * TABLE, Notes: which forms rewrite the table and which scan it). A statement with several
 * subcommands holds the strongest of their locks for all of them.
 *
 * Long on purpose: ALTER_TABLE_SUBCOMMANDS mirrors PostgreSQL's own table (AlterTableGetLockLevel,
 * one entry per subcommand, ~390 lines), kept whole so it reads against tablecmds.c.
 */
import type { AlterTableCmd, AlterTableType, ColumnDef, Constraint, Node } from 'libpg-query';
import type { LockMode } from './lock-modes.ts';
import { boundImpliedByChecks } from './partition-bound.ts';
import { fromNames, fromRangeVar, quoted, type RelationName } from './relation-name.ts';
import {
  ALTER_TABLE_NOTES,
  addedColumnRewrite,
  columnConstraints,
  columnType,
  isSerial,
  typeChange,
} from './rewrite-rules.ts';
import { notNullProof } from './schema-knowledge.ts';
import {
  ALLOWED_IN_TRANSACTION,
  type LockTaken,
  type ModelContext,
  type RelationKind,
  type TransactionBlock,
  type Work,
} from './statement-effect.ts';

export interface SubcommandContext extends ModelContext {
  /** The relation the ALTER names (a table, or an index, view, sequence for ALTER INDEX/VIEW/SEQUENCE). */
  readonly relation: RelationName;
  readonly relationKind: RelationKind;
  readonly command: AlterTableCmd;
}

interface SubcommandModel {
  /** The form as SQL writes it. */
  readonly sql: string;
  /** Where its lock level and its rewrite/scan behaviour are documented. */
  readonly doc: string;
  readonly lock: LockMode | ((context: SubcommandContext) => LockMode);
  /** Work done under the statement's lock: rewrites, scans, index builds. @default none */
  readonly work?: (context: SubcommandContext) => Work[];
  /** Locks on relations other than the one altered (the referenced table of a foreign key, a partition). */
  readonly otherLocks?: (context: SubcommandContext) => LockTaken[];
  /** @default allowed */
  readonly transactionBlock?: (context: SubcommandContext) => TransactionBlock;
  /** Why SQL text never produces it: PostgreSQL makes it internally while running another command. */
  readonly internal?: string;
}

const TABLECMDS = 'src/backend/commands/tablecmds.c, AlterTableGetLockLevel';
const doc = (form: string, note = ''): string =>
  `PostgreSQL 18 docs, ALTER TABLE, ${form}${note ? ` (${note})` : ''}; ${TABLECMDS}`;

const table = (context: SubcommandContext) => ({ kind: context.relationKind, name: context.relation });
const column = (context: SubcommandContext): string => quoted(context.command.name ?? '');

/** Internal subcommands: the lock is the one their originating command takes. */
function internal(sql: string, lock: LockMode, madeBy: string): SubcommandModel {
  return { sql, doc: `${TABLECMDS} (internal: ${madeBy})`, lock, internal: madeBy };
}

/** A subcommand that changes the catalog only: the lock, held briefly, and no work. */
function catalogOnly(sql: string, lock: LockMode, documentation: string): SubcommandModel {
  return { sql, doc: documentation, lock };
}

export const ALTER_TABLE_SUBCOMMANDS: Readonly<Record<AlterTableType, SubcommandModel>> = {
  AT_AddColumn: {
    sql: 'ADD COLUMN',
    doc: `${doc('ADD COLUMN')}; ${ALTER_TABLE_NOTES}`,
    lock: 'ACCESS EXCLUSIVE',
    work: addColumnWork,
    otherLocks: (context) => referencedTableLocks(columnDef(context.command)?.constraints),
  },
  AT_AddColumnToView: internal(
    'ADD COLUMN (view)',
    'ACCESS EXCLUSIVE',
    'CREATE OR REPLACE VIEW adding a column',
  ),
  AT_ColumnDefault: catalogOnly(
    'ALTER COLUMN SET/DROP DEFAULT',
    'ACCESS EXCLUSIVE',
    doc('SET/DROP DEFAULT', 'applies to later INSERTs only, existing rows are not touched'),
  ),
  AT_CookedColumnDefault: internal('SET DEFAULT (cooked)', 'ACCESS EXCLUSIVE', 'CREATE TABLE defaults'),
  AT_DropNotNull: catalogOnly('ALTER COLUMN DROP NOT NULL', 'ACCESS EXCLUSIVE', doc('SET/DROP NOT NULL')),
  AT_SetNotNull: {
    sql: 'ALTER COLUMN SET NOT NULL',
    doc: doc('SET/DROP NOT NULL', 'scans the table unless a valid CHECK constraint proves no NULLs, from 12'),
    lock: 'ACCESS EXCLUSIVE',
    work: (context) =>
      setNotNullWork(context, context.command.name ?? '', `SET NOT NULL on column ${column(context)}`),
  },
  AT_SetExpression: {
    sql: 'ALTER COLUMN SET EXPRESSION',
    doc: doc('SET EXPRESSION', 'PostgreSQL 17+: rewrites the table to recompute a stored generated column'),
    lock: 'ACCESS EXCLUSIVE',
    // A virtual generated column (PostgreSQL 18) is computed on read: nothing stored to recompute.
    work: (context) =>
      context.pgVersion >= 18 &&
      context.schema.facts.table(context.relation)?.virtual.has(context.command.name ?? '')
        ? []
        : [
            rewrite(
              context,
              `ALTER COLUMN ${column(context)} SET EXPRESSION recomputes it in every row of ${quoted(context.relation)}, rewriting the table under an ACCESS EXCLUSIVE lock`,
            ),
          ],
  },
  AT_DropExpression: catalogOnly(
    'ALTER COLUMN DROP EXPRESSION',
    'ACCESS EXCLUSIVE',
    doc('DROP EXPRESSION', 'a stored generated column keeps its values as a plain column'),
  ),
  AT_SetStatistics: catalogOnly(
    'ALTER COLUMN SET STATISTICS',
    'SHARE UPDATE EXCLUSIVE',
    doc('SET STATISTICS'),
  ),
  AT_SetOptions: catalogOnly(
    'ALTER COLUMN SET (attribute_option)',
    'SHARE UPDATE EXCLUSIVE',
    doc('SET ( attribute_option )'),
  ),
  AT_ResetOptions: catalogOnly(
    'ALTER COLUMN RESET (attribute_option)',
    'SHARE UPDATE EXCLUSIVE',
    doc('RESET ( attribute_option )'),
  ),
  AT_SetStorage: catalogOnly(
    'ALTER COLUMN SET STORAGE',
    'ACCESS EXCLUSIVE',
    doc('SET STORAGE', 'affects future rows only'),
  ),
  AT_SetCompression: catalogOnly(
    'ALTER COLUMN SET COMPRESSION',
    'ACCESS EXCLUSIVE',
    doc('SET COMPRESSION', 'affects future rows only'),
  ),
  AT_DropColumn: catalogOnly(
    'DROP COLUMN',
    'ACCESS EXCLUSIVE',
    `${doc('DROP COLUMN')}; ${ALTER_TABLE_NOTES} (the column is only made invisible, no rewrite)`,
  ),
  AT_AddIndex: {
    ...internal('ADD INDEX', 'ACCESS EXCLUSIVE', 'ADD PRIMARY KEY / UNIQUE after parse analysis'),
    work: (context) => [
      indexBuild(
        context,
        `ADD INDEX builds an index on table ${quoted(context.relation)} under an ACCESS EXCLUSIVE lock`,
        'add-unique-constraint-without-index',
      ),
    ],
  },
  AT_ReAddIndex: internal('ADD INDEX (re-add)', 'ACCESS EXCLUSIVE', 'ALTER COLUMN TYPE rebuilding an index'),
  AT_AddConstraint: {
    sql: 'ADD CONSTRAINT',
    doc: `${doc('ADD table_constraint', 'SHARE ROW EXCLUSIVE for FOREIGN KEY, else ACCESS EXCLUSIVE')}; ${ALTER_TABLE_NOTES}`,
    lock: (context) =>
      constraintOf(context.command)?.contype === 'CONSTR_FOREIGN'
        ? 'SHARE ROW EXCLUSIVE'
        : 'ACCESS EXCLUSIVE',
    work: addConstraintWork,
    otherLocks: (context) => referencedTableLocks(context.command.def ? [context.command.def] : []),
  },
  AT_ReAddConstraint: internal(
    'ADD CONSTRAINT (re-add)',
    'ACCESS EXCLUSIVE',
    'ALTER COLUMN TYPE re-checking a constraint',
  ),
  AT_ReAddDomainConstraint: internal(
    'ADD CONSTRAINT (domain re-add)',
    'ACCESS EXCLUSIVE',
    'ALTER TYPE re-checking a domain constraint',
  ),
  AT_AlterConstraint: {
    sql: 'ALTER CONSTRAINT',
    doc: doc('ALTER CONSTRAINT', 'ENFORCED validates the constraint, PostgreSQL 18+'),
    lock: 'ACCESS EXCLUSIVE',
    work: (context) => {
      const change =
        context.command.def && 'ATAlterConstraint' in context.command.def
          ? context.command.def.ATAlterConstraint
          : undefined;
      if (!change?.alterEnforceability || !change.is_enforced) return [];
      return [
        scan(
          context,
          `ALTER CONSTRAINT ${quoted(change.conname ?? '')} ENFORCED checks every row of ${quoted(context.relation)} under an ACCESS EXCLUSIVE lock`,
          'table-scan-under-lock',
        ),
      ];
    },
  },
  AT_ValidateConstraint: {
    sql: 'VALIDATE CONSTRAINT',
    doc: doc(
      'VALIDATE CONSTRAINT',
      'SHARE UPDATE EXCLUSIVE; ROW SHARE on the referenced table of a foreign key',
    ),
    lock: 'SHARE UPDATE EXCLUSIVE',
    otherLocks: (context) => {
      const references = context.schema.constraint(context.relation, context.command.name ?? '')?.references;
      return references
        ? [
            {
              target: { kind: 'table', name: references },
              mode: 'ROW SHARE',
              doc: doc('VALIDATE CONSTRAINT'),
            },
          ]
        : [];
    },
    // Alone it blocks nobody; under a stronger lock of the same statement, its scan does.
    work: (context) => [
      scan(
        context,
        `VALIDATE CONSTRAINT ${column(context)} scans table ${quoted(context.relation)}`,
        'table-scan-under-lock',
      ),
    ],
  },
  AT_AddIndexConstraint: internal(
    'ADD CONSTRAINT USING INDEX',
    'ACCESS EXCLUSIVE',
    'ADD PRIMARY KEY / UNIQUE USING INDEX after parse analysis',
  ),
  AT_DropConstraint: catalogOnly('DROP CONSTRAINT', 'ACCESS EXCLUSIVE', doc('DROP CONSTRAINT')),
  AT_ReAddComment: internal('COMMENT (re-add)', 'ACCESS EXCLUSIVE', 'ALTER COLUMN TYPE keeping a comment'),
  AT_AlterColumnType: {
    sql: 'ALTER COLUMN TYPE',
    doc: `${doc('SET DATA TYPE')}; ${ALTER_TABLE_NOTES} (no rewrite when binary coercible and USING keeps the values)`,
    lock: 'ACCESS EXCLUSIVE',
    work: alterColumnTypeWork,
  },
  AT_AlterColumnGenericOptions: catalogOnly(
    'ALTER COLUMN OPTIONS (foreign table)',
    'ACCESS EXCLUSIVE',
    'PostgreSQL 18 docs, ALTER FOREIGN TABLE, OPTIONS',
  ),
  AT_ChangeOwner: catalogOnly('OWNER TO', 'ACCESS EXCLUSIVE', doc('OWNER TO')),
  AT_ClusterOn: catalogOnly(
    'CLUSTER ON',
    'SHARE UPDATE EXCLUSIVE',
    doc('CLUSTER ON', 'marks the index for a future CLUSTER; reorders nothing'),
  ),
  AT_DropCluster: catalogOnly('SET WITHOUT CLUSTER', 'SHARE UPDATE EXCLUSIVE', doc('SET WITHOUT CLUSTER')),
  AT_SetLogged: {
    sql: 'SET LOGGED',
    doc: doc('SET { LOGGED | UNLOGGED }', 'the table is rewritten with the new persistence'),
    lock: 'ACCESS EXCLUSIVE',
    work: (context) => [
      rewrite(
        context,
        `SET LOGGED rewrites table ${quoted(context.relation)} (and writes all of it to WAL) under an ACCESS EXCLUSIVE lock`,
      ),
    ],
  },
  AT_SetUnLogged: {
    sql: 'SET UNLOGGED',
    doc: doc('SET { LOGGED | UNLOGGED }', 'the table is rewritten with the new persistence'),
    lock: 'ACCESS EXCLUSIVE',
    work: (context) => [
      rewrite(
        context,
        `SET UNLOGGED rewrites table ${quoted(context.relation)} under an ACCESS EXCLUSIVE lock`,
      ),
    ],
  },
  AT_DropOids: catalogOnly(
    'SET WITHOUT OIDS',
    'ACCESS EXCLUSIVE',
    doc('SET WITHOUT OIDS', 'a no-op since PostgreSQL 12'),
  ),
  AT_SetAccessMethod: {
    sql: 'SET ACCESS METHOD',
    doc: doc('SET ACCESS METHOD', 'PostgreSQL 15+: rewrites the table'),
    lock: 'ACCESS EXCLUSIVE',
    // The access method the table already has changes nothing (checked on PostgreSQL 18: same relfilenode).
    work: (context) =>
      context.schema.facts.table(context.relation)?.accessMethod === context.command.name
        ? []
        : [
            rewrite(
              context,
              `SET ACCESS METHOD rewrites table ${quoted(context.relation)} under an ACCESS EXCLUSIVE lock`,
            ),
          ],
  },
  AT_SetTableSpace: {
    sql: 'SET TABLESPACE',
    doc: doc('SET TABLESPACE', 'moves the data files: a full copy'),
    lock: 'ACCESS EXCLUSIVE',
    work: (context) => [
      rewrite(
        context,
        `SET TABLESPACE copies ${context.relationKind} ${quoted(context.relation)} to the new tablespace under an ACCESS EXCLUSIVE lock`,
      ),
    ],
  },
  AT_SetRelOptions: {
    sql: 'SET (storage_parameter)',
    doc: doc(
      'SET ( storage_parameter )',
      'SHARE UPDATE EXCLUSIVE for fillfactor, toast, autovacuum and parallel_workers; the table is not rewritten',
    ),
    lock: (context) => relOptionsLock(context.command.def),
  },
  AT_ResetRelOptions: {
    sql: 'RESET (storage_parameter)',
    doc: doc('RESET ( storage_parameter )'),
    lock: (context) => relOptionsLock(context.command.def),
  },
  AT_ReplaceRelOptions: internal(
    'SET (storage_parameter) (replace)',
    'ACCESS EXCLUSIVE',
    'CREATE OR REPLACE VIEW',
  ),
  AT_EnableTrig: trigger('ENABLE TRIGGER'),
  AT_EnableAlwaysTrig: trigger('ENABLE ALWAYS TRIGGER'),
  AT_EnableReplicaTrig: trigger('ENABLE REPLICA TRIGGER'),
  AT_DisableTrig: trigger('DISABLE TRIGGER'),
  AT_EnableTrigAll: trigger('ENABLE TRIGGER ALL'),
  AT_DisableTrigAll: trigger('DISABLE TRIGGER ALL'),
  AT_EnableTrigUser: trigger('ENABLE TRIGGER USER'),
  AT_DisableTrigUser: trigger('DISABLE TRIGGER USER'),
  AT_EnableRule: catalogOnly('ENABLE RULE', 'ACCESS EXCLUSIVE', doc('ENABLE/DISABLE RULE')),
  AT_EnableAlwaysRule: catalogOnly('ENABLE ALWAYS RULE', 'ACCESS EXCLUSIVE', doc('ENABLE/DISABLE RULE')),
  AT_EnableReplicaRule: catalogOnly('ENABLE REPLICA RULE', 'ACCESS EXCLUSIVE', doc('ENABLE/DISABLE RULE')),
  AT_DisableRule: catalogOnly('DISABLE RULE', 'ACCESS EXCLUSIVE', doc('ENABLE/DISABLE RULE')),
  AT_AddInherit: {
    sql: 'INHERIT',
    doc: doc('INHERIT', 'the parent is locked too'),
    lock: 'ACCESS EXCLUSIVE',
    otherLocks: (context) => {
      const parent =
        context.command.def && 'RangeVar' in context.command.def ? context.command.def.RangeVar : undefined;
      return parent
        ? [
            {
              target: { kind: 'table', name: fromRangeVar(parent) },
              mode: 'SHARE UPDATE EXCLUSIVE',
              doc: doc('INHERIT'),
            },
          ]
        : [];
    },
  },
  AT_DropInherit: catalogOnly('NO INHERIT', 'ACCESS EXCLUSIVE', doc('NO INHERIT')),
  AT_AddOf: catalogOnly('OF type_name', 'ACCESS EXCLUSIVE', doc('OF type_name')),
  AT_DropOf: catalogOnly('NOT OF', 'ACCESS EXCLUSIVE', doc('NOT OF')),
  AT_ReplicaIdentity: catalogOnly('REPLICA IDENTITY', 'ACCESS EXCLUSIVE', doc('REPLICA IDENTITY')),
  AT_EnableRowSecurity: catalogOnly(
    'ENABLE ROW LEVEL SECURITY',
    'ACCESS EXCLUSIVE',
    doc('ENABLE/DISABLE ROW LEVEL SECURITY'),
  ),
  AT_DisableRowSecurity: catalogOnly(
    'DISABLE ROW LEVEL SECURITY',
    'ACCESS EXCLUSIVE',
    doc('ENABLE/DISABLE ROW LEVEL SECURITY'),
  ),
  AT_ForceRowSecurity: catalogOnly(
    'FORCE ROW LEVEL SECURITY',
    'ACCESS EXCLUSIVE',
    doc('NO FORCE/FORCE ROW LEVEL SECURITY'),
  ),
  AT_NoForceRowSecurity: catalogOnly(
    'NO FORCE ROW LEVEL SECURITY',
    'ACCESS EXCLUSIVE',
    doc('NO FORCE/FORCE ROW LEVEL SECURITY'),
  ),
  AT_GenericOptions: catalogOnly(
    'OPTIONS (foreign table)',
    'ACCESS EXCLUSIVE',
    'PostgreSQL 18 docs, ALTER FOREIGN TABLE, OPTIONS',
  ),
  AT_AttachPartition: {
    sql: 'ATTACH PARTITION',
    doc: doc(
      'ATTACH PARTITION',
      'SHARE UPDATE EXCLUSIVE on the parent from 12 (ACCESS EXCLUSIVE before), ACCESS EXCLUSIVE on the partition, which is scanned unless a valid CHECK constraint implies the bound',
    ),
    lock: (context) =>
      context.relationKind === 'index' || context.pgVersion >= 12
        ? 'SHARE UPDATE EXCLUSIVE'
        : 'ACCESS EXCLUSIVE',
    otherLocks: (context) => {
      const partition = partitionOf(context.command);
      if (!partition || context.relationKind === 'index') return [];
      return [
        {
          target: { kind: 'table', name: partition },
          mode: 'ACCESS EXCLUSIVE',
          doc: doc('ATTACH PARTITION'),
        },
      ];
    },
    work: (context) => {
      const partition = partitionOf(context.command);
      if (!partition || context.relationKind === 'index' || attachImplied(context, partition)) return [];
      return [
        {
          kind: 'scan',
          target: { kind: 'table', name: partition },
          message:
            `ATTACH PARTITION ${quoted(partition)} scans it under an ACCESS EXCLUSIVE lock to check the partition bound ` +
            '(no valid CHECK constraint from an earlier statement or migration implies it, with the key NOT NULL)',
          recipe: 'table-scan-under-lock',
          doc: doc('ATTACH PARTITION'),
        },
      ];
    },
  },
  AT_DetachPartition: {
    sql: 'DETACH PARTITION',
    doc: doc(
      'DETACH PARTITION',
      'CONCURRENTLY takes SHARE UPDATE EXCLUSIVE and cannot run in a transaction block, PostgreSQL 14+',
    ),
    lock: (context) => (isConcurrentDetach(context.command) ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE'),
    otherLocks: (context) => {
      const partition = partitionOf(context.command);
      const mode = isConcurrentDetach(context.command) ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
      return partition
        ? [{ target: { kind: 'table', name: partition }, mode, doc: doc('DETACH PARTITION') }]
        : [];
    },
    transactionBlock: (context) =>
      isConcurrentDetach(context.command)
        ? {
            allowed: false,
            what: 'DETACH PARTITION CONCURRENTLY',
            recipe: 'concurrently-in-transaction',
            doc: doc('DETACH PARTITION', 'CONCURRENTLY cannot be run in a transaction block'),
          }
        : ALLOWED_IN_TRANSACTION,
  },
  AT_DetachPartitionFinalize: catalogOnly(
    'DETACH PARTITION FINALIZE',
    'SHARE UPDATE EXCLUSIVE',
    doc('DETACH PARTITION ... FINALIZE'),
  ),
  AT_AddIdentity: catalogOnly(
    'ALTER COLUMN ADD GENERATED AS IDENTITY',
    'ACCESS EXCLUSIVE',
    doc('ADD GENERATED AS IDENTITY', 'existing values are kept'),
  ),
  AT_SetIdentity: catalogOnly(
    'ALTER COLUMN SET GENERATED / sequence option',
    'ACCESS EXCLUSIVE',
    doc('SET GENERATED / SET sequence_option'),
  ),
  AT_DropIdentity: catalogOnly('ALTER COLUMN DROP IDENTITY', 'ACCESS EXCLUSIVE', doc('DROP IDENTITY')),
  AT_ReAddStatistics: internal(
    'ADD STATISTICS (re-add)',
    'ACCESS EXCLUSIVE',
    'ALTER COLUMN TYPE rebuilding extended statistics',
  ),
};

function trigger(sql: string): SubcommandModel {
  return catalogOnly(
    sql,
    'SHARE ROW EXCLUSIVE',
    `${doc('DISABLE/ENABLE [ REPLICA | ALWAYS ] TRIGGER')}; PostgreSQL 18 docs, 13.3.1 Table-Level Locks (SHARE ROW EXCLUSIVE)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Work, by subcommand.

function rewrite(context: SubcommandContext, message: string): Work {
  return {
    kind: 'rewrite',
    target: table(context),
    message,
    recipe: 'table-rewrite',
    doc: ALTER_TABLE_NOTES,
  };
}

function scan(context: SubcommandContext, message: string, recipe: Work['recipe']): Work {
  return { kind: 'scan', target: table(context), message, recipe, doc: ALTER_TABLE_NOTES };
}

function indexBuild(context: SubcommandContext, message: string, recipe: Work['recipe']): Work {
  return { kind: 'index build', target: table(context), message, recipe, doc: ALTER_TABLE_NOTES };
}

function columnDef(command: AlterTableCmd): ColumnDef | undefined {
  return command.def && 'ColumnDef' in command.def ? command.def.ColumnDef : undefined;
}

function constraintOf(command: AlterTableCmd): Constraint | undefined {
  return command.def && 'Constraint' in command.def ? command.def.Constraint : undefined;
}

function addColumnWork(context: SubcommandContext): Work[] {
  const definition = columnDef(context.command);
  if (!definition) return [];
  const name = quoted(definition.colname ?? '');
  const where = quoted(context.relation);
  const constraints = columnConstraints(definition);
  const has = (type: Constraint['contype']) => constraints.some((constraint) => constraint.contype === type);
  const work: Work[] = [];
  const fillsRows =
    has('CONSTR_DEFAULT') || has('CONSTR_IDENTITY') || has('CONSTR_GENERATED') || isSerial(definition);
  if ((has('CONSTR_NOTNULL') || has('CONSTR_PRIMARY')) && !fillsRows) {
    work.push(
      scan(
        context,
        `ADD COLUMN ${name} NOT NULL without a DEFAULT fails on table ${where} as soon as it has rows`,
        'add-column-not-null-without-default',
      ),
    );
  }
  const rewrites = addedColumnRewrite(definition, context.pgVersion);
  if (rewrites?.cause === 'volatile') {
    work.push({
      ...rewrite(
        context,
        `ADD COLUMN ${name} with ${rewrites.what} rewrites table ${where} under an ACCESS EXCLUSIVE lock`,
      ),
      recipe: 'add-column-volatile-default',
    });
  } else if (rewrites?.cause === 'default-before-11') {
    work.push({
      ...rewrite(
        context,
        `ADD COLUMN ${name} with a DEFAULT rewrites table ${where} under an ACCESS EXCLUSIVE lock on PostgreSQL ${context.pgVersion} (from 11 a constant default does not)`,
      ),
      recipe: 'add-column-default-rewrite',
    });
  } else if (rewrites?.cause === 'stored-generated') {
    work.push(
      rewrite(
        context,
        `ADD COLUMN ${name} as ${rewrites.what} computes it for every row, rewriting table ${where} under an ACCESS EXCLUSIVE lock`,
      ),
    );
  }
  for (const constraint of constraints) {
    const item = columnConstraintWork(context, name, constraint);
    if (item) work.push(item);
  }
  return [...work, ...domainColumnWork(context, definition, fillsRows)];
}

/**
 * A column of a domain with constraints: PostgreSQL rewrites the table to check each row's value
 * (tablecmds.c, ATExecAddColumn: DomainHasConstraints; checked on 18, the relfilenode changes), and
 * a NOT NULL domain without a default fails on the first row.
 */
function domainColumnWork(context: SubcommandContext, definition: ColumnDef, fillsRows: boolean): Work[] {
  const domainName = fromNames(definition.typeName?.names);
  const domain = domainName ? context.schema.types.domain(domainName) : undefined;
  if (!domainName || !domain || (!domain.check && !domain.notNull)) return [];
  const name = quoted(definition.colname ?? '');
  const where = quoted(context.relation);
  const what = domain.check ? 'a CHECK' : 'NOT NULL';
  const work = [
    rewrite(
      context,
      `ADD COLUMN ${name} of domain ${quoted(domainName)}, which has ${what}, rewrites table ${where} under an ACCESS EXCLUSIVE lock to check every row`,
    ),
  ];
  if (domain.notNull && !domain.hasDefault && !fillsRows) {
    work.push(
      scan(
        context,
        `ADD COLUMN ${name} of NOT NULL domain ${quoted(domainName)} without a DEFAULT fails on table ${where} as soon as it has rows`,
        'add-column-not-null-without-default',
      ),
    );
  }
  return work;
}

/** A column's CHECK, REFERENCES, UNIQUE and PRIMARY KEY in ADD COLUMN, which PostgreSQL checks against every row. */
function columnConstraintWork(
  context: SubcommandContext,
  name: string,
  constraint: Constraint,
): Work | undefined {
  const where = quoted(context.relation);
  switch (constraint.contype) {
    case 'CONSTR_FOREIGN':
      return scan(
        context,
        `ADD COLUMN ${name} REFERENCES ${quoted(constraint.pktable ? fromRangeVar(constraint.pktable) : '')} checks every row of ${where} ` +
          'while blocking writes; add the column, then the foreign key NOT VALID',
        'add-foreign-key-without-not-valid',
      );
    case 'CONSTR_CHECK':
      return scan(
        context,
        `ADD COLUMN ${name} CHECK scans table ${where} under an ACCESS EXCLUSIVE lock; add the column, then the CHECK NOT VALID`,
        'add-check-without-not-valid',
      );
    case 'CONSTR_UNIQUE':
    case 'CONSTR_PRIMARY':
      return indexBuild(
        context,
        `ADD COLUMN ${name} ${constraint.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE'} builds an index on table ${where} under an ACCESS EXCLUSIVE lock`,
        'add-unique-constraint-without-index',
      );
    default:
      return undefined;
  }
}

function addConstraintWork(context: SubcommandContext): Work[] {
  const constraint = constraintOf(context.command);
  if (!constraint) return [];
  const name = quoted(constraint.conname ?? '(unnamed)');
  const where = quoted(context.relation);
  const validated = constraint.skip_validation !== true;
  switch (constraint.contype) {
    case 'CONSTR_FOREIGN':
      if (!validated) return [];
      return [
        scan(
          context,
          `ADD CONSTRAINT ${name} FOREIGN KEY checks every row of ${where} while blocking writes to it ` +
            `and to ${quoted(constraint.pktable ? fromRangeVar(constraint.pktable) : '')}; add it NOT VALID`,
          'add-foreign-key-without-not-valid',
        ),
      ];
    case 'CONSTR_CHECK':
      if (!validated) return [];
      return [
        scan(
          context,
          `ADD CONSTRAINT ${name} CHECK scans table ${where} under an ACCESS EXCLUSIVE lock; add it NOT VALID${inheritors(context, constraint.is_no_inherit)}`,
          'add-check-without-not-valid',
        ),
      ];
    case 'CONSTR_NOTNULL': {
      const proven = notNullProof(constraint);
      if (!validated || !proven) return [];
      return setNotNullWork(context, proven, `ADD CONSTRAINT ${name} NOT NULL ${quoted(proven)}`);
    }
    case 'CONSTR_UNIQUE':
    case 'CONSTR_PRIMARY':
      if (constraint.indexname)
        return constraint.contype === 'CONSTR_PRIMARY' ? primaryKeyUsingIndexWork(context, constraint) : [];
      return [
        indexBuild(
          context,
          `ADD CONSTRAINT ${name} ${constraint.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE'} builds an ` +
            `index on table ${where} under an ACCESS EXCLUSIVE lock`,
          'add-unique-constraint-without-index',
        ),
      ];
    case 'CONSTR_EXCLUSION':
      return [
        indexBuild(
          context,
          `ADD CONSTRAINT ${name} EXCLUDE builds an index on table ${where} and checks every row under an ACCESS EXCLUSIVE lock`,
          'table-scan-under-lock',
        ),
      ];
    default:
      return [];
  }
}

/**
 * ADD PRIMARY KEY USING INDEX makes the index's columns NOT NULL: an implicit SET NOT NULL, which
 * scans the table unless each column is proven NOT NULL (verified on PostgreSQL 18: "verifying
 * table" without, "existing constraints on column ... are sufficient" with a valid CHECK). An
 * index no migration created has columns the linter does not know: nothing is said of it.
 */
function primaryKeyUsingIndexWork(context: SubcommandContext, constraint: Constraint): Work[] {
  const index = { schema: context.relation.schema, name: constraint.indexname ?? '' };
  const columns = context.schema.indexColumns(index) ?? [];
  const name = constraint.conname ? `${quoted(constraint.conname)} ` : '';
  return columns.flatMap((columnName) =>
    columnName
      ? setNotNullWork(
          context,
          columnName,
          `ADD CONSTRAINT ${name}PRIMARY KEY USING INDEX ${quoted(index)} sets column ${quoted(columnName)} NOT NULL, which`,
        )
      : [],
  );
}

/**
 * SET NOT NULL scans unless the column is proven NOT NULL: from PostgreSQL 12 a valid CHECK
 * (col IS NOT NULL) lets it skip the scan (ALTER TABLE, SET/DROP NOT NULL); before 12 it always scans.
 */
function setNotNullWork(context: SubcommandContext, columnName: string, what: string): Work[] {
  if (context.pgVersion >= 12 && context.schema.notNullProven(context.relation, columnName)) return [];
  const reason =
    context.pgVersion >= 12
      ? `no validated CHECK (${columnName} IS NOT NULL) in an earlier statement or migration`
      : `before PostgreSQL 12 even a validated CHECK (${columnName} IS NOT NULL) does not spare the scan`;
  return [
    scan(
      context,
      `${what} scans table ${quoted(context.relation)} under an ACCESS EXCLUSIVE lock: ${reason}${inheritors(context)}`,
      'set-not-null',
    ),
  ];
}

/**
 * The tables that inherit the constraint (children and partitions the migrations show): each is
 * scanned too, and a row of any of them that violates it fails the statement.
 */
function inheritors(context: SubcommandContext, noInherit = false): string {
  const children = noInherit ? [] : context.schema.facts.children(context.relation);
  if (children.length === 0) return '';
  const names = children.map((child) => quoted(child)).join(', ');
  return `; the tables inheriting it (${names}) are scanned too, and it fails if any row of them violates it`;
}

function alterColumnTypeWork(context: SubcommandContext): Work[] {
  const definition = columnDef(context.command);
  const to = columnType(definition?.typeName);
  if (!definition || !to) return [];
  const name = context.command.name ?? '';
  const from = context.schema.columnType(context.relation, name);
  const change = typeChange(name, from, to, definition.raw_default, definition.collClause !== undefined);
  if (change.rewrite === false) return [];
  const verb = change.rewrite === true ? 'rewrites' : 'can rewrite';
  return [
    {
      ...rewrite(
        context,
        `ALTER COLUMN ${quoted(name)} TYPE ${verb} table ${quoted(context.relation)} under an ACCESS EXCLUSIVE lock`,
      ),
      recipe: 'alter-column-type',
      message:
        change.rewrite === true
          ? `ALTER COLUMN ${quoted(name)} TYPE rewrites table ${quoted(context.relation)} under an ACCESS EXCLUSIVE lock: ${change.why}`
          : `ALTER COLUMN ${quoted(name)} TYPE can rewrite table ${quoted(context.relation)} under an ACCESS EXCLUSIVE lock`,
    },
  ];
}

/** The referenced tables of FOREIGN KEY constraints: SHARE ROW EXCLUSIVE, since triggers are added there too. */
function referencedTableLocks(constraints: readonly Node[] | undefined): LockTaken[] {
  return (constraints ?? []).flatMap((node) => {
    if (!('Constraint' in node) || node.Constraint.contype !== 'CONSTR_FOREIGN' || !node.Constraint.pktable)
      return [];
    return [
      {
        target: { kind: 'table', name: fromRangeVar(node.Constraint.pktable) },
        mode: 'SHARE ROW EXCLUSIVE',
        doc: doc(
          'ADD table_constraint',
          'a foreign key also takes SHARE ROW EXCLUSIVE on the referenced table',
        ),
      },
    ];
  });
}

/**
 * Storage parameters whose change needs only SHARE UPDATE EXCLUSIVE (ALTER TABLE, SET (
 * storage_parameter ): fillfactor, toast and autovacuum parameters, parallel_workers and the
 * vacuum ones); any other takes ACCESS EXCLUSIVE (src/backend/access/common/reloptions.c).
 */
const LIGHT_STORAGE_PARAMETERS =
  /^(fillfactor|parallel_workers|toast_tuple_target|vacuum_index_cleanup|vacuum_truncate|vacuum_max_eager_freeze_failure_rate|log_autovacuum_min_duration|(toast\.)?autovacuum_\w+|toast\.\w+|n_distinct(_inherited)?)$/;

function relOptionsLock(definition: Node | undefined): LockMode {
  const options = definition && 'List' in definition ? (definition.List.items ?? []) : [];
  const names = options.flatMap((option) =>
    'DefElem' in option
      ? [
          `${option.DefElem.defnamespace ? `${option.DefElem.defnamespace}.` : ''}${option.DefElem.defname ?? ''}`,
        ]
      : [],
  );
  return names.every((name) => LIGHT_STORAGE_PARAMETERS.test(name))
    ? 'SHARE UPDATE EXCLUSIVE'
    : 'ACCESS EXCLUSIVE';
}

function partitionOf(command: AlterTableCmd): RelationName | undefined {
  const partition = command.def && 'PartitionCmd' in command.def ? command.def.PartitionCmd.name : undefined;
  return partition ? fromRangeVar(partition) : undefined;
}

/** The partition's valid CHECK constraints imply its bound (and its key is NOT NULL): PostgreSQL skips the scan. */
function attachImplied(context: SubcommandContext, partition: RelationName): boolean {
  const key = context.schema.partitionKey(context.relation);
  const column = key?.columns.length === 1 ? key.columns[0] : undefined;
  if (!column) return false;
  const bound =
    context.command.def && 'PartitionCmd' in context.command.def
      ? context.command.def.PartitionCmd.bound
      : undefined;
  return boundImpliedByChecks(
    bound,
    column,
    context.schema.validChecks(partition),
    context.schema.notNullProven(partition, column),
  );
}

function isConcurrentDetach(command: AlterTableCmd): boolean {
  return (
    command.def !== undefined && 'PartitionCmd' in command.def && command.def.PartitionCmd.concurrent === true
  );
}
