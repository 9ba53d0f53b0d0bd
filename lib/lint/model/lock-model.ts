/**
 * The lock model: for every statement kind the parser knows, the locks it takes, the work it
 * does while holding them and whether it may run in a transaction block, each entry citing the
 * PostgreSQL documentation it comes from (mostly 13.3.1 Table-Level Locks, which lists the
 * commands that take each mode, and the command's own reference page). ALTER TABLE's
 * subcommands have a table of their own (alter-table-model.ts). Pure: a parse tree and a
 * `ModelContext` in, a `StatementEffect` out.
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
import { type LockMode, lockModeNumbered } from './lock-modes.ts';
import { fromNameList, fromNames, fromRangeVar, quoted, type RelationName } from './relation-name.ts';
import {
  ALLOWED_IN_TRANSACTION,
  type LockTaken,
  type ModelContext,
  NO_FACTS,
  type RelationKind,
  type StatementEffect,
  type StatementFacts,
  type Target,
  type TransactionBlock,
  type Work,
} from './statement-effect.ts';

type KeysOfUnion<T> = T extends unknown ? keyof T : never;

/** Every parse-tree node kind whose name ends in Stmt: the statement kinds the parser knows. */
export type StatementKind = Extract<KeysOfUnion<Node>, `${string}Stmt`>;

type StatementNode<K extends StatementKind> =
  Extract<Node, { [P in K]: unknown }> extends infer N
    ? N extends { [P in K]: infer S }
      ? S
      : never
    : never;

/** What a statement's entry says beyond its documentation: all optional, defaulting to nothing. */
interface EffectParts {
  readonly locks?: readonly LockTaken[];
  readonly work?: readonly Work[];
  readonly transactionBlock?: TransactionBlock;
  readonly opaque?: string;
  readonly facts?: Partial<StatementFacts>;
  /** Overrides the entry's `sql` when one node kind stands for several commands (DROP INDEX, ANALYZE). */
  readonly statement?: string;
}

export interface StatementModel<K extends StatementKind> {
  /** The command as SQL names it. */
  readonly sql: string;
  /** Where the entry's lock levels and behaviour are documented. */
  readonly doc: string;
  readonly describe?: (statement: StatementNode<K>, context: ModelContext) => EffectParts;
  /** The parser builds this node only inside another statement, so it never reaches the model alone. */
  readonly notTopLevel?: string;
}

const DOCS = 'PostgreSQL 18 docs';
const LOCKS = `${DOCS}, 13.3.1 Table-Level Locks`;
const ref = (page: string, section = ''): string => `${DOCS}, ${page}${section ? `, ${section}` : ''}`;

// ---------------------------------------------------------------------------------------------
// Small builders.

const table = (name: RelationName, kind: RelationKind = 'table'): Target => ({ kind, name });
const lock = (target: Target, mode: LockMode, doc: string): LockTaken => ({ target, mode, doc });
const refused = (what: string, doc: string): TransactionBlock => ({
  allowed: false,
  what,
  recipe: 'cannot-run-in-transaction',
  doc,
});
const concurrently = (what: string, doc: string): TransactionBlock => ({
  allowed: false,
  what,
  recipe: 'concurrently-in-transaction',
  doc,
});

/** Entries for statements that change only catalogs of non-relation objects (roles, functions, ...). */
function catalogOnly<K extends StatementKind>(sql: string, doc: string): StatementModel<K> {
  return { sql, doc };
}

function notTopLevel<K extends StatementKind>(sql: string, where: string): StatementModel<K> {
  return { sql, doc: 'libpg-query parse tree', notTopLevel: where };
}

/** Entries for statements that run code the model cannot see. */
function opaque<K extends StatementKind>(sql: string, doc: string, what: string): StatementModel<K> {
  return { sql, doc, describe: () => ({ opaque: what }) };
}

// ---------------------------------------------------------------------------------------------
// The table.

export const STATEMENT_MODELS: { readonly [K in StatementKind]: StatementModel<K> } = {
  // Data and lock statements.
  SelectStmt: {
    sql: 'SELECT',
    doc: `${LOCKS} (ACCESS SHARE; ROW SHARE with FOR UPDATE/SHARE); ${ref('SELECT', 'The Locking Clause')}`,
    describe: (statement) => selectEffect(statement),
  },
  InsertStmt: {
    sql: 'INSERT',
    doc: `${LOCKS} (ROW EXCLUSIVE on the target, ACCESS SHARE on tables read)`,
    describe: (statement) => ({
      locks: [
        ...(statement.relation
          ? [lock(table(fromRangeVar(statement.relation)), 'ROW EXCLUSIVE', LOCKS)]
          : []),
        ...readLocks(statement.selectStmt, statement.relation),
      ],
      work: readWork(statement.selectStmt, 'INSERT ... SELECT'),
    }),
  },
  UpdateStmt: {
    sql: 'UPDATE',
    doc: `${LOCKS} (ROW EXCLUSIVE); ${ref('Concurrency Control', '13.3.2 Row-Level Locks')}`,
    describe: (statement) =>
      wholeTableWrite('UPDATE', statement.relation, statement.whereClause, 'update-without-where'),
  },
  DeleteStmt: {
    sql: 'DELETE',
    doc: `${LOCKS} (ROW EXCLUSIVE); ${ref('Concurrency Control', '13.3.2 Row-Level Locks')}`,
    describe: (statement) =>
      wholeTableWrite('DELETE', statement.relation, statement.whereClause, 'delete-without-where'),
  },
  MergeStmt: {
    sql: 'MERGE',
    doc: `${LOCKS} (ROW EXCLUSIVE on the target, ACCESS SHARE on the source)`,
    describe: (statement) => ({
      locks: [
        ...(statement.relation
          ? [lock(table(fromRangeVar(statement.relation)), 'ROW EXCLUSIVE', LOCKS)]
          : []),
        ...readLocks(statement.sourceRelation, statement.relation),
      ],
      work: readWork(statement.sourceRelation, 'MERGE'),
    }),
  },
  CopyStmt: {
    sql: 'COPY',
    doc: `${LOCKS}; ${ref('COPY')}`,
    describe: (statement) =>
      statement.relation
        ? {
            locks: [
              lock(
                table(fromRangeVar(statement.relation)),
                statement.is_from ? 'ROW EXCLUSIVE' : 'ACCESS SHARE',
                LOCKS,
              ),
            ],
          }
        : {},
  },
  TruncateStmt: {
    sql: 'TRUNCATE',
    doc: `${ref('TRUNCATE', 'Notes')} (ACCESS EXCLUSIVE on each table, no scan: it swaps in empty files)`,
    describe: (statement) => ({
      locks: rangeVars(statement.relations).map((name) =>
        lock(table(name), 'ACCESS EXCLUSIVE', ref('TRUNCATE', 'Notes')),
      ),
    }),
  },
  LockStmt: {
    sql: 'LOCK',
    doc: `${ref('LOCK', 'Description')} (the mode named, held to the end of the transaction)`,
    describe: (statement) => ({
      locks: rangeVars(statement.relations).map((name) =>
        lock(table(name), lockModeNumbered(statement.mode ?? 8), ref('LOCK')),
      ),
    }),
  },
  VacuumStmt: {
    sql: 'VACUUM',
    doc: `${ref('VACUUM', 'Notes')}; ${LOCKS} (SHARE UPDATE EXCLUSIVE; FULL takes ACCESS EXCLUSIVE); ${ref('ANALYZE')}`,
    describe: vacuumEffect,
  },
  ClusterStmt: {
    sql: 'CLUSTER',
    doc: `${ref('CLUSTER', 'Notes')} (ACCESS EXCLUSIVE, rewrites the table; without a table name it cannot run in a transaction block)`,
    describe: (statement) => {
      const target: Target = statement.relation
        ? table(fromRangeVar(statement.relation))
        : { kind: 'group', description: 'every previously clustered table' };
      const what = statement.relation
        ? `table ${quoted(fromRangeVar(statement.relation))}`
        : 'every previously clustered table';
      return {
        locks: [lock(target, 'ACCESS EXCLUSIVE', ref('CLUSTER'))],
        work: [
          {
            kind: 'rewrite',
            target,
            message: `CLUSTER rewrites ${what} under an ACCESS EXCLUSIVE lock`,
            recipe: 'cluster',
            doc: ref('CLUSTER'),
          },
        ],
        transactionBlock: statement.relation
          ? ALLOWED_IN_TRANSACTION
          : refused('CLUSTER without a table', ref('CLUSTER', 'Notes')),
      };
    },
  },

  // Tables, views and sequences.
  CreateStmt: {
    sql: 'CREATE TABLE',
    doc: `${ref('CREATE TABLE')}; ${ref('Table Partitioning', '5.12.2.2 Partition Maintenance')} (PARTITION OF takes ACCESS EXCLUSIVE on the parent); ${LOCKS}`,
    describe: (statement) => createTableEffect(statement),
  },
  CreateTableAsStmt: {
    sql: 'CREATE TABLE AS',
    doc: `${ref('CREATE TABLE AS')}; ${ref('CREATE MATERIALIZED VIEW')}; ${LOCKS} (ACCESS SHARE on tables read)`,
    describe: (statement) => ({
      statement: statement.objtype === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS',
      locks: readLocks(statement.query),
      work: statement.into?.skipData ? [] : readWork(statement.query, 'CREATE ... AS'),
    }),
  },
  ViewStmt: {
    sql: 'CREATE VIEW',
    doc: `${ref('CREATE VIEW')} (OR REPLACE takes ACCESS EXCLUSIVE on the view)`,
    describe: (statement) => ({
      locks: [
        ...(statement.replace && statement.view
          ? [lock(table(fromRangeVar(statement.view), 'view'), 'ACCESS EXCLUSIVE', ref('CREATE VIEW'))]
          : []),
        ...readLocks(statement.query),
      ],
    }),
  },
  RefreshMatViewStmt: {
    sql: 'REFRESH MATERIALIZED VIEW',
    doc: `${ref('REFRESH MATERIALIZED VIEW')}; ${LOCKS} (ACCESS EXCLUSIVE; EXCLUSIVE with CONCURRENTLY)`,
    describe: (statement) => {
      if (!statement.relation) return {};
      const view = table(fromRangeVar(statement.relation), 'materialized view');
      const name = quoted(fromRangeVar(statement.relation));
      if (statement.concurrent) {
        return {
          locks: [lock(view, 'EXCLUSIVE', LOCKS)],
          work: [
            {
              kind: 'scan',
              target: view,
              message: `REFRESH MATERIALIZED VIEW CONCURRENTLY recomputes ${name}`,
              doc: ref('REFRESH MATERIALIZED VIEW'),
            },
          ],
        };
      }
      return {
        locks: [lock(view, 'ACCESS EXCLUSIVE', LOCKS)],
        work: [
          {
            kind: 'rewrite',
            target: view,
            message: `REFRESH MATERIALIZED VIEW rebuilds ${name} under an ACCESS EXCLUSIVE lock, blocking every query of it; use CONCURRENTLY`,
            recipe: 'refresh-materialized-view-non-concurrently',
            doc: ref('REFRESH MATERIALIZED VIEW'),
          },
        ],
      };
    },
  },
  CreateSeqStmt: catalogOnly('CREATE SEQUENCE', ref('CREATE SEQUENCE')),
  AlterSeqStmt: {
    sql: 'ALTER SEQUENCE',
    doc: `${ref('ALTER SEQUENCE', 'Notes')} (blocks concurrent nextval, currval, lastval and setval: SHARE ROW EXCLUSIVE)`,
    describe: (statement) =>
      statement.sequence
        ? {
            locks: [
              lock(
                table(fromRangeVar(statement.sequence), 'sequence'),
                'SHARE ROW EXCLUSIVE',
                ref('ALTER SEQUENCE', 'Notes'),
              ),
            ],
          }
        : {},
  },
  AlterTableStmt: {
    sql: 'ALTER TABLE',
    doc: `${ref('ALTER TABLE')} (each subcommand in alter-table-model.ts)`,
    describe: alterTableEffect,
  },
  AlterTableMoveAllStmt: {
    sql: 'ALTER TABLE ALL IN TABLESPACE',
    doc: ref(
      'ALTER TABLE',
      'SET TABLESPACE (ALL IN TABLESPACE locks every relation to move, then copies each one)',
    ),
    describe: (statement) => {
      const target: Target = {
        kind: 'group',
        description: `every relation in tablespace "${statement.orig_tablespacename ?? ''}"`,
      };
      return {
        statement: 'ALTER ... ALL IN TABLESPACE',
        locks: [lock(target, 'ACCESS EXCLUSIVE', ref('ALTER TABLE', 'SET TABLESPACE'))],
        work: [
          {
            kind: 'rewrite',
            target,
            message: `ALL IN TABLESPACE "${statement.orig_tablespacename ?? ''}" SET TABLESPACE copies every relation there under ACCESS EXCLUSIVE locks`,
            recipe: 'table-rewrite',
            doc: ref('ALTER TABLE', 'SET TABLESPACE'),
          },
        ],
      };
    },
  },
  RenameStmt: {
    sql: 'ALTER ... RENAME',
    doc: `${ref('ALTER TABLE', 'RENAME')}; ${ref('ALTER INDEX', 'RENAME (SHARE UPDATE EXCLUSIVE from 12)')}`,
    describe: renameEffect,
  },
  AlterObjectSchemaStmt: {
    sql: 'ALTER ... SET SCHEMA',
    doc: ref('ALTER TABLE', 'SET SCHEMA'),
    describe: (statement) =>
      statement.relation
        ? {
            locks: [
              lock(
                table(fromRangeVar(statement.relation), relationKind(statement.objectType)),
                'ACCESS EXCLUSIVE',
                ref('ALTER TABLE', 'SET SCHEMA'),
              ),
            ],
          }
        : {},
  },
  AlterOwnerStmt: catalogOnly(
    'ALTER ... OWNER TO',
    ref('ALTER TYPE / ALTER FUNCTION / ...', 'OWNER (tables go through ALTER TABLE)'),
  ),
  DropStmt: {
    sql: 'DROP',
    doc: `${ref('DROP TABLE')}; ${ref('DROP INDEX', 'CONCURRENTLY')}; ${ref('DROP TRIGGER')}; ${LOCKS} (ACCESS EXCLUSIVE)`,
    describe: dropEffect,
  },
  CreateForeignTableStmt: catalogOnly('CREATE FOREIGN TABLE', ref('CREATE FOREIGN TABLE')),
  ImportForeignSchemaStmt: catalogOnly('IMPORT FOREIGN SCHEMA', ref('IMPORT FOREIGN SCHEMA')),

  // Indexes.
  IndexStmt: {
    sql: 'CREATE INDEX',
    doc: `${ref('CREATE INDEX', 'Building Indexes Concurrently')}; ${LOCKS} (SHARE; SHARE UPDATE EXCLUSIVE with CONCURRENTLY)`,
    describe: indexEffect,
  },
  ReindexStmt: {
    sql: 'REINDEX',
    doc: `${ref('REINDEX', 'Notes')} (SHARE on the table and ACCESS EXCLUSIVE on the index; CONCURRENTLY: SHARE UPDATE EXCLUSIVE, no transaction block; SCHEMA, DATABASE and SYSTEM: no transaction block)`,
    describe: reindexEffect,
  },

  // Constraints, triggers, rules, policies, statistics, comments.
  CreateTrigStmt: {
    sql: 'CREATE TRIGGER',
    doc: `${LOCKS} (SHARE ROW EXCLUSIVE: CREATE TRIGGER)`,
    describe: (statement) => ({
      locks: [
        ...(statement.relation
          ? [lock(table(fromRangeVar(statement.relation)), 'SHARE ROW EXCLUSIVE', LOCKS)]
          : []),
        ...(statement.constrrel
          ? [lock(table(fromRangeVar(statement.constrrel)), 'SHARE ROW EXCLUSIVE', LOCKS)]
          : []),
      ],
    }),
  },
  RuleStmt: {
    sql: 'CREATE RULE',
    doc: `${ref('CREATE RULE')}; src/backend/rewrite/rewriteDefine.c (ACCESS EXCLUSIVE on the table)`,
    describe: (statement) =>
      statement.relation
        ? { locks: [lock(table(fromRangeVar(statement.relation)), 'ACCESS EXCLUSIVE', ref('CREATE RULE'))] }
        : {},
  },
  CreatePolicyStmt: {
    sql: 'CREATE POLICY',
    doc: `${ref('CREATE POLICY')}; src/backend/commands/policy.c (ACCESS EXCLUSIVE on the table)`,
    describe: (statement) =>
      statement.table
        ? { locks: [lock(table(fromRangeVar(statement.table)), 'ACCESS EXCLUSIVE', ref('CREATE POLICY'))] }
        : {},
  },
  AlterPolicyStmt: {
    sql: 'ALTER POLICY',
    doc: `${ref('ALTER POLICY')}; src/backend/commands/policy.c (ACCESS EXCLUSIVE on the table)`,
    describe: (statement) =>
      statement.table
        ? { locks: [lock(table(fromRangeVar(statement.table)), 'ACCESS EXCLUSIVE', ref('ALTER POLICY'))] }
        : {},
  },
  CreateStatsStmt: {
    sql: 'CREATE STATISTICS',
    doc: `${LOCKS} (SHARE UPDATE EXCLUSIVE: CREATE STATISTICS)`,
    describe: (statement) => ({
      locks: rangeVars(statement.relations).map((name) => lock(table(name), 'SHARE UPDATE EXCLUSIVE', LOCKS)),
    }),
  },
  AlterStatsStmt: catalogOnly('ALTER STATISTICS', ref('ALTER STATISTICS')),
  CommentStmt: {
    sql: 'COMMENT',
    doc: `${LOCKS} (SHARE UPDATE EXCLUSIVE: COMMENT ON)`,
    describe: (statement) => {
      const relation = commentedRelation(statement.objtype, statement.object);
      return relation ? { locks: [lock(table(relation, 'relation'), 'SHARE UPDATE EXCLUSIVE', LOCKS)] } : {};
    },
  },
  SecLabelStmt: catalogOnly('SECURITY LABEL', ref('SECURITY LABEL')),
  ConstraintsSetStmt: catalogOnly('SET CONSTRAINTS', ref('SET CONSTRAINTS')),

  // Types, domains and enum values.
  CreateEnumStmt: {
    sql: 'CREATE TYPE AS ENUM',
    doc: ref('CREATE TYPE', 'Enumerated Types'),
    // Values of a type created in the same transaction may be used at once (ALTER TYPE, Notes).
    describe: (statement) => {
      const type = fromNames(statement.typeName);
      return type ? { facts: { typesCreated: [type] } } : {};
    },
  },
  CreateRangeStmt: catalogOnly('CREATE TYPE AS RANGE', ref('CREATE TYPE')),
  CompositeTypeStmt: catalogOnly('CREATE TYPE AS', ref('CREATE TYPE')),
  CreateDomainStmt: catalogOnly('CREATE DOMAIN', ref('CREATE DOMAIN')),
  DefineStmt: catalogOnly('CREATE TYPE / AGGREGATE / OPERATOR / COLLATION / TEXT SEARCH', ref('CREATE TYPE')),
  AlterTypeStmt: catalogOnly('ALTER TYPE ... SET', ref('ALTER TYPE', 'SET ( property )')),
  AlterEnumStmt: {
    sql: 'ALTER TYPE ... ADD VALUE',
    doc: `${ref('ALTER TYPE', 'Notes')} (ADD VALUE: the new value cannot be used until the transaction commits; before 12 it cannot run in a transaction block unless the type was created in it)`,
    describe: (statement, context) => {
      const type = fromNames(statement.typeName);
      if (statement.oldVal !== undefined || !type || statement.newVal === undefined)
        return { statement: 'ALTER TYPE ... RENAME VALUE' };
      return {
        // Before 12 PostgreSQL allowed it in a transaction block only for a type created in that block.
        transactionBlock:
          context.pgVersion < 12 && !context.schema.createdHere(type)
            ? refused(`ALTER TYPE ... ADD VALUE (before PostgreSQL 12)`, ref('ALTER TYPE', 'Notes'))
            : ALLOWED_IN_TRANSACTION,
        facts: { enumValuesAdded: [{ type, value: statement.newVal }] },
      };
    },
  },
  AlterDomainStmt: {
    sql: 'ALTER DOMAIN',
    doc: `${ref('ALTER DOMAIN', 'Description')}; src/backend/commands/typecmds.c (SHARE on every table using the domain while it checks them; VALIDATE takes SHARE UPDATE EXCLUSIVE from 19)`,
    describe: alterDomainEffect,
  },
  AlterCollationStmt: catalogOnly('ALTER COLLATION', ref('ALTER COLLATION')),
  CreateCastStmt: catalogOnly('CREATE CAST', ref('CREATE CAST')),
  CreateConversionStmt: catalogOnly('CREATE CONVERSION', ref('CREATE CONVERSION')),
  CreateTransformStmt: catalogOnly('CREATE TRANSFORM', ref('CREATE TRANSFORM')),
  CreateOpClassStmt: catalogOnly('CREATE OPERATOR CLASS', ref('CREATE OPERATOR CLASS')),
  CreateOpFamilyStmt: catalogOnly('CREATE OPERATOR FAMILY', ref('CREATE OPERATOR FAMILY')),
  AlterOpFamilyStmt: catalogOnly('ALTER OPERATOR FAMILY', ref('ALTER OPERATOR FAMILY')),
  AlterOperatorStmt: catalogOnly('ALTER OPERATOR', ref('ALTER OPERATOR')),
  AlterTSDictionaryStmt: catalogOnly('ALTER TEXT SEARCH DICTIONARY', ref('ALTER TEXT SEARCH DICTIONARY')),
  AlterTSConfigurationStmt: catalogOnly(
    'ALTER TEXT SEARCH CONFIGURATION',
    ref('ALTER TEXT SEARCH CONFIGURATION'),
  ),
  CreateAmStmt: catalogOnly('CREATE ACCESS METHOD', ref('CREATE ACCESS METHOD')),

  // Functions and code: the model cannot see inside.
  CreateFunctionStmt: catalogOnly('CREATE FUNCTION / PROCEDURE', ref('CREATE FUNCTION')),
  AlterFunctionStmt: catalogOnly('ALTER FUNCTION', ref('ALTER FUNCTION')),
  DoStmt: opaque('DO', ref('DO'), 'DO runs a code block whose statements the linter cannot see'),
  CallStmt: opaque('CALL', ref('CALL'), 'CALL runs a procedure whose statements the linter cannot see'),
  CreatePLangStmt: catalogOnly('CREATE LANGUAGE', ref('CREATE LANGUAGE')),
  CreateEventTrigStmt: catalogOnly('CREATE EVENT TRIGGER', ref('CREATE EVENT TRIGGER')),
  AlterEventTrigStmt: catalogOnly('ALTER EVENT TRIGGER', ref('ALTER EVENT TRIGGER')),

  // Schemas, extensions, tablespaces, databases.
  CreateSchemaStmt: catalogOnly('CREATE SCHEMA', ref('CREATE SCHEMA')),
  CreateExtensionStmt: opaque(
    'CREATE EXTENSION',
    ref('CREATE EXTENSION'),
    "CREATE EXTENSION runs the extension's script, whose statements the linter cannot see",
  ),
  AlterExtensionStmt: opaque(
    'ALTER EXTENSION UPDATE',
    ref('ALTER EXTENSION'),
    "ALTER EXTENSION UPDATE runs the extension's update script, whose statements the linter cannot see",
  ),
  AlterExtensionContentsStmt: catalogOnly('ALTER EXTENSION ADD/DROP', ref('ALTER EXTENSION')),
  AlterObjectDependsStmt: catalogOnly(
    'ALTER ... DEPENDS ON EXTENSION',
    ref('ALTER INDEX', 'DEPENDS ON EXTENSION'),
  ),
  CreateTableSpaceStmt: {
    sql: 'CREATE TABLESPACE',
    doc: ref('CREATE TABLESPACE', 'Notes (cannot be executed inside a transaction block)'),
    describe: () => ({ transactionBlock: refused('CREATE TABLESPACE', ref('CREATE TABLESPACE', 'Notes')) }),
  },
  DropTableSpaceStmt: {
    sql: 'DROP TABLESPACE',
    doc: ref('DROP TABLESPACE', 'Notes (cannot be executed inside a transaction block)'),
    describe: () => ({ transactionBlock: refused('DROP TABLESPACE', ref('DROP TABLESPACE', 'Notes')) }),
  },
  AlterTableSpaceOptionsStmt: catalogOnly('ALTER TABLESPACE', ref('ALTER TABLESPACE')),
  CreatedbStmt: {
    sql: 'CREATE DATABASE',
    doc: ref('CREATE DATABASE', 'Notes (cannot be executed inside a transaction block)'),
    describe: () => ({ transactionBlock: refused('CREATE DATABASE', ref('CREATE DATABASE', 'Notes')) }),
  },
  DropdbStmt: {
    sql: 'DROP DATABASE',
    doc: ref('DROP DATABASE', 'Notes (cannot be executed inside a transaction block)'),
    describe: () => ({ transactionBlock: refused('DROP DATABASE', ref('DROP DATABASE', 'Notes')) }),
  },
  AlterDatabaseStmt: {
    sql: 'ALTER DATABASE',
    doc: ref('ALTER DATABASE', 'SET TABLESPACE (cannot be executed inside a transaction block)'),
    describe: (statement) =>
      (statement.options ?? []).some(
        (option) => 'DefElem' in option && option.DefElem.defname === 'tablespace',
      )
        ? { transactionBlock: refused('ALTER DATABASE ... SET TABLESPACE', ref('ALTER DATABASE')) }
        : {},
  },
  AlterDatabaseSetStmt: catalogOnly('ALTER DATABASE ... SET', ref('ALTER DATABASE')),
  AlterDatabaseRefreshCollStmt: catalogOnly(
    'ALTER DATABASE ... REFRESH COLLATION VERSION',
    ref('ALTER DATABASE'),
  ),
  AlterSystemStmt: {
    sql: 'ALTER SYSTEM',
    doc: ref('ALTER SYSTEM', 'Notes (cannot be executed inside a transaction block)'),
    describe: () => ({ transactionBlock: refused('ALTER SYSTEM', ref('ALTER SYSTEM', 'Notes')) }),
  },

  // Replication.
  CreatePublicationStmt: catalogOnly('CREATE PUBLICATION', ref('CREATE PUBLICATION')),
  AlterPublicationStmt: catalogOnly('ALTER PUBLICATION', ref('ALTER PUBLICATION')),
  CreateSubscriptionStmt: {
    sql: 'CREATE SUBSCRIPTION',
    doc: ref(
      'CREATE SUBSCRIPTION',
      'Notes (with create_slot, cannot be executed inside a transaction block)',
    ),
    describe: (statement) =>
      optionIsOff(statement.options, 'create_slot') || optionIsOff(statement.options, 'connect')
        ? {}
        : {
            transactionBlock: refused(
              'CREATE SUBSCRIPTION (creating a replication slot)',
              ref('CREATE SUBSCRIPTION', 'Notes'),
            ),
          },
  },
  AlterSubscriptionStmt: {
    sql: 'ALTER SUBSCRIPTION',
    doc: ref(
      'ALTER SUBSCRIPTION',
      'REFRESH PUBLICATION and publication changes with refresh cannot be executed inside a transaction block',
    ),
    describe: (statement) => {
      const refreshes =
        statement.kind === 'ALTER_SUBSCRIPTION_REFRESH' ||
        ([
          'ALTER_SUBSCRIPTION_SET_PUBLICATION',
          'ALTER_SUBSCRIPTION_ADD_PUBLICATION',
          'ALTER_SUBSCRIPTION_DROP_PUBLICATION',
        ].includes(statement.kind ?? '') &&
          !optionIsOff(statement.options, 'refresh'));
      return refreshes
        ? {
            transactionBlock: refused(
              'ALTER SUBSCRIPTION ... REFRESH PUBLICATION',
              ref('ALTER SUBSCRIPTION'),
            ),
          }
        : {};
    },
  },
  DropSubscriptionStmt: {
    sql: 'DROP SUBSCRIPTION',
    doc: ref(
      'DROP SUBSCRIPTION',
      'Notes (with a replication slot, cannot be executed inside a transaction block)',
    ),
    describe: () => ({
      transactionBlock: refused(
        'DROP SUBSCRIPTION (of a subscription with a replication slot)',
        ref('DROP SUBSCRIPTION', 'Notes'),
      ),
    }),
  },

  // Foreign data.
  CreateFdwStmt: catalogOnly('CREATE FOREIGN DATA WRAPPER', ref('CREATE FOREIGN DATA WRAPPER')),
  AlterFdwStmt: catalogOnly('ALTER FOREIGN DATA WRAPPER', ref('ALTER FOREIGN DATA WRAPPER')),
  CreateForeignServerStmt: catalogOnly('CREATE SERVER', ref('CREATE SERVER')),
  AlterForeignServerStmt: catalogOnly('ALTER SERVER', ref('ALTER SERVER')),
  CreateUserMappingStmt: catalogOnly('CREATE USER MAPPING', ref('CREATE USER MAPPING')),
  AlterUserMappingStmt: catalogOnly('ALTER USER MAPPING', ref('ALTER USER MAPPING')),
  DropUserMappingStmt: catalogOnly('DROP USER MAPPING', ref('DROP USER MAPPING')),

  // Roles and privileges.
  CreateRoleStmt: catalogOnly('CREATE ROLE', ref('CREATE ROLE')),
  AlterRoleStmt: catalogOnly('ALTER ROLE', ref('ALTER ROLE')),
  AlterRoleSetStmt: catalogOnly('ALTER ROLE ... SET', ref('ALTER ROLE')),
  DropRoleStmt: catalogOnly('DROP ROLE', ref('DROP ROLE')),
  GrantStmt: catalogOnly('GRANT / REVOKE', ref('GRANT')),
  GrantRoleStmt: catalogOnly('GRANT / REVOKE role', ref('GRANT')),
  AlterDefaultPrivilegesStmt: catalogOnly('ALTER DEFAULT PRIVILEGES', ref('ALTER DEFAULT PRIVILEGES')),
  ReassignOwnedStmt: {
    sql: 'REASSIGN OWNED',
    doc: ref(
      'REASSIGN OWNED',
      '(changes the owner of every object of the role: ACCESS EXCLUSIVE on each of its tables, as ALTER TABLE OWNER)',
    ),
    describe: () => ({
      locks: [
        lock(
          { kind: 'group', description: 'every table the role owns' },
          'ACCESS EXCLUSIVE',
          ref('ALTER TABLE', 'OWNER TO'),
        ),
      ],
    }),
  },
  DropOwnedStmt: {
    sql: 'DROP OWNED',
    doc: ref('DROP OWNED', '(drops every object of the role: ACCESS EXCLUSIVE on each of its tables)'),
    describe: () => ({
      locks: [
        lock(
          { kind: 'group', description: 'every table the role owns' },
          'ACCESS EXCLUSIVE',
          ref('DROP TABLE'),
        ),
      ],
    }),
  },

  // Session and transaction statements.
  TransactionStmt: {
    sql: 'BEGIN / COMMIT / ROLLBACK',
    doc: `${ref('BEGIN')}; ${ref('COMMIT PREPARED', 'Notes (cannot be executed inside a transaction block)')}`,
    describe: (statement) =>
      statement.kind === 'TRANS_STMT_COMMIT_PREPARED' || statement.kind === 'TRANS_STMT_ROLLBACK_PREPARED'
        ? { transactionBlock: refused('COMMIT/ROLLBACK PREPARED', ref('COMMIT PREPARED', 'Notes')) }
        : {},
  },
  VariableSetStmt: catalogOnly('SET', ref('SET')),
  VariableShowStmt: catalogOnly('SHOW', ref('SHOW')),
  DiscardStmt: {
    sql: 'DISCARD',
    doc: ref('DISCARD', 'Notes (DISCARD ALL cannot be executed inside a transaction block)'),
    describe: (statement) =>
      statement.target === 'DISCARD_ALL'
        ? { transactionBlock: refused('DISCARD ALL', ref('DISCARD', 'Notes')) }
        : {},
  },
  CheckPointStmt: catalogOnly('CHECKPOINT', ref('CHECKPOINT')),
  LoadStmt: catalogOnly('LOAD', ref('LOAD')),
  ListenStmt: catalogOnly('LISTEN', ref('LISTEN')),
  UnlistenStmt: catalogOnly('UNLISTEN', ref('UNLISTEN')),
  NotifyStmt: catalogOnly('NOTIFY', ref('NOTIFY')),
  PrepareStmt: catalogOnly('PREPARE', ref('PREPARE')),
  ExecuteStmt: opaque(
    'EXECUTE',
    ref('EXECUTE'),
    'EXECUTE runs a prepared statement the linter cannot see here',
  ),
  DeallocateStmt: catalogOnly('DEALLOCATE', ref('DEALLOCATE')),
  DeclareCursorStmt: catalogOnly('DECLARE', ref('DECLARE')),
  FetchStmt: catalogOnly('FETCH', ref('FETCH')),
  ClosePortalStmt: catalogOnly('CLOSE', ref('CLOSE')),
  ExplainStmt: {
    sql: 'EXPLAIN',
    doc: ref('EXPLAIN', 'ANALYZE (the statement is executed)'),
    describe: (statement, context) => {
      const analyze = (statement.options ?? []).some(
        (option) => 'DefElem' in option && option.DefElem.defname === 'analyze',
      );
      if (!analyze || !statement.query) return {};
      const inner = describeStatement(statement.query, context);
      return { locks: inner.locks, work: inner.work, opaque: inner.opaque };
    },
  },

  // Nodes the parser only nests inside other statements.
  RawStmt: notTopLevel('(statement wrapper)', 'every parse result wraps its statements in RawStmt'),
  SetOperationStmt: notTopLevel(
    'UNION / INTERSECT / EXCEPT',
    'planner form of a set operation; the parser gives SelectStmt',
  ),
  ReturnStmt: notTopLevel('RETURN', 'the body of a SQL-standard function'),
  PLAssignStmt: notTopLevel('PL/pgSQL assignment', 'PL/pgSQL expressions only'),
  ReplicaIdentityStmt: notTopLevel('REPLICA IDENTITY', 'the definition of ALTER TABLE ... REPLICA IDENTITY'),
};

/** The effect of one parsed statement. */
export function describeStatement(node: Node, context: ModelContext): StatementEffect {
  const kind = Object.keys(node)[0] as StatementKind;
  const model = STATEMENT_MODELS[kind] as StatementModel<StatementKind> | undefined;
  if (!model) {
    return {
      statement: kind,
      locks: [],
      work: [],
      transactionBlock: ALLOWED_IN_TRANSACTION,
      doc: 'not in the lock model',
      opaque: `the lock model has no entry for ${kind}`,
      facts: NO_FACTS,
    };
  }
  const describe = model.describe as ((statement: unknown, context: ModelContext) => EffectParts) | undefined;
  const parts = describe?.((node as unknown as Record<string, unknown>)[kind], context) ?? {};
  return {
    statement: parts.statement ?? model.sql,
    locks: parts.locks ?? [],
    work: parts.work ?? [],
    transactionBlock: parts.transactionBlock ?? ALLOWED_IN_TRANSACTION,
    doc: model.doc,
    opaque: parts.opaque,
    facts: { ...NO_FACTS, ...parts.facts },
  };
}

// ---------------------------------------------------------------------------------------------
// ALTER TABLE: the strongest lock of its subcommands, held for all of them.

function alterTableEffect(statement: AlterTableStmt, context: ModelContext): EffectParts {
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

function relationKind(objectType: string | undefined): RelationKind {
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

function createTableEffect(statement: CreateStmt): EffectParts {
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

function selectEffect(statement: Extract<Node, { SelectStmt: unknown }>['SelectStmt']): EffectParts {
  const sources = relationsRead(statement);
  const rowLocks = (statement.lockingClause ?? []).length > 0;
  const locks = sources.map((name) => lock(table(name), rowLocks ? 'ROW SHARE' : 'ACCESS SHARE', LOCKS));
  const work = statement.intoClause ? readWork({ SelectStmt: statement }, 'SELECT INTO') : [];
  return { locks, work, statement: statement.intoClause ? 'SELECT INTO' : 'SELECT' };
}

/** UPDATE or DELETE: without WHERE every row is locked until commit, stalling every writer of the table. */
function wholeTableWrite(
  verb: 'UPDATE' | 'DELETE',
  relation: RangeVar | undefined,
  where: Node | undefined,
  recipe: 'update-without-where' | 'delete-without-where',
): EffectParts {
  if (!relation) return {};
  const target = table(fromRangeVar(relation));
  const locks = [lock(target, 'ROW EXCLUSIVE', LOCKS)];
  if (where) return { locks };
  return {
    locks,
    work: [
      {
        kind: 'row locks',
        target,
        message: `${verb} without WHERE changes every row of table ${quoted(fromRangeVar(relation))} in one transaction`,
        recipe,
        doc: ref('Concurrency Control', '13.3.2 Row-Level Locks'),
      },
    ],
  };
}

function vacuumEffect(statement: VacuumStmt): EffectParts {
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

function indexEffect(statement: Extract<Node, { IndexStmt: unknown }>['IndexStmt']): EffectParts {
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
  const built = statement.relation.inh !== false;
  return {
    locks: [lock(target, 'SHARE', LOCKS)],
    work: built
      ? [
          {
            kind: 'index build',
            target,
            message: `CREATE INDEX ${index}on existing table ${quoted(relation)} blocks its writes while it builds; use CONCURRENTLY`,
            recipe: 'create-index-non-concurrently',
            doc: ref('CREATE INDEX', 'Building Indexes Concurrently'),
          },
        ]
      : [],
  };
}

function reindexEffect(
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

function renameEffect(statement: RenameStmt, context: ModelContext): EffectParts {
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

function dropEffect(statement: DropStmt, context: ModelContext): EffectParts {
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

function alterDomainEffect(
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
  const checks = (message: string, mode: LockMode): EffectParts => ({
    locks: [lock(users, mode, doc)],
    work: [{ kind: 'scan', target: users, message, recipe: 'table-scan-under-lock', doc }],
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

// ---------------------------------------------------------------------------------------------
// Reading the parse tree.

/** Every table a query reads (RangeVar nodes), less the names of its CTEs. */
export function relationsRead(tree: unknown, exclude?: RangeVar): RelationName[] {
  const ctes = new Set<string>();
  const found: RelationName[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    const cte = record.CommonTableExpr as { ctename?: string } | undefined;
    if (cte?.ctename) ctes.add(cte.ctename);
    const rangeVar = record.RangeVar as RangeVar | undefined;
    if (rangeVar?.relname) found.push(fromRangeVar(rangeVar));
    for (const nested of Object.values(record)) visit(nested);
  };
  visit(tree);
  return found.filter(
    (name) =>
      !(name.schema === undefined && ctes.has(name.name)) && !(exclude && name.name === exclude.relname),
  );
}

function readLocks(tree: unknown, exclude?: RangeVar): LockTaken[] {
  return relationsRead(tree, exclude).map((name) => lock(table(name), 'ACCESS SHARE', LOCKS));
}

/** Reading whole tables takes time in proportion to them: long, though it blocks nobody by itself. */
function readWork(tree: unknown, what: string): Work[] {
  if (
    !tree ||
    (typeof tree === 'object' &&
      'SelectStmt' in tree &&
      !(tree as { SelectStmt: { fromClause?: unknown[] } }).SelectStmt.fromClause)
  ) {
    return [];
  }
  return relationsRead(tree).map((name) => ({
    kind: 'scan',
    target: table(name),
    message: `${what} reads table ${quoted(name)}`,
    doc: LOCKS,
  }));
}

function rangeVars(nodes: readonly Node[] | undefined): RelationName[] {
  return (nodes ?? []).flatMap((node) => ('RangeVar' in node ? [fromRangeVar(node.RangeVar)] : []));
}

function commentedRelation(
  objectType: string | undefined,
  object: Node | undefined,
): RelationName | undefined {
  if (!object || !('List' in object)) return undefined;
  const items = object.List.items ?? [];
  if (objectType === 'OBJECT_COLUMN') return fromNames(items.slice(0, -1));
  if (
    ['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_INDEX', 'OBJECT_SEQUENCE'].includes(
      objectType ?? '',
    )
  ) {
    return fromNames(items);
  }
  return undefined;
}

/** A VACUUM, REINDEX or CLUSTER option that is on: `FULL`, `FULL true`, `CONCURRENTLY`. */
export function isOptionOn(node: Node, name: string): boolean {
  if (!('DefElem' in node) || node.DefElem.defname !== name) return false;
  const value = node.DefElem.arg;
  if (!value) return true;
  if ('Boolean' in value) return value.Boolean.boolval === true;
  if ('Integer' in value) return (value.Integer.ival ?? 0) !== 0;
  if ('String' in value)
    return !['false', 'off', 'no', '0'].includes((value.String.sval ?? '').toLowerCase());
  return true;
}

function optionIsOff(options: readonly Node[] | undefined, name: string): boolean {
  return (options ?? []).some(
    (option) => 'DefElem' in option && option.DefElem.defname === name && !isOptionOn(option, name),
  );
}
