/**
 * publication-without-replica-identity: a table added to a publication (CREATE/ALTER PUBLICATION,
 * FOR ALL TABLES) while, as the migrations show it, it has no replica identity: no primary key
 * under REPLICA IDENTITY DEFAULT, or NOTHING. Its next UPDATE or DELETE fails.
 */
import type { Node } from 'libpg-query';
import { fromRangeVar, quoted, type RelationName, sameRelation } from '../model/relation-name.ts';
import type { TableFacts } from '../model/table-facts.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const publicationWithoutReplicaIdentity = {
  id: 'publication-without-replica-identity',
  title: 'A table published without a replica identity',
  why: 'Once a publication publishes updates and deletes of a table with no replica identity, every UPDATE and DELETE of it fails: the application breaks at its next write.',
  fix: steps(
    '1. Give the table a replica identity first: a primary key, ALTER TABLE t REPLICA IDENTITY USING INDEX <unique index on NOT NULL columns>, or REPLICA IDENTITY FULL.',
    "2. Or publish inserts only: WITH (publish = 'insert').",
  ),
  detect: { by: 'statement', check: publishedWithoutIdentity },
} as const satisfies RuleModule;

function publishedWithoutIdentity({ node, schema, statements, index }: StatementUnderCheck): StatementHit[] {
  const published = publishedTables(node, schema.facts.all());
  if (!published) return [];
  const later = statements.slice(index + 1);
  return published.tables.flatMap((table) => {
    const facts = schema.facts.table(table);
    if (!facts || hasIdentity(facts) || identityGivenLater(later, table)) return [];
    const why =
      facts.replicaIdentity === 'nothing'
        ? 'REPLICA IDENTITY NOTHING'
        : 'no primary key and no REPLICA IDENTITY';
    return [
      {
        message:
          `${published.statement} publishes updates and deletes of table ${quoted(table)}, which has ${why}: ` +
          'every UPDATE and DELETE of it now fails',
      },
    ];
  });
}

/** The tables a publication statement adds, when it publishes updates or deletes. */
function publishedTables(
  node: Node,
  known: [RelationName, Readonly<TableFacts>][],
): { statement: string; tables: RelationName[] } | undefined {
  let objects: Node[] | undefined;
  let statement: string;
  let allTables = false;
  if ('CreatePublicationStmt' in node) {
    const create = node.CreatePublicationStmt;
    if (!publishesChanges(create.options)) return undefined;
    objects = create.pubobjects;
    allTables = create.for_all_tables === true;
    statement = `CREATE PUBLICATION ${quoted(create.pubname ?? '')}`;
  } else if ('AlterPublicationStmt' in node) {
    const alter = node.AlterPublicationStmt;
    if (alter.action === 'AP_DropObjects') return undefined;
    objects = alter.pubobjects;
    statement = `ALTER PUBLICATION ${quoted(alter.pubname ?? '')}`;
  } else return undefined;
  const tables = allTables ? known.map(([name]) => name) : [];
  for (const object of objects ?? []) {
    if (!('PublicationObjSpec' in object)) continue;
    const spec = object.PublicationObjSpec;
    const relation = spec.pubtable?.relation;
    if (spec.pubobjtype === 'PUBLICATIONOBJ_TABLE' && relation) tables.push(fromRangeVar(relation));
    else if (spec.pubobjtype === 'PUBLICATIONOBJ_TABLES_IN_SCHEMA' && spec.name) {
      for (const [name] of known) if (name.schema === spec.name) tables.push(name);
    }
  }
  return { statement, tables };
}

/** `publish` defaults to 'insert, update, delete, truncate'; a list without update and delete is safe. */
function publishesChanges(options: Node[] | undefined): boolean {
  for (const option of options ?? []) {
    if (!('DefElem' in option) || option.DefElem.defname !== 'publish') continue;
    const arg = option.DefElem.arg;
    const value = arg && 'String' in arg ? (arg.String.sval ?? '') : '';
    return /\b(update|delete)\b/i.test(value);
  }
  return true;
}

function hasIdentity(facts: Readonly<TableFacts>): boolean {
  if (facts.replicaIdentity === 'full' || facts.replicaIdentity === 'index') return true;
  return facts.replicaIdentity === 'default' && facts.keys.some((key) => key.kind === 'primary key');
}

/** A later statement of the migration that gives the table an identity (the same transaction, unless it runs outside one). */
function identityGivenLater(later: readonly Node[], table: RelationName): boolean {
  return later.some((statement) =>
    tableCommands(statement, 'AT_ReplicaIdentity', 'AT_AddConstraint').some(({ table: altered, command }) => {
      if (!sameRelation(altered, table)) return false;
      const def = command.def;
      if (def && 'ReplicaIdentityStmt' in def)
        return ['f', 'i'].includes(def.ReplicaIdentityStmt.identity_type ?? '');
      return def !== undefined && 'Constraint' in def && def.Constraint.contype === 'CONSTR_PRIMARY';
    }),
  );
}
