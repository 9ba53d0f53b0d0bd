/**
 * The linter's walker: goes through one migration's statements in the PostgreSQL parse tree, in
 * order, remembering what earlier statements created, and reports the rules (lint-rules.ts) each
 * statement breaks.
 */
import type {
  AlterTableCmd,
  AlterTableStmt,
  ColumnDef,
  Constraint,
  DefElem,
  DeleteStmt,
  DropStmt,
  IndexStmt,
  Node,
  RangeVar,
  RenameStmt,
  TransactionStmt,
  UpdateStmt,
  VacuumStmt,
} from 'libpg-query';
import type { LintRuleId } from './lint-rules.ts';

export interface Violation {
  readonly rule: LintRuleId;
  readonly message: string;
}

interface TableName {
  readonly schema?: string;
  readonly name: string;
}

interface KnownConstraint {
  readonly table: TableName;
  readonly name: string;
  /** Added NOT VALID and not validated yet. */
  notValid: boolean;
  /** The column this constraint proves NOT NULL once validated: CHECK (col IS NOT NULL) or NOT NULL col. */
  readonly provesNotNull?: string;
}

const VOLATILE_FUNCTIONS: ReadonlySet<string> = new Set([
  'random',
  'random_normal',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'clock_timestamp',
  'timeofday',
  'nextval',
]);

const SERIAL_TYPES: ReadonlySet<string> = new Set([
  'smallserial',
  'serial',
  'bigserial',
  'serial2',
  'serial4',
  'serial8',
]);

/** Transaction control statements by parse-tree kind, as SQL writes them. */
const TRANSACTION_CONTROL: ReadonlyMap<string, string> = new Map([
  ['TRANS_STMT_BEGIN', 'BEGIN'],
  ['TRANS_STMT_START', 'START TRANSACTION'],
  ['TRANS_STMT_COMMIT', 'COMMIT'],
  ['TRANS_STMT_ROLLBACK', 'ROLLBACK'],
  ['TRANS_STMT_PREPARE', 'PREPARE TRANSACTION'],
  ['TRANS_STMT_COMMIT_PREPARED', 'COMMIT PREPARED'],
  ['TRANS_STMT_ROLLBACK_PREPARED', 'ROLLBACK PREPARED'],
]);

/** Walks one migration's statements in order, remembering what earlier statements created. */
export class MigrationChecker {
  private readonly createdTables: TableName[] = [];
  private readonly constraints: KnownConstraint[] = [];
  private readonly notNullColumns: { table: TableName; column: string }[] = [];
  /** Views created anywhere in the text, by statement index: the rename-table recipe. */
  private readonly views: { index: number; view: TableName }[];

  constructor(
    private readonly transactional: boolean,
    statements: readonly Node[],
  ) {
    this.views = statements.flatMap((node, index) =>
      'ViewStmt' in node && node.ViewStmt.view ? [{ index, view: tableName(node.ViewStmt.view) }] : [],
    );
  }

  check(node: Node, index: number): Violation[] {
    if ('CreateStmt' in node) return this.created(node.CreateStmt.relation);
    if ('CreateTableAsStmt' in node) return this.created(node.CreateTableAsStmt.into?.rel);
    if ('SelectStmt' in node) return this.created(node.SelectStmt.intoClause?.rel);
    if ('AlterTableStmt' in node) return this.alterTable(node.AlterTableStmt);
    if ('DropStmt' in node) return this.drop(node.DropStmt);
    if ('RenameStmt' in node) return this.rename(node.RenameStmt, index);
    if ('IndexStmt' in node) return this.createIndex(node.IndexStmt);
    if ('ReindexStmt' in node) {
      return node.ReindexStmt.params?.some((param) => isOption(param, 'concurrently'))
        ? this.concurrently('REINDEX CONCURRENTLY')
        : [];
    }
    if ('VacuumStmt' in node) return vacuum(node.VacuumStmt);
    if ('ClusterStmt' in node) {
      const table = node.ClusterStmt.relation;
      const what = table ? `table ${quoted(tableName(table))}` : 'every previously clustered table';
      return [{ rule: 'cluster', message: `CLUSTER rewrites ${what} under an ACCESS EXCLUSIVE lock` }];
    }
    if ('UpdateStmt' in node) return this.wholeTable('update-without-where', 'UPDATE', node.UpdateStmt);
    if ('DeleteStmt' in node) return this.wholeTable('delete-without-where', 'DELETE', node.DeleteStmt);
    if ('TransactionStmt' in node) return this.transactionControl(node.TransactionStmt);
    return [];
  }

  private created(relation: RangeVar | undefined): Violation[] {
    if (relation) this.createdTables.push(tableName(relation));
    return [];
  }

  private isCreated(table: TableName): boolean {
    return this.createdTables.some((created) => sameTable(created, table));
  }

  private concurrently(what: string): Violation[] {
    if (!this.transactional) return [];
    return [
      {
        rule: 'concurrently-in-transaction',
        message: `${what} cannot run in the migration's transaction; mark the migration transaction: false`,
      },
    ];
  }

  private alterTable(statement: AlterTableStmt): Violation[] {
    if (statement.objtype !== 'OBJECT_TABLE' || !statement.relation) return [];
    const table = tableName(statement.relation);
    const isNew = this.isCreated(table);
    return (statement.cmds ?? []).flatMap((command) =>
      'AlterTableCmd' in command ? this.alterTableCommand(table, isNew, command.AlterTableCmd) : [],
    );
  }

  private alterTableCommand(table: TableName, isNew: boolean, command: AlterTableCmd): Violation[] {
    const column = quoted(command.name ?? '');
    switch (command.subtype) {
      case 'AT_DetachPartition':
        return command.def && 'PartitionCmd' in command.def && command.def.PartitionCmd.concurrent
          ? this.concurrently('DETACH PARTITION CONCURRENTLY')
          : [];
      case 'AT_AddConstraint':
        return command.def && 'Constraint' in command.def
          ? this.addConstraint(table, isNew, command.def.Constraint)
          : [];
      case 'AT_ValidateConstraint':
        return this.validateConstraint(table, isNew, command.name ?? '');
    }
    if (isNew) return [];
    switch (command.subtype) {
      case 'AT_AddColumn':
        return command.def && 'ColumnDef' in command.def ? this.addColumn(table, command.def.ColumnDef) : [];
      case 'AT_DropColumn':
        return [
          {
            rule: 'drop-column',
            message: `DROP COLUMN removes column ${column} of table ${quoted(table)} while deployed code may still use it`,
          },
        ];
      case 'AT_AlterColumnType':
        return [
          {
            rule: 'alter-column-type',
            message: `ALTER COLUMN ${column} TYPE can rewrite table ${quoted(table)} under an ACCESS EXCLUSIVE lock`,
          },
        ];
      case 'AT_SetNotNull':
        return this.setNotNull(table, command.name ?? '', `SET NOT NULL on column ${column}`);
      default:
        return [];
    }
  }

  private addColumn(table: TableName, column: ColumnDef): Violation[] {
    const name = quoted(column.colname ?? '');
    const constraints = columnConstraints(column);
    const has = (type: Constraint['contype']) =>
      constraints.some((constraint) => constraint.contype === type);
    const serial = isSerial(column);
    const violations: Violation[] = [];
    const fillsRows = has('CONSTR_DEFAULT') || has('CONSTR_IDENTITY') || has('CONSTR_GENERATED') || serial;
    if ((has('CONSTR_NOTNULL') || has('CONSTR_PRIMARY')) && !fillsRows) {
      violations.push({
        rule: 'add-column-not-null-without-default',
        message: `ADD COLUMN ${name} NOT NULL without a DEFAULT fails on table ${quoted(table)} as soon as it has rows`,
      });
    }
    const volatile = volatileDefault(constraints, serial);
    if (volatile) {
      violations.push({
        rule: 'add-column-volatile-default',
        message: `ADD COLUMN ${name} with ${volatile} rewrites table ${quoted(table)} under an ACCESS EXCLUSIVE lock`,
      });
    }
    for (const constraint of constraints) {
      const violation = columnConstraintViolation(table, name, constraint);
      if (violation) violations.push(violation);
    }
    return violations;
  }

  private addConstraint(table: TableName, isNew: boolean, constraint: Constraint): Violation[] {
    const notNullColumn = notNullProof(constraint);
    const violations = isNew ? [] : this.addConstraintViolations(table, constraint, notNullColumn);
    const notValid = constraint.skip_validation === true;
    if (constraint.conname) {
      this.constraints.push({ table, name: constraint.conname, notValid, provesNotNull: notNullColumn });
    }
    if (notNullColumn && !notValid) this.notNullColumns.push({ table, column: notNullColumn });
    return violations;
  }

  private addConstraintViolations(
    table: TableName,
    constraint: Constraint,
    notNullColumn: string | undefined,
  ): Violation[] {
    const name = quoted(constraint.conname ?? '(unnamed)');
    const validated = constraint.skip_validation !== true;
    switch (constraint.contype) {
      case 'CONSTR_FOREIGN':
        if (!validated) return [];
        return [
          {
            rule: 'add-foreign-key-without-not-valid',
            message:
              `ADD CONSTRAINT ${name} FOREIGN KEY checks every row of ${quoted(table)} while blocking writes to it ` +
              `and to ${quoted(tableName(constraint.pktable ?? {}))}; add it NOT VALID`,
          },
        ];
      case 'CONSTR_CHECK':
        if (!validated) return [];
        return [
          {
            rule: 'add-check-without-not-valid',
            message: `ADD CONSTRAINT ${name} CHECK scans table ${quoted(table)} under an ACCESS EXCLUSIVE lock; add it NOT VALID`,
          },
        ];
      case 'CONSTR_NOTNULL':
        if (!validated || !notNullColumn) return [];
        return this.setNotNull(
          table,
          notNullColumn,
          `ADD CONSTRAINT ${name} NOT NULL ${quoted(notNullColumn)}`,
        );
      case 'CONSTR_UNIQUE':
      case 'CONSTR_PRIMARY':
        if (constraint.indexname) return [];
        return [
          {
            rule: 'add-unique-constraint-without-index',
            message:
              `ADD CONSTRAINT ${name} ${constraint.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE'} builds an ` +
              `index on table ${quoted(table)} under an ACCESS EXCLUSIVE lock`,
          },
        ];
      default:
        return [];
    }
  }

  private validateConstraint(table: TableName, isNew: boolean, name: string): Violation[] {
    const constraint = this.constraints.find((known) => known.name === name && sameTable(known.table, table));
    if (!constraint?.notValid) return [];
    constraint.notValid = false;
    if (constraint.provesNotNull) this.notNullColumns.push({ table, column: constraint.provesNotNull });
    if (isNew || !this.transactional) return [];
    return [
      {
        rule: 'validate-in-same-transaction',
        message:
          `VALIDATE CONSTRAINT ${quoted(name)} runs in the transaction that added it NOT VALID, ` +
          `so writes to ${quoted(table)} stay blocked for the whole scan`,
      },
    ];
  }

  private setNotNull(table: TableName, column: string, what: string): Violation[] {
    const proven = this.notNullColumns.some(
      (known) => known.column === column && sameTable(known.table, table),
    );
    if (proven) return [];
    return [
      {
        rule: 'set-not-null',
        message:
          `${what} scans table ${quoted(table)} under an ACCESS EXCLUSIVE lock: ` +
          `no validated CHECK (${column} IS NOT NULL) earlier in this migration`,
      },
    ];
  }

  private drop(statement: DropStmt): Violation[] {
    const violations = statement.concurrent ? this.concurrently('DROP INDEX CONCURRENTLY') : [];
    if (statement.removeType !== 'OBJECT_TABLE') return violations;
    for (const object of statement.objects ?? []) {
      const table = qualifiedName(object);
      if (!table || this.isCreated(table)) continue;
      violations.push({
        rule: 'drop-table',
        message: `DROP TABLE removes table ${quoted(table)} and its data while deployed code may still use it`,
      });
    }
    return violations;
  }

  private rename(statement: RenameStmt, index: number): Violation[] {
    if (!statement.relation) return [];
    const table = tableName(statement.relation);
    if (this.isCreated(table)) return [];
    const to = quoted(statement.newname ?? '');
    if (statement.renameType === 'OBJECT_TABLE') {
      const keepsOldName = this.views.some((later) => later.index > index && sameTable(later.view, table));
      if (keepsOldName) return [];
      return [
        {
          rule: 'rename-table',
          message: `RENAME TO renames table ${quoted(table)} to ${to} while deployed code still uses the old name`,
        },
      ];
    }
    if (statement.renameType === 'OBJECT_COLUMN' && statement.relationType === 'OBJECT_TABLE') {
      return [
        {
          rule: 'rename-column',
          message:
            `RENAME COLUMN renames ${quoted(statement.subname ?? '')} of table ${quoted(table)} to ${to} ` +
            'while deployed code still uses the old name',
        },
      ];
    }
    return [];
  }

  private createIndex(statement: IndexStmt): Violation[] {
    if (statement.concurrent) return this.concurrently('CREATE INDEX CONCURRENTLY');
    if (!statement.relation) return [];
    const table = tableName(statement.relation);
    if (this.isCreated(table)) return [];
    const index = statement.idxname ? `${quoted(statement.idxname)} ` : '';
    return [
      {
        rule: 'create-index-non-concurrently',
        message: `CREATE INDEX ${index}on existing table ${quoted(table)} blocks its writes while it builds; use CONCURRENTLY`,
      },
    ];
  }

  private wholeTable(
    rule: 'update-without-where' | 'delete-without-where',
    verb: string,
    statement: UpdateStmt | DeleteStmt,
  ): Violation[] {
    if (statement.whereClause || !statement.relation) return [];
    const table = tableName(statement.relation);
    if (this.isCreated(table)) return [];
    return [
      {
        rule,
        message: `${verb} without WHERE changes every row of table ${quoted(table)} in one transaction`,
      },
    ];
  }

  private transactionControl(statement: TransactionStmt): Violation[] {
    const verb = TRANSACTION_CONTROL.get(statement.kind ?? '');
    if (!this.transactional || !verb) return [];
    return [
      {
        rule: 'transaction-control',
        message: `${verb} inside a transactional migration ends the runner's transaction midway`,
      },
    ];
  }
}

function vacuum(statement: VacuumStmt): Violation[] {
  if (!statement.is_vacuumcmd || !statement.options?.some((option) => isOption(option, 'full'))) return [];
  const tables = (statement.rels ?? []).flatMap((relation) =>
    'VacuumRelation' in relation && relation.VacuumRelation.relation
      ? [quoted(tableName(relation.VacuumRelation.relation))]
      : [],
  );
  const what = tables.length > 0 ? `table ${tables.join(', ')}` : 'every table of the database';
  return [{ rule: 'vacuum-full', message: `VACUUM FULL rewrites ${what} under an ACCESS EXCLUSIVE lock` }];
}

/** A column's NOT NULL, CHECK, REFERENCES and UNIQUE in ADD COLUMN, which PostgreSQL checks against every row. */
function columnConstraintViolation(
  table: TableName,
  column: string,
  constraint: Constraint,
): Violation | undefined {
  switch (constraint.contype) {
    case 'CONSTR_FOREIGN':
      return {
        rule: 'add-foreign-key-without-not-valid',
        message:
          `ADD COLUMN ${column} REFERENCES ${quoted(tableName(constraint.pktable ?? {}))} checks every row of ` +
          `${quoted(table)} while blocking writes; add the column, then the foreign key NOT VALID`,
      };
    case 'CONSTR_CHECK':
      return {
        rule: 'add-check-without-not-valid',
        message:
          `ADD COLUMN ${column} CHECK scans table ${quoted(table)} under an ACCESS EXCLUSIVE lock; ` +
          'add the column, then the CHECK NOT VALID',
      };
    case 'CONSTR_UNIQUE':
    case 'CONSTR_PRIMARY':
      return {
        rule: 'add-unique-constraint-without-index',
        message: `ADD COLUMN ${column} ${constraint.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE'} builds an index on table ${quoted(table)} under an ACCESS EXCLUSIVE lock`,
      };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Small readers of the parse tree.

function tableName(relation: RangeVar): TableName {
  return { schema: relation.schemaname, name: relation.relname ?? '' };
}

/** A DROP object: a list of names, the last one the table's. */
function qualifiedName(object: Node): TableName | undefined {
  if (!('List' in object)) return undefined;
  const names = (object.List.items ?? []).flatMap((item) =>
    'String' in item ? [item.String.sval ?? ''] : [],
  );
  const name = names.at(-1);
  if (name === undefined) return undefined;
  return { schema: names.length > 1 ? names.at(-2) : undefined, name };
}

/** Same table when the names match and the schemas do wherever both are written. */
function sameTable(a: TableName, b: TableName): boolean {
  return a.name === b.name && (a.schema === undefined || b.schema === undefined || a.schema === b.schema);
}

function quoted(name: TableName | string): string {
  if (typeof name === 'string') return `"${name}"`;
  return name.schema ? `"${name.schema}.${name.name}"` : `"${name.name}"`;
}

function columnConstraints(column: ColumnDef): Constraint[] {
  return (column.constraints ?? []).flatMap((node) => ('Constraint' in node ? [node.Constraint] : []));
}

function isSerial(column: ColumnDef): boolean {
  const names = column.typeName?.names ?? [];
  const only = names.length === 1 ? names[0] : undefined;
  return only !== undefined && 'String' in only && SERIAL_TYPES.has(only.String.sval ?? '');
}

/** What makes an added column's default volatile, or undefined when it is constant or stable. */
function volatileDefault(constraints: readonly Constraint[], serial: boolean): string | undefined {
  if (serial) return 'a serial type (a nextval() default)';
  if (constraints.some((constraint) => constraint.contype === 'CONSTR_IDENTITY')) return 'an identity';
  const expression = constraints.find((constraint) => constraint.contype === 'CONSTR_DEFAULT')?.raw_expr;
  const volatile = functionNames(expression).find((name) => VOLATILE_FUNCTIONS.has(name));
  return volatile ? `volatile default ${volatile}()` : undefined;
}

/** Names of every function called anywhere in an expression tree. */
function functionNames(tree: unknown): string[] {
  if (Array.isArray(tree)) return tree.flatMap(functionNames);
  if (typeof tree !== 'object' || tree === null) return [];
  const nested = Object.values(tree).flatMap(functionNames);
  const last = (tree as { FuncCall?: { funcname?: Node[] } }).FuncCall?.funcname?.at(-1);
  return last && 'String' in last && last.String.sval ? [last.String.sval, ...nested] : nested;
}

/** The column a constraint proves NOT NULL: CHECK (col IS NOT NULL), or PostgreSQL 18's NOT NULL col. */
function notNullProof(constraint: Constraint): string | undefined {
  if (constraint.contype === 'CONSTR_NOTNULL') {
    const key = constraint.keys?.[0];
    return key && 'String' in key ? key.String.sval : undefined;
  }
  if (constraint.contype !== 'CONSTR_CHECK' || !constraint.raw_expr || !('NullTest' in constraint.raw_expr)) {
    return undefined;
  }
  const test = constraint.raw_expr.NullTest;
  if (test.nulltesttype !== 'IS_NOT_NULL' || !test.arg || !('ColumnRef' in test.arg)) return undefined;
  const field = test.arg.ColumnRef.fields?.at(-1);
  return field && 'String' in field ? field.String.sval : undefined;
}

/** A VACUUM or REINDEX option that is on: `FULL`, `FULL true`, `CONCURRENTLY`. */
function isOption(node: Node, name: string): boolean {
  if (!('DefElem' in node)) return false;
  const option: DefElem = node.DefElem;
  if (option.defname !== name) return false;
  const value = option.arg;
  if (!value) return true;
  if ('Boolean' in value) return value.Boolean.boolval === true;
  if ('Integer' in value) return (value.Integer.ival ?? 0) !== 0;
  if ('String' in value)
    return !['false', 'off', 'no', '0'].includes((value.String.sval ?? '').toLowerCase());
  return true;
}
