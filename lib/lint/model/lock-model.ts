/**
 * The lock model: for every statement kind the parser knows, the locks it takes, the work it
 * does while holding them and whether it may run in a transaction block, each entry citing the
 * PostgreSQL documentation it comes from (mostly 13.3.1 Table-Level Locks, which lists the
 * commands that take each mode, and the command's own reference page). ALTER TABLE's
 * subcommands have a table of their own (alter-table-model.ts). Pure: a parse tree and a
 * `ModelContext` in, a `StatementEffect` out. The statements whose effect takes more than a lock
 * level are table-effects.ts (ALTER TABLE, CREATE TABLE, RENAME, DROP, ALTER DOMAIN),
 * index-effects.ts (CREATE INDEX, REINDEX, DROP INDEX) and row-effects.ts (SELECT, UPDATE,
 * DELETE, VACUUM, ANALYZE).
 *
 * Long on purpose: STATEMENT_MODELS mirrors PostgreSQL's own table (13.3.1 Table-Level Locks, one
 * entry per statement kind of the parser, ~600 lines), kept whole so it reads against the docs.
 */
import type { Node } from 'libpg-query';
import { type EffectParts, LOCKS, lock, ref, refused, table } from './effect-parts.ts';
import { indexEffect, reindexEffect } from './index-effects.ts';
import { lockModeNumbered } from './lock-modes.ts';
import { commentedRelation, optionIsOff, rangeVars, readLocks, readWork } from './parse-tree-reading.ts';
import { fromNames, fromRangeVar, quoted } from './relation-name.ts';
import { selectEffect, vacuumEffect, wholeTableWrite } from './row-effects.ts';
import {
  ALLOWED_IN_TRANSACTION,
  type ModelContext,
  NO_FACTS,
  type StatementEffect,
  type Target,
} from './statement-effect.ts';
import {
  alterDomainEffect,
  alterTableEffect,
  createTableEffect,
  dropEffect,
  relationKind,
  renameEffect,
} from './table-effects.ts';

type KeysOfUnion<T> = T extends unknown ? keyof T : never;

/** Every parse-tree node kind whose name ends in Stmt: the statement kinds the parser knows. */
type StatementKind = Extract<KeysOfUnion<Node>, `${string}Stmt`>;

type StatementNode<K extends StatementKind> =
  Extract<Node, { [P in K]: unknown }> extends infer N
    ? N extends { [P in K]: infer S }
      ? S
      : never
    : never;

interface StatementModel<K extends StatementKind> {
  /** The command as SQL names it. */
  readonly sql: string;
  /** Where the entry's lock levels and behaviour are documented. */
  readonly doc: string;
  readonly describe?: (statement: StatementNode<K>, context: ModelContext) => EffectParts;
  /** The parser builds this node only inside another statement, so it never reaches the model alone. */
  readonly notTopLevel?: string;
}

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
      wholeTableWrite(
        'UPDATE',
        statement.relation,
        statement.whereClause,
        'update-without-where',
        (statement.fromClause ?? []).length > 0,
      ),
  },
  DeleteStmt: {
    sql: 'DELETE',
    doc: `${LOCKS} (ROW EXCLUSIVE); ${ref('Concurrency Control', '13.3.2 Row-Level Locks')}`,
    describe: (statement) =>
      wholeTableWrite(
        'DELETE',
        statement.relation,
        statement.whereClause,
        'delete-without-where',
        (statement.usingClause ?? []).length > 0,
      ),
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
