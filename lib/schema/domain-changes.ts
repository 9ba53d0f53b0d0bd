/**
 * Domains, written by our code from the catalog rather than by the diff library, which creates a
 * new domain after the tables that use it (the column's type does not exist yet), changes one by
 * dropping and creating it again (refused while a column uses it, and every such column would
 * go), reads only the domains on the search path, and names none of their constraints. A domain
 * that is new is created before anything else uses it, with its constraints by name; one that
 * changes is altered: a default or NOT NULL set or dropped, a CHECK dropped, or added NOT VALID
 * and then validated (VALIDATE reads the columns without blocking writes; safe-migrations.ts puts
 * it in the finish migration, as it does a table's). Only a new base type or collation, which
 * ALTER DOMAIN cannot change, is a drop and a create.
 */

import type { Database } from '../engine/database.ts';
import { escapeIdentifier } from '../engine/sql-quote.ts';

/** A domain as the catalog holds it. */
export interface DomainFacts {
  readonly schema: string;
  readonly name: string;
  /** Its base type, as format_type prints it. */
  readonly type: string;
  /** `"schema"."collation"` when not the base type's; null otherwise. */
  readonly collation: string | null;
  readonly default: string | null;
  readonly notNull: boolean;
  /** Its constraints, by name: CHECKs and (PostgreSQL 17 onward) its NOT NULL. */
  readonly constraints: readonly DomainConstraint[];
}

export interface DomainConstraint {
  readonly name: string;
  /** `CHECK (...)` or `NOT NULL`, as pg_get_constraintdef prints it. */
  readonly definition: string;
  readonly validated: boolean;
}

/** `schema.domain` → its facts, for every schema but `excludeSchemas` and the system ones. */
export async function readDomains(
  db: Database,
  excludeSchemas: readonly string[],
): Promise<ReadonlyMap<string, DomainFacts>> {
  const result = await db.query<DomainFacts>(
    `SELECT n.nspname AS schema, t.typname AS name, format_type(t.typbasetype, t.typtypmod) AS type,
            CASE WHEN t.typcollation <> bt.typcollation
              THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
            t.typdefault AS default, t.typnotnull AS "notNull",
            coalesce((SELECT jsonb_agg(jsonb_build_object('name', k.conname, 'definition', pg_get_constraintdef(k.oid),
                                                          'validated', k.convalidated) ORDER BY k.conname)
                      FROM pg_constraint k WHERE k.contypid = t.oid), '[]'::jsonb) AS constraints
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_type bt ON bt.oid = t.typbasetype
       LEFT JOIN pg_collation co ON co.oid = t.typcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
     WHERE t.typtype = 'd' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
       AND NOT n.nspname = ANY ($1::text[])
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')`,
    [excludeSchemas],
  );
  return new Map(
    result.rows.map((domain) => [
      `${domain.schema}.${domain.name}`,
      {
        ...domain,
        // pg_get_constraintdef ends a NOT VALID one so; `validated` says it.
        constraints: domain.constraints.map((constraint) => ({
          ...constraint,
          definition: constraint.definition.replace(/ NOT VALID$/, ''),
        })),
      },
    ]),
  );
}

/**
 * The library's statements with its domain statements replaced by ours: the creations before
 * the first statement that may use them, the changes and drops where the library dropped them
 * (or last, before the schemas' drops).
 */
export function mendDomains(
  statements: readonly string[],
  from: ReadonlyMap<string, DomainFacts>,
  to: ReadonlyMap<string, DomainFacts>,
): string[] {
  const creations: string[] = [];
  const changes: string[] = [];
  for (const [key, wanted] of to) {
    const before = from.get(key);
    if (!before) creations.push(...createDomain(wanted));
    else if (before.type !== wanted.type || before.collation !== wanted.collation)
      creations.push(`drop domain ${domainName(before)};`, ...createDomain(wanted));
    else changes.push(...alterDomain(before, wanted));
  }
  for (const [key, before] of from) if (!to.has(key)) changes.push(`drop domain ${domainName(before)};`);
  const rest = statements.filter((sql) => !/^(?:create|drop) domain /i.test(sql));
  if (creations.length === 0 && changes.length === 0) return rest;
  const createAt = rest.findIndex((sql) => !PRELUDE.test(sql));
  const withCreations =
    createAt < 0
      ? [...rest, ...creations]
      : [...rest.slice(0, createAt), ...creations, ...rest.slice(createAt)];
  const changeAt = withCreations.findIndex((sql, index) => index >= createAt && LAST.test(sql));
  return changeAt < 0
    ? [...withCreations, ...changes]
    : [...withCreations.slice(0, changeAt), ...changes, ...withCreations.slice(changeAt)];
}

/** What the library writes before anything could use a domain: schemas, extensions, collations, enums, sequences. */
const PRELUDE =
  /^(?:create schema|create extension|alter extension|create collation|create type \S+ as enum|create sequence)\b/i;

/** What the library writes last: the drops of collations and schemas, which a domain may be in or use. */
const LAST = /^drop (?:collation|schema)\b/i;

function domainName(domain: DomainFacts): string {
  return `${escapeIdentifier(domain.schema)}.${escapeIdentifier(domain.name)}`;
}

/** CREATE DOMAIN with its validated constraints by name; a NOT VALID one is added after, as it is. */
function createDomain(domain: DomainFacts): string[] {
  const named = domain.constraints.some((constraint) => constraint.definition === 'NOT NULL');
  const clauses = [
    `as ${domain.type}`,
    ...(domain.collation ? [`collate ${domain.collation}`] : []),
    ...(domain.default !== null ? [`default ${domain.default}`] : []),
    ...(domain.notNull && !named ? ['not null'] : []),
    ...domain.constraints
      .filter((constraint) => constraint.validated)
      .map((constraint) => `constraint ${escapeIdentifier(constraint.name)} ${constraint.definition}`),
  ];
  return [
    `create domain ${domainName(domain)} ${clauses.join(' ')};`,
    ...domain.constraints
      .filter((constraint) => !constraint.validated)
      .map((constraint) => addConstraint(domain, constraint)),
  ];
}

/** ALTER DOMAIN for what changed: default, NOT NULL, and each constraint by name. */
function alterDomain(before: DomainFacts, after: DomainFacts): string[] {
  const name = domainName(after);
  const statements: string[] = [];
  if (before.default !== after.default)
    statements.push(
      after.default === null
        ? `alter domain ${name} drop default;`
        : `alter domain ${name} set default ${after.default};`,
    );
  const named = (domain: DomainFacts) =>
    domain.constraints.some((constraint) => constraint.definition === 'NOT NULL');
  if (before.notNull !== after.notNull && !named(before) && !named(after))
    statements.push(`alter domain ${name} ${after.notNull ? 'set' : 'drop'} not null;`);
  const constraintOf = (domain: DomainFacts, constraintName: string) =>
    domain.constraints.find((constraint) => constraint.name === constraintName);
  // PostgreSQL cannot make a validated constraint NOT VALID again: dropped and added as wanted.
  const replaced = (existing: DomainConstraint, wanted: DomainConstraint) =>
    existing.definition !== wanted.definition || (existing.validated && !wanted.validated);
  for (const constraint of before.constraints) {
    const wanted = constraintOf(after, constraint.name);
    if (!wanted || replaced(constraint, wanted))
      statements.push(`alter domain ${name} drop constraint ${escapeIdentifier(constraint.name)};`);
  }
  for (const constraint of after.constraints) {
    const existing = constraintOf(before, constraint.name);
    const added = !existing || replaced(existing, constraint);
    if (added) statements.push(addConstraint(after, constraint));
    const validated = !added && existing?.validated;
    if (constraint.validated && constraint.definition !== 'NOT NULL' && !validated)
      statements.push(`alter domain ${name} validate constraint ${escapeIdentifier(constraint.name)};`);
  }
  return statements;
}

/** A CHECK added NOT VALID (the columns are read by VALIDATE, not under the ALTER's lock); a NOT NULL as it is. */
function addConstraint(domain: DomainFacts, constraint: DomainConstraint): string {
  const notValid = constraint.definition === 'NOT NULL' ? '' : ' not valid';
  return `alter domain ${domainName(domain)} add constraint ${escapeIdentifier(constraint.name)} ${constraint.definition}${notValid};`;
}
