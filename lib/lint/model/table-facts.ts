/**
 * What the migrations read so far say about tables beyond their columns' types, for the rules
 * about what the application sees and what fails on real data: row level security and policies,
 * replica identity, keys, indexes and the foreign keys that reference a column, identity and
 * virtual generated columns, partitioning (which tables are partitioned and which have a DEFAULT
 * partition) and inheritance (domains and sequences are type-facts.ts). Learnt from up sections
 * only, like schema-knowledge.ts, which owns one; anything created outside the migrations is unknown.
 */
import type { AlterTableCmd, ColumnDef, Constraint, CreateStmt, Node } from 'libpg-query';
import {
  fromNameList,
  fromNames,
  fromRangeVar,
  RelationMap,
  type RelationName,
  sameRelation as sameName,
} from './relation-name.ts';
import { columnConstraints } from './rewrite-rules.ts';

type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

/** A key or index: the columns it covers (expressions count as no column). */
export interface KnownKey {
  readonly name?: string;
  readonly kind: 'primary key' | 'unique' | 'unique index' | 'index';
  readonly columns: readonly string[];
}

interface KnownForeignKey {
  readonly name?: string;
  readonly from: RelationName;
  readonly columns: readonly string[];
  readonly to: RelationName;
  /** Empty when the key names none: the referenced table's primary key. */
  readonly toColumns: readonly string[];
}

export interface TableFacts {
  rowSecurity: boolean;
  policies: number;
  replicaIdentity: ReplicaIdentity;
  readonly keys: KnownKey[];
  readonly identity: Set<string>;
  readonly virtual: Set<string>;
  partitioned: boolean;
  defaultPartition?: RelationName;
  /** Tables it inherits from, or the partitioned table it is a partition of. */
  readonly parents: RelationName[];
  readonly partitionOf?: RelationName;
  accessMethod: string;
}

export class TableFactsKnowledge {
  private readonly tables = new RelationMap<TableFacts>();
  private readonly foreignKeys: KnownForeignKey[] = [];

  table(name: RelationName): Readonly<TableFacts> | undefined {
    return this.tables.get(name);
  }

  /** The foreign keys of known tables that reference `table`. */
  referencing(table: RelationName): readonly KnownForeignKey[] {
    return this.foreignKeys.filter((key) => sameName(key.to, table));
  }

  /** Tables that inherit from `table` (partitions included). */
  children(table: RelationName): RelationName[] {
    const found: RelationName[] = [];
    this.tables.forEach((name, facts) => {
      if (facts.parents.some((parent) => sameName(parent, table))) found.push(name);
    });
    return found;
  }

  /** Every table the migrations created, with its facts. */
  all(): [RelationName, Readonly<TableFacts>][] {
    const found: [RelationName, TableFacts][] = [];
    this.tables.forEach((name, facts) => {
      found.push([name, facts]);
    });
    return found;
  }

  learn(node: Node): void {
    if ('CreateStmt' in node) this.createTable(node.CreateStmt);
    else if ('AlterTableStmt' in node && node.AlterTableStmt.relation)
      this.alterTable(fromRangeVar(node.AlterTableStmt.relation), node.AlterTableStmt.cmds ?? []);
    else if ('CreatePolicyStmt' in node && node.CreatePolicyStmt.table) {
      const facts = this.tables.get(fromRangeVar(node.CreatePolicyStmt.table));
      if (facts) facts.policies += 1;
    } else if ('IndexStmt' in node && node.IndexStmt.relation) {
      const facts = this.tables.get(fromRangeVar(node.IndexStmt.relation));
      const columns = (node.IndexStmt.indexParams ?? []).flatMap((param) =>
        'IndexElem' in param && param.IndexElem.name ? [param.IndexElem.name] : [],
      );
      facts?.keys.push({
        name: node.IndexStmt.idxname,
        kind: node.IndexStmt.unique ? 'unique index' : 'index',
        columns,
      });
    } else if ('RenameStmt' in node) this.rename(node.RenameStmt);
    else if ('DropStmt' in node) this.drop(node.DropStmt);
  }

  private createTable(statement: CreateStmt): void {
    if (!statement.relation) return;
    const name = fromRangeVar(statement.relation);
    const parents = (statement.inhRelations ?? []).flatMap((parent) =>
      'RangeVar' in parent ? [fromRangeVar(parent.RangeVar)] : [],
    );
    const partitionOf = statement.partbound ? parents[0] : undefined;
    const facts: TableFacts = {
      rowSecurity: false,
      policies: 0,
      replicaIdentity: 'default',
      keys: [],
      identity: new Set(),
      virtual: new Set(),
      partitioned: statement.partspec !== undefined,
      parents,
      partitionOf,
      accessMethod: statement.accessMethod ?? 'heap',
    };
    this.tables.set(name, facts);
    for (const element of statement.tableElts ?? []) {
      if ('ColumnDef' in element) this.addColumn(name, facts, element.ColumnDef);
      else if ('Constraint' in element) this.addConstraint(name, facts, element.Constraint);
    }
    if (partitionOf && statement.partbound?.is_default) {
      const parent = this.tables.get(partitionOf);
      if (parent) parent.defaultPartition = name;
    }
  }

  private addColumn(table: RelationName, facts: TableFacts, column: ColumnDef): void {
    const name = column.colname ?? '';
    for (const constraint of columnConstraints(column)) {
      if (constraint.contype === 'CONSTR_IDENTITY') facts.identity.add(name);
      else if (constraint.contype === 'CONSTR_GENERATED' && constraint.generated_kind === 'v')
        facts.virtual.add(name);
      else
        this.addConstraint(
          table,
          facts,
          { ...constraint, keys: constraint.keys ?? [stringNode(name)] },
          name,
        );
    }
  }

  private addConstraint(
    table: RelationName,
    facts: TableFacts,
    constraint: Constraint,
    column?: string,
  ): void {
    const columns = names(constraint.keys);
    if (constraint.contype === 'CONSTR_PRIMARY' || constraint.contype === 'CONSTR_UNIQUE') {
      const kind = constraint.contype === 'CONSTR_PRIMARY' ? 'primary key' : 'unique';
      facts.keys.push({ name: constraint.conname ?? constraint.indexname, kind, columns });
    } else if (constraint.contype === 'CONSTR_FOREIGN' && constraint.pktable) {
      const from = names(constraint.fk_attrs);
      this.foreignKeys.push({
        name: constraint.conname,
        from: table,
        columns: from.length > 0 ? from : column ? [column] : [],
        to: fromRangeVar(constraint.pktable),
        toColumns: names(constraint.pk_attrs),
      });
    }
  }

  private alterTable(name: RelationName, commands: Node[]): void {
    const facts = this.tables.get(name);
    for (const node of commands) {
      if (!('AlterTableCmd' in node)) continue;
      const command = node.AlterTableCmd;
      if (command.subtype === 'AT_AttachPartition') this.attach(name, command);
      if (facts) this.alterKnownTable(name, facts, command);
    }
  }

  private alterKnownTable(name: RelationName, facts: TableFacts, command: AlterTableCmd): void {
    const column = command.name ?? '';
    switch (command.subtype) {
      case 'AT_EnableRowSecurity':
      case 'AT_DisableRowSecurity':
        facts.rowSecurity = command.subtype === 'AT_EnableRowSecurity';
        return;
      case 'AT_ReplicaIdentity': {
        const identity =
          command.def && 'ReplicaIdentityStmt' in command.def ? command.def.ReplicaIdentityStmt : undefined;
        facts.replicaIdentity = REPLICA_IDENTITIES[identity?.identity_type ?? 'd'] ?? 'default';
        return;
      }
      case 'AT_AddColumn':
        if (command.def && 'ColumnDef' in command.def) this.addColumn(name, facts, command.def.ColumnDef);
        return;
      case 'AT_AddConstraint':
        if (command.def && 'Constraint' in command.def)
          this.addConstraint(name, facts, command.def.Constraint);
        return;
      case 'AT_DropConstraint': {
        const index = facts.keys.findIndex((key) => key.name === column);
        if (index >= 0) facts.keys.splice(index, 1);
        this.removeForeignKey(name, column);
        return;
      }
      case 'AT_DropColumn':
        facts.identity.delete(column);
        facts.virtual.delete(column);
        for (let i = facts.keys.length - 1; i >= 0; i--)
          if (facts.keys[i]?.columns.includes(column)) facts.keys.splice(i, 1);
        return;
      case 'AT_AddIdentity':
        facts.identity.add(column);
        return;
      case 'AT_DropIdentity':
        facts.identity.delete(column);
        return;
      case 'AT_DropExpression':
        facts.virtual.delete(column);
        return;
      case 'AT_SetAccessMethod':
        facts.accessMethod = command.name ?? 'heap';
        return;
      case 'AT_DetachPartition': {
        const partition =
          command.def && 'PartitionCmd' in command.def ? command.def.PartitionCmd.name : undefined;
        if (partition && facts.defaultPartition && sameName(facts.defaultPartition, fromRangeVar(partition)))
          facts.defaultPartition = undefined;
        return;
      }
      default:
        return;
    }
  }

  private attach(parent: RelationName, command: AlterTableCmd): void {
    const partition = command.def && 'PartitionCmd' in command.def ? command.def.PartitionCmd : undefined;
    if (!partition?.name) return;
    const child = fromRangeVar(partition.name);
    const facts = this.tables.get(child);
    if (facts && !facts.parents.some((known) => sameName(known, parent))) facts.parents.push(parent);
    const parentFacts = this.tables.get(parent);
    if (parentFacts && partition.bound?.is_default) parentFacts.defaultPartition = child;
  }

  private removeForeignKey(table: RelationName, name: string): void {
    const index = this.foreignKeys.findIndex((key) => key.name === name && sameName(key.from, table));
    if (index >= 0) this.foreignKeys.splice(index, 1);
  }

  private rename(statement: Extract<Node, { RenameStmt: unknown }>['RenameStmt']): void {
    if (statement.renameType !== 'OBJECT_TABLE' || !statement.relation || !statement.newname) return;
    const from = fromRangeVar(statement.relation);
    const facts = this.tables.get(from);
    if (!facts) return;
    this.tables.delete(from);
    this.tables.set({ schema: from.schema, name: statement.newname }, facts);
  }

  private drop(statement: Extract<Node, { DropStmt: unknown }>['DropStmt']): void {
    for (const object of statement.objects ?? []) {
      const name = fromNameList(object);
      if (!name) continue;
      if (statement.removeType === 'OBJECT_TABLE') {
        this.tables.delete(name);
        for (let i = this.foreignKeys.length - 1; i >= 0; i--) {
          const key = this.foreignKeys[i];
          if (key && (sameName(key.from, name) || sameName(key.to, name))) this.foreignKeys.splice(i, 1);
        }
      } else if (statement.removeType === 'OBJECT_POLICY') {
        // DROP POLICY name ON table: the list is the table's name, then the policy's.
        const items = 'List' in object ? (object.List.items ?? []) : [];
        const facts = this.tables.get(fromNames(items.slice(0, -1)) ?? { name: '' });
        if (facts) facts.policies = Math.max(0, facts.policies - 1);
      } else if (statement.removeType === 'OBJECT_INDEX') {
        this.tables.forEach((_table, facts) => {
          const index = facts.keys.findIndex((key) => key.kind === 'index' && key.name === name.name);
          if (index >= 0) facts.keys.splice(index, 1);
        });
      }
    }
  }
}

const REPLICA_IDENTITIES: Record<string, ReplicaIdentity> = {
  d: 'default',
  n: 'nothing',
  f: 'full',
  i: 'index',
};

function names(list: Node[] | undefined): string[] {
  return (list ?? []).flatMap((item) => ('String' in item && item.String.sval ? [item.String.sval] : []));
}

function stringNode(sval: string): Node {
  return { String: { sval } };
}
