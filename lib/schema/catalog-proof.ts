/**
 * An independent reading of a schema, to prove what the generated migrations leave: one query
 * on pg_catalog written for this proof alone, apart from the diff library's inspection and the
 * snapshot of catalog.ts (a schema the generator misreads could not then prove itself right).
 * It reads tables and columns (type, default, nullability, identity, generated kind and
 * expression, collation), sequence parameters and owners, constraints by name (PostgreSQL 18's
 * NOT NULL ones too), indexes, views, functions, triggers, rules, policies and row level
 * security, comments, domains, composite and enum types, partitions, extensions, and the
 * relfilenode of each table, which changes when a migration rewrites it.
 */

import type { Database } from '../engine/database.ts';
import { escapeLiteral } from '../engine/sql-quote.ts';
import { AutogenerateError } from './migration-generator.ts';

/** A schema as the proof reads it. */
export interface CatalogProof {
  /** One line per fact, sorted; two schemas are the same when their lines are. */
  readonly lines: readonly string[];
  /** `schema.table` → its relfilenode, for the tables (and materialized views) with storage. */
  readonly storage: ReadonlyMap<string, string>;
}

/** A line the proof found on one side only. */
interface CatalogDifference {
  /** `extra`: in the database proved and not in the wanted schema; `missing`: the other way. */
  readonly kind: 'extra' | 'missing';
  readonly line: string;
}

/** Reads `db`'s schema, all of it but the system schemas and `excludeSchemas` (the history's). */
export async function readCatalogProof(
  db: Database,
  options: { readonly excludeSchemas: readonly string[] },
): Promise<CatalogProof> {
  const result = await db.query<{ kind: string; line: string }>(proofQuery(options.excludeSchemas));
  const lines: string[] = [];
  const storage = new Map<string, string>();
  for (const row of result.rows) {
    if (row.kind === 'storage') {
      const space = row.line.lastIndexOf(' ');
      storage.set(row.line.slice(0, space), row.line.slice(space + 1));
    } else lines.push(row.line);
  }
  lines.sort();
  return { lines, storage };
}

/** What `actual` has that `wanted` lacks (`extra`) and the reverse (`missing`), each line once. */
export function catalogDifferences(actual: CatalogProof, wanted: CatalogProof): CatalogDifference[] {
  const have = new Set(actual.lines);
  const want = new Set(wanted.lines);
  return [
    ...[...have].filter((line) => !want.has(line)).map((line) => ({ kind: 'extra' as const, line })),
    ...[...want].filter((line) => !have.has(line)).map((line) => ({ kind: 'missing' as const, line })),
  ];
}

/** The tables of `before` whose storage `after` replaced: the tables a migration rewrote. */
export function rewrittenTables(before: CatalogProof, after: CatalogProof): string[] {
  return [...before.storage]
    .filter(([table, node]) => after.storage.has(table) && after.storage.get(table) !== node)
    .map(([table]) => table)
    .sort();
}

/** The differences as lines for a message: `+ ` extra, `- ` missing. */
export function formatCatalogDifferences(differences: readonly CatalogDifference[]): string[] {
  return differences.map((difference) => `${difference.kind === 'extra' ? '+' : '-'} ${difference.line}`);
}

/** The query: one branch per kind of line, each giving `kind` and `line`. */
function proofQuery(excludeSchemas: readonly string[]): string {
  const excluded = ['pg_catalog', 'information_schema', 'pg_toast', ...excludeSchemas]
    .map(escapeLiteral)
    .join(', ');
  const user = (column: string) =>
    `${column} NOT IN (${excluded}) AND ${column} NOT LIKE 'pg\\_temp%' AND ${column} NOT LIKE 'pg\\_toast%'`;
  // An extension's own objects come with it; "extension x" says it is there.
  const ownObject = (catalog: string, oid: string) =>
    `NOT EXISTS (SELECT FROM pg_depend x WHERE x.classid = '${catalog}'::regclass AND x.objid = ${oid} AND x.deptype = 'e')`;
  const relation = `quote_ident(n.nspname) || '.' || quote_ident(c.relname)`;
  const branches = [
    `SELECT 'schema', 'schema ' || quote_ident(n.nspname) FROM pg_namespace n WHERE ${user('n.nspname')}`,
    // Tables, views, sequences and the rest of pg_class (indexes and composite types have their own lines).
    `SELECT 'relation', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
         WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' ELSE 'relation ' || c.relkind::text END
       || ' ' || ${relation}
       || CASE c.relpersistence WHEN 'u' THEN ' unlogged' ELSE '' END
       || CASE WHEN c.relrowsecurity THEN ' row-level-security' ELSE '' END
       || CASE WHEN c.relforcerowsecurity THEN ' forced' ELSE '' END
       || coalesce(' with ' || array_to_string(c.reloptions, ','), '')
       || CASE WHEN c.relkind = 'p' THEN ' by ' || pg_get_partkeydef(c.oid) ELSE '' END
       || CASE WHEN c.relkind IN ('v', 'm') THEN ' as ' || btrim(regexp_replace(pg_get_viewdef(c.oid), '\\s+', ' ', 'g')) ELSE '' END
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${user('n.nspname')} AND ${ownObject('pg_class', 'c.oid')}`,
    `SELECT 'storage', ${relation} || ' ' || c.relfilenode
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'm') AND ${user('n.nspname')}`,
    // Partitions and inheritance: the parent, and a partition's bounds.
    `SELECT 'inherits', 'inherits ' || ${relation} || ' from ' || quote_ident(pn.nspname) || '.' || quote_ident(p.relname)
       || coalesce(' ' || pg_get_expr(c.relpartbound, c.oid), '')
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
     WHERE c.relkind IN ('r', 'p', 'f') AND ${user('n.nspname')}`,
    // Columns by name, not position: a column dropped and added back cannot be moved.
    `SELECT 'column', 'column ' || ${relation} || '.' || quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || CASE WHEN a.attcollation <> t.typcollation THEN ' collate ' || quote_ident(co.collname) ELSE '' END
       || CASE a.attidentity WHEN 'a' THEN ' generated always as identity' WHEN 'd' THEN ' generated by default as identity' ELSE '' END
       || CASE a.attgenerated WHEN 's' THEN ' generated stored as ' WHEN 'v' THEN ' generated virtual as '
            ELSE CASE WHEN d.adbin IS NULL THEN '' ELSE ' default ' END END
       || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attstorage <> t.typstorage THEN ' storage ' || a.attstorage::text ELSE '' END
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_collation co ON co.oid = a.attcollation
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND ${user('n.nspname')} AND ${ownObject('pg_class', 'c.oid')}`,
    `SELECT 'sequence', 'sequence ' || ${relation} || ' as ' || format_type(s.seqtypid, NULL)
       || ' increment ' || s.seqincrement || ' start ' || s.seqstart || ' min ' || s.seqmin || ' max ' || s.seqmax
       || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END
       || CASE c.relpersistence WHEN 'u' THEN ' unlogged' ELSE '' END
       || coalesce((SELECT ' owned by ' || quote_ident(tn.nspname) || '.' || quote_ident(t.relname) || '.' || quote_ident(ta.attname)
                      || CASE dep.deptype WHEN 'i' THEN ' (identity)' ELSE '' END
                    FROM pg_depend dep JOIN pg_class t ON t.oid = dep.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                    JOIN pg_attribute ta ON ta.attrelid = t.oid AND ta.attnum = dep.refobjsubid
                    WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.refclassid = 'pg_class'::regclass
                      AND dep.deptype IN ('a', 'i') LIMIT 1), '')
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${user('n.nspname')} AND ${ownObject('pg_class', 'c.oid')}`,
    // Every constraint by name, with its owner: PostgreSQL 18's NOT NULL ones (contype n) too.
    `SELECT 'constraint', 'constraint ' || coalesce(quote_ident(rn.nspname) || '.' || quote_ident(r.relname),
                                       'domain ' || quote_ident(tn.nspname) || '.' || quote_ident(ty.typname), '?')
       || '.' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid)
       || CASE WHEN k.convalidated THEN '' ELSE ' not valid' END
       || CASE WHEN k.conislocal THEN '' ELSE ' inherited' END
     FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
     LEFT JOIN pg_class r ON r.oid = k.conrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
     LEFT JOIN pg_type ty ON ty.oid = k.contypid LEFT JOIN pg_namespace tn ON tn.oid = ty.typnamespace
     WHERE ${user('n.nspname')} AND ${ownObject('pg_constraint', 'k.oid')}`,
    `SELECT 'index', 'index ' || quote_ident(n.nspname) || '.' || quote_ident(ic.relname) || ' ' || pg_get_indexdef(i.indexrelid)
       || CASE WHEN i.indisvalid THEN '' ELSE ' invalid' END
       || CASE WHEN i.indisclustered THEN ' clustered' ELSE '' END
       || CASE WHEN i.indisreplident THEN ' replica identity' ELSE '' END
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
     WHERE ${user('n.nspname')} AND ${ownObject('pg_class', 'ic.oid')}`,
    `SELECT 'function', CASE p.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' WHEN 'w' THEN 'window function ' ELSE 'function ' END
       || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')'
       || CASE WHEN p.prokind IN ('f', 'p') THEN ' definition ' || md5(pg_get_functiondef(p.oid)) ELSE '' END
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE ${user('n.nspname')} AND ${ownObject('pg_proc', 'p.oid')}`,
    `SELECT 'trigger', 'trigger ' || ${relation} || '.' || quote_ident(tg.tgname) || ' ' || pg_get_triggerdef(tg.oid)
       || CASE tg.tgenabled WHEN 'O' THEN '' WHEN 'D' THEN ' disabled' WHEN 'R' THEN ' replica' ELSE ' always' END
     FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT tg.tgisinternal AND ${user('n.nspname')}`,
    `SELECT 'rule', 'rule ' || ${relation} || '.' || quote_ident(ru.rulename) || ' ' || pg_get_ruledef(ru.oid)
     FROM pg_rewrite ru JOIN pg_class c ON c.oid = ru.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ru.rulename <> '_RETURN' AND ${user('n.nspname')}`,
    `SELECT 'policy', 'policy ' || ${relation} || '.' || quote_ident(pol.polname)
       || CASE WHEN pol.polpermissive THEN ' permissive' ELSE ' restrictive' END
       || ' for ' || CASE pol.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' ELSE 'all' END
       || ' to ' || (SELECT string_agg(CASE WHEN role.oid = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(role.oid)) END, ',' ORDER BY 1)
                     FROM unnest(pol.polroles) role (oid))
       || coalesce(' using ' || pg_get_expr(pol.polqual, pol.polrelid), '')
       || coalesce(' with check ' || pg_get_expr(pol.polwithcheck, pol.polrelid), '')
     FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${user('n.nspname')}`,
    // Types: enums with their values in order, domains, composite types with their attributes in order.
    `SELECT 'type', CASE t.typtype
         WHEN 'e' THEN 'enum ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' ('
           || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
         WHEN 'd' THEN 'domain ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' ' || format_type(t.typbasetype, t.typtypmod)
           || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END || coalesce(' default ' || t.typdefault, '')
           || CASE WHEN t.typcollation <> bt.typcollation THEN ' collate ' || quote_ident(co.collname) ELSE '' END
         WHEN 'c' THEN 'composite ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' ('
           || coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                || CASE WHEN a.attcollation <> at.typcollation THEN ' collate ' || quote_ident(aco.collname) ELSE '' END, ', ' ORDER BY a.attnum)
              FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid LEFT JOIN pg_collation aco ON aco.oid = a.attcollation
              WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
         WHEN 'r' THEN 'range ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname)
           || (SELECT ' of ' || format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)
         END
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     LEFT JOIN pg_type bt ON bt.oid = t.typbasetype LEFT JOIN pg_collation co ON co.oid = t.typcollation
     WHERE t.typtype IN ('e', 'd', 'c', 'r')
       AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c') AND ${user('n.nspname')} AND ${ownObject('pg_type', 't.oid')}`,
    `SELECT 'collation', 'collation ' || quote_ident(n.nspname) || '.' || quote_ident(co.collname) || ' ' || co.collprovider::text
       || ' ' || coalesce(co.collcollate, '') || ' ' || coalesce(co.collctype, '') || coalesce(' ' || co.colllocale, '')
       || CASE WHEN co.collisdeterministic THEN '' ELSE ' nondeterministic' END
     FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
     WHERE ${user('n.nspname')} AND ${ownObject('pg_collation', 'co.oid')}`,
    `SELECT 'extension', 'extension ' || quote_ident(x.extname) || ' ' || x.extversion || ' in ' || quote_ident(n.nspname)
     FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace`,
    `SELECT 'statistics', 'statistics ' || quote_ident(n.nspname) || '.' || quote_ident(s.stxname) || ' ' || pg_get_statisticsobjdef(s.oid)
     FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE ${user('n.nspname')}`,
    // Comments on anything of the user's schemas (and on the schemas themselves).
    `SELECT 'comment', 'comment on ' || o.type || ' ' || o.identity || ' is ' || quote_literal(d.description)
     FROM pg_description d, pg_identify_object(d.classoid, d.objoid, d.objsubid) o
     -- The system's own comments (thousands) have oids below the first one given to users.
     WHERE (d.objoid >= 16384 OR d.classoid = 'pg_namespace'::regclass)
       AND d.classoid NOT IN ('pg_extension'::regclass, 'pg_language'::regclass)
       AND coalesce(o.schema, CASE WHEN d.classoid = 'pg_namespace'::regclass THEN o.name END) IS NOT NULL
       AND ${user(`coalesce(o.schema, o.name)`)}
       AND NOT EXISTS (SELECT FROM pg_depend x WHERE x.classid = d.classoid AND x.objid = d.objoid AND x.deptype = 'e')`,
  ];
  return `SELECT kind, line FROM (\n${branches.join('\nUNION ALL\n')}\n) proof (kind, line)`;
}

/**
 * The proof `create --autogenerate` runs last: `db`, where the generated migrations were applied
 * (`generated`), or head's schema when the diff library found nothing to generate, read
 * independently, must equal the wanted schema read the same way. The line for `verified` when
 * it does; an AutogenerateError naming each difference when it does not.
 */
export async function proveWantedCatalog(
  db: Database,
  wanted: CatalogProof,
  options: { readonly excludeSchemas: readonly string[] },
  situation: 'generated' | 'nothing-to-generate',
): Promise<string> {
  const differences = catalogDifferences(await readCatalogProof(db, options), wanted);
  if (differences.length === 0)
    return `an independent reading of the catalog agrees: ${wanted.lines.length} facts of the wanted schema, none missing, none extra`;
  const found =
    situation === 'generated'
      ? 'the generated migrations leave a schema that an independent reading of the catalog finds different from the wanted schema, though the diff library sees none'
      : 'the diff library finds nothing to generate, but an independent reading of the catalog finds head\u2019s schema different from the wanted schema';
  throw new AutogenerateError(
    `${found} (+ there but not wanted, - wanted but not there):\n  ` +
      `${formatCatalogDifferences(differences).join('\n  ')}\n` +
      'this is a bug in rds-migrate\u2019s autogenerate: please report it with the wanted schema and these lines. ' +
      'Nothing was written; meanwhile write this change by hand (rds-migrate create "message"), ' +
      'and prove it with rds-migrate check before up',
  );
}
