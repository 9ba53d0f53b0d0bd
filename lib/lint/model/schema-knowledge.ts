/**
 * What the linter knows of the schema from the statements it has read so far, in plan order:
 * which relations this migration created (the rest existed before it and may be live and large),
 * the columns' types (so a type change can be judged binary coercible), which columns are proven
 * NOT NULL, the constraints (CHECK expressions included) and whether each is still NOT VALID, a
 * partitioned table's key, and which table and columns each index has. It learns from up
 * sections only; anything created outside the migrations is simply unknown.
 */
import type { AlterTableCmd, ColumnDef, Constraint, CreateStmt, IndexStmt, Node } from 'libpg-query';
import { fromNameList, fromNames, fromRangeVar, RelationMap, type RelationName } from './relation-name.ts';
import { type ColumnType, columnConstraints, columnType } from './rewrite-rules.ts';
import { TableFactsKnowledge } from './table-facts.ts';
import { TypeFactsKnowledge } from './type-facts.ts';

interface KnownConstraint {
  readonly name: string;
  /** Added NOT VALID (or NOT ENFORCED) and not validated since. */
  readonly notValid: boolean;
  /** The column it proves NOT NULL once valid: CHECK (col IS NOT NULL), or NOT NULL col. */
  readonly provesNotNull?: string;
  /** A foreign key's referenced table (VALIDATE takes ROW SHARE on it). */
  readonly references?: RelationName;
  /** A CHECK constraint's expression, as the parser gives it (ATTACH PARTITION may skip its scan on it). */
  readonly check?: Node;
}

/** A partitioned table's key: its strategy and its columns (undefined for an expression). */
interface PartitionKey {
  readonly strategy: 'range' | 'list' | 'hash';
  readonly columns: readonly (string | undefined)[];
}

interface KnownColumn {
  type?: ColumnType;
  notNull: boolean;
}

interface KnownTable {
  readonly columns: Map<string, KnownColumn>;
  readonly constraints: Map<string, KnownConstraint>;
  partitionKey?: PartitionKey;
}

interface KnownIndex {
  readonly table: RelationName;
  /** Its key columns in order (undefined for an expression). */
  readonly columns: readonly (string | undefined)[];
}

/** The read side, for the lock model: facts about the schema before the statement runs. */
export interface SchemaView {
  columnType(table: RelationName, column: string): ColumnType | undefined;
  /** The column is declared NOT NULL, or a valid constraint proves it (SET NOT NULL then skips its scan). */
  notNullProven(table: RelationName, column: string): boolean;
  constraint(table: RelationName, name: string): KnownConstraint | undefined;
  /** The valid CHECK constraints' expressions (NOT VALID ones prove nothing until validated). */
  validChecks(table: RelationName): readonly Node[];
  partitionKey(table: RelationName): PartitionKey | undefined;
  columnsOfType(type: RelationName): { table: RelationName; column: string }[];
  tableOfIndex(index: RelationName): RelationName | undefined;
  /** An index's key columns, when a migration created it. */
  indexColumns(index: RelationName): readonly (string | undefined)[] | undefined;
  /** Created by an earlier statement of the migration being read: nobody else can see it yet. */
  createdHere(relation: RelationName): boolean;
  /** The schema was created by an earlier statement of the migration being read. */
  schemaCreatedHere(name: string): boolean;
  /** Row security, keys, partitions and inheritance, as far as migrations show them. */
  readonly facts: TableFactsKnowledge;
  /** Domains' constraints and sequences' types, as far as migrations show them. */
  readonly types: TypeFactsKnowledge;
}

export class SchemaKnowledge implements SchemaView {
  private readonly tables = new RelationMap<KnownTable>();
  private readonly indexes = new RelationMap<KnownIndex>();
  private readonly created = new RelationMap<true>();
  private readonly createdSchemas = new Set<string>();
  readonly facts = new TableFactsKnowledge();
  readonly types = new TypeFactsKnowledge();

  /** A new migration starts: what earlier ones created now exists for it. */
  beginMigration(): void {
    this.created.clear();
    this.createdSchemas.clear();
  }

  columnType(table: RelationName, column: string): ColumnType | undefined {
    return this.tables.get(table)?.columns.get(column)?.type;
  }

  notNullProven(table: RelationName, column: string): boolean {
    const known = this.tables.get(table);
    if (!known) return false;
    if (known.columns.get(column)?.notNull) return true;
    return [...known.constraints.values()].some(
      (constraint) => !constraint.notValid && constraint.provesNotNull === column,
    );
  }

  constraint(table: RelationName, name: string): KnownConstraint | undefined {
    return this.tables.get(table)?.constraints.get(name);
  }

  validChecks(table: RelationName): readonly Node[] {
    const known = this.tables.get(table);
    if (!known) return [];
    return [...known.constraints.values()].flatMap((constraint) =>
      constraint.check && !constraint.notValid ? [constraint.check] : [],
    );
  }

  partitionKey(table: RelationName): PartitionKey | undefined {
    return this.tables.get(table)?.partitionKey;
  }

  /** The known columns whose type is named `type` (a domain, say), with their tables. */
  columnsOfType(type: RelationName): { table: RelationName; column: string }[] {
    const found: { table: RelationName; column: string }[] = [];
    this.tables.forEach((table, known) => {
      for (const [column, { type: columnType }] of known.columns) {
        if (columnType?.name === type.name) found.push({ table, column });
      }
    });
    return found;
  }

  tableOfIndex(index: RelationName): RelationName | undefined {
    return this.indexes.get(index)?.table;
  }

  indexColumns(index: RelationName): readonly (string | undefined)[] | undefined {
    return this.indexes.get(index)?.columns;
  }

  createdHere(relation: RelationName): boolean {
    return this.created.has(relation);
  }

  schemaCreatedHere(name: string): boolean {
    return this.createdSchemas.has(name);
  }

  /** Records what an up-section statement creates, changes or drops. */
  learn(node: Node): void {
    this.facts.learn(node);
    this.types.learn(node);
    if ('CreateStmt' in node) this.createTable(node.CreateStmt);
    else if ('CreateTableAsStmt' in node && node.CreateTableAsStmt.into?.rel) {
      this.createRelation(fromRangeVar(node.CreateTableAsStmt.into.rel));
    } else if ('SelectStmt' in node && node.SelectStmt.intoClause?.rel) {
      this.createRelation(fromRangeVar(node.SelectStmt.intoClause.rel));
    } else if ('ViewStmt' in node && node.ViewStmt.view) {
      if (!node.ViewStmt.replace) this.createRelation(fromRangeVar(node.ViewStmt.view));
    } else if ('CreateSeqStmt' in node && node.CreateSeqStmt.sequence) {
      this.created.set(fromRangeVar(node.CreateSeqStmt.sequence), true);
    } else if ('CreateEnumStmt' in node) this.createNamed(node.CreateEnumStmt.typeName);
    else if ('CreateDomainStmt' in node) this.createNamed(node.CreateDomainStmt.domainname);
    else if ('CompositeTypeStmt' in node && node.CompositeTypeStmt.typevar) {
      this.created.set(fromRangeVar(node.CompositeTypeStmt.typevar), true);
    } else if ('CreateSchemaStmt' in node && node.CreateSchemaStmt.schemaname) {
      this.createdSchemas.add(node.CreateSchemaStmt.schemaname);
    } else if ('IndexStmt' in node) this.createIndex(node.IndexStmt);
    else if ('AlterTableStmt' in node)
      this.alterTable(node.AlterTableStmt.relation, node.AlterTableStmt.cmds);
    else if ('RenameStmt' in node) this.rename(node);
    else if ('DropStmt' in node) this.drop(node);
  }

  private createRelation(relation: RelationName): KnownTable {
    this.created.set(relation, true);
    const table: KnownTable = { columns: new Map(), constraints: new Map() };
    this.tables.set(relation, table);
    return table;
  }

  private createNamed(names: Node[] | undefined): void {
    const name = fromNames(names);
    if (name) this.created.set(name, true);
  }

  private createTable(statement: CreateStmt): void {
    if (!statement.relation) return;
    const relation = fromRangeVar(statement.relation);
    const table = this.createRelation(relation);
    for (const element of statement.tableElts ?? []) {
      if ('ColumnDef' in element) addColumn(table, element.ColumnDef);
      else if ('Constraint' in element) addConstraint(table, element.Constraint);
    }
    for (const node of statement.constraints ?? []) {
      if ('Constraint' in node) addConstraint(table, node.Constraint);
    }
    table.partitionKey = partitionKeyOf(statement.partspec);
  }

  private createIndex(statement: IndexStmt): void {
    if (!statement.idxname || !statement.relation) return;
    const index = { schema: statement.relation.schemaname, name: statement.idxname };
    this.created.set(index, true);
    const columns = (statement.indexParams ?? []).map((param) =>
      'IndexElem' in param ? param.IndexElem.name : undefined,
    );
    this.indexes.set(index, { table: fromRangeVar(statement.relation), columns });
  }

  private alterTable(relation: CreateStmt['relation'], commands: Node[] | undefined): void {
    if (!relation) return;
    const name = fromRangeVar(relation);
    let table = this.tables.get(name);
    if (!table) {
      table = { columns: new Map(), constraints: new Map() };
      this.tables.set(name, table);
    }
    for (const command of commands ?? []) {
      if ('AlterTableCmd' in command) alterTableCommand(table, command.AlterTableCmd);
    }
  }

  private rename(node: Extract<Node, { RenameStmt: unknown }>): void {
    const statement = node.RenameStmt;
    if (!statement.relation || !statement.newname) return;
    const from = fromRangeVar(statement.relation);
    const table = this.tables.get(from);
    if (statement.renameType === 'OBJECT_COLUMN' && statement.subname) {
      const column = table?.columns.get(statement.subname);
      if (table && column) {
        table.columns.delete(statement.subname);
        table.columns.set(statement.newname, column);
      }
      return;
    }
    if (statement.renameType !== 'OBJECT_TABLE' && statement.renameType !== 'OBJECT_INDEX') return;
    const to = { schema: from.schema, name: statement.newname };
    if (table) {
      this.tables.delete(from);
      this.tables.set(to, table);
    }
    if (this.created.has(from)) {
      this.created.delete(from);
      this.created.set(to, true);
    }
  }

  private drop(node: Extract<Node, { DropStmt: unknown }>): void {
    for (const object of node.DropStmt.objects ?? []) {
      const name = fromNameList(object);
      if (!name) continue;
      this.tables.delete(name);
      this.indexes.delete(name);
      this.created.delete(name);
    }
  }
}

function addColumn(table: KnownTable, column: ColumnDef): void {
  if (!column.colname) return;
  const constraints = columnConstraints(column);
  const notNull = constraints.some(
    (constraint) => constraint.contype === 'CONSTR_NOTNULL' || constraint.contype === 'CONSTR_PRIMARY',
  );
  table.columns.set(column.colname, { type: columnType(column.typeName), notNull });
  for (const constraint of constraints) {
    if (constraint.contype === 'CONSTR_CHECK') addConstraint(table, constraint);
  }
}

function addConstraint(table: KnownTable, constraint: Constraint): void {
  const provesNotNull = notNullProof(constraint);
  const notValid = constraint.skip_validation === true;
  const references =
    constraint.contype === 'CONSTR_FOREIGN' && constraint.pktable
      ? fromRangeVar(constraint.pktable)
      : undefined;
  const check = constraint.contype === 'CONSTR_CHECK' ? constraint.raw_expr : undefined;
  // An unnamed CHECK still proves what it says; PostgreSQL names it, so it is kept under a name no migration writes.
  const name = constraint.conname ?? (check ? `(unnamed check ${table.constraints.size})` : undefined);
  if (name) table.constraints.set(name, { name, notValid, provesNotNull, references, check });
  if (constraint.contype === 'CONSTR_PRIMARY') {
    for (const key of constraint.keys ?? []) {
      const column = 'String' in key ? table.columns.get(key.String.sval ?? '') : undefined;
      if (column) column.notNull = true;
    }
  }
}

function alterTableCommand(table: KnownTable, command: AlterTableCmd): void {
  const columnName = command.name ?? '';
  switch (command.subtype) {
    case 'AT_AddColumn':
      if (command.def && 'ColumnDef' in command.def) addColumn(table, command.def.ColumnDef);
      return;
    case 'AT_DropColumn':
      table.columns.delete(columnName);
      return;
    case 'AT_AlterColumnType': {
      const column = table.columns.get(columnName) ?? { notNull: false };
      if (command.def && 'ColumnDef' in command.def) column.type = columnType(command.def.ColumnDef.typeName);
      table.columns.set(columnName, column);
      return;
    }
    case 'AT_SetNotNull':
    case 'AT_DropNotNull': {
      const column = table.columns.get(columnName) ?? { notNull: false };
      column.notNull = command.subtype === 'AT_SetNotNull';
      table.columns.set(columnName, column);
      return;
    }
    case 'AT_AddConstraint':
      if (command.def && 'Constraint' in command.def) addConstraint(table, command.def.Constraint);
      return;
    case 'AT_ValidateConstraint': {
      const known = table.constraints.get(columnName);
      if (known) table.constraints.set(columnName, { ...known, notValid: false });
      return;
    }
    case 'AT_DropConstraint':
      table.constraints.delete(columnName);
      return;
    default:
      return;
  }
}

function partitionKeyOf(spec: CreateStmt['partspec']): PartitionKey | undefined {
  const strategies = {
    PARTITION_STRATEGY_RANGE: 'range',
    PARTITION_STRATEGY_LIST: 'list',
    PARTITION_STRATEGY_HASH: 'hash',
  } as const;
  const strategy = spec?.strategy ? strategies[spec.strategy as keyof typeof strategies] : undefined;
  if (!spec || !strategy) return undefined;
  const columns = (spec.partParams ?? []).map((param) =>
    'PartitionElem' in param ? param.PartitionElem.name : undefined,
  );
  return { strategy, columns };
}

/** The column a constraint proves NOT NULL: CHECK (col IS NOT NULL), or PostgreSQL 18's NOT NULL col. */
export function notNullProof(constraint: Constraint): string | undefined {
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
