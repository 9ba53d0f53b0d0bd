/**
 * The user-visible schema of a database as sorted text lines, so two moments can be compared:
 * tables, columns with types, defaults, nullability, identity, generation and collation, indexes,
 * constraints, sequences with their parameters, views, partitions with their bounds,
 * functions (with their result and a hash of their body), enum types with their values, domains,
 * composite types with their attributes, comments,
 * triggers, row level security and its policies, and extensions of every schema but the system
 * ones and our history schema. One query on pg_catalog (information_schema's views cost tens of
 * milliseconds on a large schema, and the round trip of `check` compares a snapshot per step). Each line also names the object it
 * belongs to (a column belongs to its table; an index, constraint, trigger or policy is named with
 * its table), so a fingerprint of the schema can say which objects changed.
 */
import type { Database } from './database.ts';
import { DEFAULT_HISTORY_SCHEMA } from './history.ts';
import { escapeLiteral } from './sql-quote.ts';

/**
 * The format of a fingerprint of this catalog: what its lines say, how its objects are named, and
 * how schema-fingerprint.ts hashes them. Each recorded fingerprint carries it, and one of another
 * format is never compared (it would read as a change to every object). Bump it with any change
 * to the lines or object names: test/engine/catalog-stamp.test.ts fails until then.
 */
export const FINGERPRINT_FORMAT = 2;

/** One line of the schema and the object it describes, e.g. `table public.users`. */
export interface CatalogEntry {
  readonly object: string;
  readonly line: string;
}

export async function schemaSnapshot(
  db: Database,
  historySchema = DEFAULT_HISTORY_SCHEMA,
): Promise<string[]> {
  return (await schemaCatalog(db, historySchema)).map((entry) => entry.line);
}

/** The same snapshot, each line with its object, sorted by line. */
export async function schemaCatalog(
  db: Database,
  historySchema = DEFAULT_HISTORY_SCHEMA,
): Promise<CatalogEntry[]> {
  const result = await db.query<{ object: string; line: string }>(catalogQuery(historySchema));
  return result.rows
    .map((row) => ({ object: row.object, line: row.line }))
    .sort((a, b) => (a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
}

/** One part of the catalog query: the rows of one kind of line, and who owns each. */
interface CatalogBranch {
  readonly object: string;
  readonly line: string;
  /**
   * The object a line belongs to, by kind and oid (`c` relation, `t` type, `p` function, `n`
   * schema, `x` extension, `k` a constraint of neither), which a rename does not change.
   */
  readonly owner: string;
  /** The oid of the index, constraint, trigger or default the line describes; 0 for none. */
  readonly part: string;
  /** FROM and a WHERE clause. */
  readonly from: string;
  /** A condition that keeps the lines of the given owners only, on indexed oid columns. */
  only(owners: OwnerOids): string;
}

/** SQL oid[] expressions: the owners whose lines a query keeps, by kind. */
interface OwnerOids {
  readonly relations: string;
  readonly types: string;
  readonly functions: string;
  readonly schemas: string;
  readonly extensions: string;
  /** Constraints of neither a relation nor a type (owner `k`). */
  readonly constraints: string;
}

interface CatalogQueryOptions {
  /** Add the `owner` and `part` columns (see CatalogBranch). */
  readonly owners?: boolean;
  /** Only the lines of these owners. */
  readonly only?: OwnerOids;
}

/** The query behind the snapshot: rows of `object` and `line` (and owners when asked), unsorted. */
export function catalogQuery(historySchema: string, options: CatalogQueryOptions = {}): string {
  return catalogBranches(historySchema)
    .map((branch) => {
      const owners = options.owners ? `, ${branch.owner} AS owner, ${branch.part} AS part` : '';
      const only = options.only ? ` AND ${branch.only(options.only)}` : '';
      return `SELECT ${branch.object} AS object, ${branch.line} AS line${owners}
    ${branch.from}${only}`;
    })
    .join('\n    UNION ALL\n    ');
}

/**
 * ` collate <collation>` when a column's (or attribute's) collation is not its type's; '' otherwise.
 * The collation is looked up only then: most columns have their type's.
 */
function collationClause(collation: string, type: string): string {
  return `CASE WHEN ${collation} <> 0 AND ${collation} <> (SELECT ct.typcollation FROM pg_type ct WHERE ct.oid = ${type})
             THEN ' collate ' || (SELECT cn.nspname || '.' || co.collname FROM pg_collation co
                                  JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${collation})
             ELSE '' END`;
}

/** The catalogs of the objects whose comments the snapshot shows: those with an owner (CatalogBranch). */
const COMMENTED_CATALOGS = [
  'pg_class',
  'pg_type',
  'pg_proc',
  'pg_constraint',
  'pg_trigger',
  'pg_rewrite',
  'pg_policy',
  'pg_namespace',
];

/**
 * The owner of the object a comment (d, of pg_description) is on: a relation (an index's is its
 * table's, a composite type's its relation's), a type, a function, a schema, or what a constraint,
 * trigger, rule or policy is part of.
 */
const COMMENT_OWNER = `CASE d.classoid
      WHEN 'pg_class'::regclass THEN (SELECT CASE WHEN r.relkind IN ('i', 'I')
          THEN (SELECT 'c' || x.indrelid FROM pg_index x WHERE x.indexrelid = r.oid) ELSE 'c' || r.oid END
        FROM pg_class r WHERE r.oid = d.objoid)
      WHEN 'pg_type'::regclass THEN (SELECT CASE WHEN ty.typrelid <> 0 THEN 'c' || ty.typrelid ELSE 't' || ty.oid END
        FROM pg_type ty WHERE ty.oid = d.objoid)
      WHEN 'pg_proc'::regclass THEN 'p' || d.objoid
      WHEN 'pg_namespace'::regclass THEN 'n' || d.objoid
      WHEN 'pg_constraint'::regclass THEN (SELECT coalesce('c' || nullif(k.conrelid, 0), 't' || nullif(k.contypid, 0), 'k' || k.oid)
        FROM pg_constraint k WHERE k.oid = d.objoid)
      WHEN 'pg_trigger'::regclass THEN (SELECT 'c' || g.tgrelid FROM pg_trigger g WHERE g.oid = d.objoid)
      WHEN 'pg_rewrite'::regclass THEN (SELECT 'c' || w.ev_class FROM pg_rewrite w WHERE w.oid = d.objoid)
      WHEN 'pg_policy'::regclass THEN (SELECT 'c' || pl.polrelid FROM pg_policy pl WHERE pl.oid = d.objoid)
    END`;

function catalogBranches(historySchema: string): CatalogBranch[] {
  const excluded = `('pg_catalog', 'information_schema', 'pg_toast', ${escapeLiteral(historySchema)})`;
  const userSchema = (column: string) =>
    `${column} NOT IN ${excluded} AND ${column} NOT LIKE 'pg_temp%' AND ${column} NOT LIKE 'pg_toast_temp%'`;
  const relationKind = (relkind: string) =>
    `CASE ${relkind} WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' ELSE 'table ' END`;
  // Objects an extension owns come and go with the extension, not with migrations.
  const notFromExtension = (catalog: string, oid: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;
  return [
    {
      object: `'schema ' || n.nspname`,
      line: `'schema ' || n.nspname`,
      owner: `'n' || n.oid`,
      part: '0::oid',
      only: (o) => `n.oid = ANY (${o.schemas})`,
      from: `FROM pg_namespace n WHERE ${userSchema('n.nspname')}`,
    },
    {
      object: `${relationKind('c.relkind')} || n.nspname || '.' || c.relname`,
      line: `${relationKind('c.relkind')} || n.nspname || '.' || c.relname
           || CASE WHEN c.relkind IN ('v', 'm') THEN ' ' || pg_get_viewdef(c.oid) ELSE '' END`,
      owner: `'c' || c.oid`,
      part: '0::oid',
      only: (o) => `c.oid = ANY (${o.relations})`,
      from: `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ${userSchema('n.nspname')}`,
    },
    {
      // The parameters, never the position (last_value): a fingerprint stays as it is while rows are inserted.
      object: `'sequence ' || n.nspname || '.' || c.relname`,
      line: `'sequence ' || n.nspname || '.' || c.relname || ' as ' || format_type(s.seqtypid, NULL)
           || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax
           || ' start ' || s.seqstart || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END`,
      owner: `'c' || c.oid`,
      part: '0::oid',
      only: (o) => `s.seqrelid = ANY (${o.relations})`,
      from: `FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${userSchema('n.nspname')}`,
    },
    {
      object: `${relationKind('c.relkind')} || n.nspname || '.' || c.relname`,
      line: `'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' null=' || CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
           || CASE a.attidentity WHEN 'a' THEN ' identity=always' WHEN 'd' THEN ' identity=by-default' ELSE '' END
           || CASE to_jsonb(a) ->> 'attgenerated' WHEN 's' THEN ' generated=stored' WHEN 'v' THEN ' generated=virtual' ELSE '' END
           || ${collationClause('a.attcollation', 'a.atttypid')}`,
      owner: `'c' || c.oid`,
      part: 'coalesce(d.oid, 0::oid)',
      only: (o) => `a.attrelid = ANY (${o.relations})`,
      from: `FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND ${userSchema('n.nspname')}`,
    },
    {
      object: `'index ' || ic.relname || ' on ' || ${relationKind('t.relkind')} || tn.nspname || '.' || t.relname`,
      line: `'index ' || n.nspname || '.' || ic.relname || ' ' || pg_get_indexdef(i.indexrelid)
           || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END`,
      owner: `'c' || t.oid`,
      part: 'ic.oid',
      only: (o) => `i.indrelid = ANY (${o.relations})`,
      from: `FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = ic.relnamespace
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace tn ON tn.oid = t.relnamespace
    WHERE ${userSchema('n.nspname')}`,
    },
    {
      object: `'constraint ' || coalesce(c.conname || ' on ' || ${relationKind('r.relkind')} || rn.nspname || '.' || r.relname,
                    c.conname || ' on type ' || tn.nspname || '.' || ty.typname, n.nspname || '.' || c.conname)`,
      line: `'constraint ' || n.nspname || '.' || c.conname || ' ' || pg_get_constraintdef(c.oid) || ' valid=' || c.convalidated`,
      owner: `coalesce('c' || r.oid, 't' || ty.oid, 'k' || c.oid)`,
      part: 'c.oid',
      // Each kind of owner through its own index (one condition with OR would read them all).
      only: (o) => `c.oid = ANY (ARRAY(
      SELECT k.oid FROM unnest(${o.relations}) r (oid) JOIN pg_constraint k ON k.conrelid = r.oid
      UNION ALL SELECT k.oid FROM unnest(${o.types}) t (oid) JOIN pg_constraint k ON k.contypid = t.oid
      UNION ALL SELECT unnest(${o.constraints})))`,
      from: `FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    LEFT JOIN pg_class r ON r.oid = c.conrelid
    LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
    LEFT JOIN pg_type ty ON ty.oid = c.contypid
    LEFT JOIN pg_namespace tn ON tn.oid = ty.typnamespace
    -- PostgreSQL 18 names NOT NULL constraints by what was free at the time: the column's
    -- null=NO says it, the name is incidental.
    WHERE ${userSchema('n.nspname')} AND c.contype <> 'n'`,
    },
    {
      object: `'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'`,
      line: `'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_arguments(p.oid) || ')'
           || coalesce(' returns ' || pg_get_function_result(p.oid), '') || ' body=' || left(md5(coalesce(p.prosrc, '')), 12)`,
      owner: `'p' || p.oid`,
      part: '0::oid',
      only: (o) => `p.oid = ANY (${o.functions})`,
      from: `FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE ${userSchema('n.nspname')} AND ${notFromExtension('pg_proc', 'p.oid')}`,
    },
    {
      object: `'type ' || n.nspname || '.' || t.typname`,
      line: `CASE t.typtype
             WHEN 'e' THEN 'type ' || n.nspname || '.' || t.typname || ' enum ('
               || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                   FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
             ELSE 'domain ' || n.nspname || '.' || t.typname || ' ' || format_type(t.typbasetype, t.typtypmod)
               || ' null=' || CASE WHEN t.typnotnull THEN 'NO' ELSE 'YES' END || ' default=' || coalesce(t.typdefault, '-')
           END`,
      owner: `'t' || t.oid`,
      part: '0::oid',
      only: (o) => `t.oid = ANY (${o.types})`,
      from: `FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd') AND ${userSchema('n.nspname')} AND ${notFromExtension('pg_type', 't.oid')}`,
    },
    {
      // A composite type's attributes in order, with the relation that holds them as its owner.
      object: `'type ' || n.nspname || '.' || t.typname`,
      line: `'type ' || n.nspname || '.' || t.typname || ' composite ('
           || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                          || ${collationClause('a.attcollation', 'a.atttypid')}, ', ' ORDER BY a.attnum)
                        FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'`,
      owner: `'c' || t.typrelid`,
      // The type itself: a DROP TYPE names it, not the relation behind it.
      part: 't.oid',
      only: (o) => `t.typrelid = ANY (${o.relations})`,
      from: `FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class c ON c.oid = t.typrelid
    WHERE t.typtype = 'c' AND c.relkind = 'c' AND ${userSchema('n.nspname')} AND ${notFromExtension('pg_type', 't.oid')}`,
    },
    {
      // A partition, with its bounds: the parent owns the line, since ATTACH and DETACH alter the
      // parent; the partition is its part, so that dropping it reads the parent again.
      object: `${relationKind('c.relkind')} || n.nspname || '.' || c.relname`,
      line: `'partition ' || n.nspname || '.' || c.relname || ' of ' || pn.nspname || '.' || p.relname
           || ' ' || pg_get_expr(c.relpartbound, c.oid)`,
      owner: `'c' || p.oid`,
      part: 'c.oid',
      only: (o) => `i.inhparent = ANY (${o.relations})`,
      from: `FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_namespace pn ON pn.oid = p.relnamespace
    WHERE c.relkind IN ('r', 'p', 'f') AND c.relpartbound IS NOT NULL AND ${userSchema('n.nspname')}`,
    },
    {
      // Comments, owned as the object they are on is (catalog.ts's owners, schema-tracker.ts's ownerOf).
      object: `'comment on ' || o.type || ' ' || o.identity`,
      line: `'comment on ' || o.type || ' ' || o.identity || ' is ' || quote_literal(d.description)`,
      owner: COMMENT_OWNER,
      part: '0::oid',
      only: (o) => `(${COMMENT_OWNER}) = ANY (ARRAY(
      SELECT 'c' || unnest(${o.relations}) UNION ALL SELECT 't' || unnest(${o.types})
      UNION ALL SELECT 'p' || unnest(${o.functions}) UNION ALL SELECT 'n' || unnest(${o.schemas})
      UNION ALL SELECT 'k' || unnest(${o.constraints})))`,
      // The system's own comments (thousands) have oids below the first one given to users; of
      // the schemas made before those, users comment on public (2200) only (catalog-stamp.ts reads the same rows).
      from: `FROM pg_description d, pg_identify_object(d.classoid, d.objoid, d.objsubid) o
    WHERE (d.objoid >= 16384 OR (d.objoid = 2200 AND d.classoid = 'pg_namespace'::regclass))
      AND d.classoid IN (${COMMENTED_CATALOGS.map((catalog) => `'${catalog}'::regclass`).join(', ')})
      AND ${userSchema('coalesce(o.schema, o.name)')}
      AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')`,
    },
    {
      object: `'extension ' || x.extname`,
      line: `'extension ' || x.extname || ' in ' || n.nspname`,
      owner: `'x' || x.oid`,
      part: '0::oid',
      only: (o) => `x.oid = ANY (${o.extensions})`,
      from: `FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
    WHERE ${userSchema('n.nspname')}`,
    },
    {
      // Only tables that have it: every other table's lines stay as they are without it.
      object: `${relationKind('c.relkind')} || n.nspname || '.' || c.relname`,
      line: `'row level security ' || n.nspname || '.' || c.relname
           || CASE WHEN c.relrowsecurity THEN ' enabled' ELSE ' disabled' END
           || CASE WHEN c.relforcerowsecurity THEN ' forced' ELSE '' END`,
      owner: `'c' || c.oid`,
      part: '0::oid',
      only: (o) => `c.oid = ANY (${o.relations})`,
      from: `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE (c.relrowsecurity OR c.relforcerowsecurity) AND c.relkind IN ('r', 'p') AND ${userSchema('n.nspname')}`,
    },
    {
      object: `'policy ' || pol.polname || ' on ' || ${relationKind('c.relkind')} || n.nspname || '.' || c.relname`,
      line: `'policy ' || n.nspname || '.' || c.relname || '.' || pol.polname
           || ' ' || CASE WHEN pol.polpermissive THEN 'permissive' ELSE 'restrictive' END
           || ' for ' || CASE pol.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
                                        WHEN 'd' THEN 'delete' ELSE 'all' END
           || ' to ' || (SELECT string_agg(CASE WHEN r.oid = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(r.oid)) END,
                                           ', ' ORDER BY CASE WHEN r.oid = 0 THEN 'public' ELSE pg_get_userbyid(r.oid)::text END)
                         FROM unnest(pol.polroles) r (oid))
           || ' using ' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '-')
           || ' check ' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '-')`,
      owner: `'c' || c.oid`,
      part: 'pol.oid',
      only: (o) => `pol.polrelid = ANY (${o.relations})`,
      from: `FROM pg_policy pol
    JOIN pg_class c ON c.oid = pol.polrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${userSchema('n.nspname')}`,
    },
    {
      object: `'trigger ' || tg.tgname || ' on ' || ${relationKind('c.relkind')} || n.nspname || '.' || c.relname`,
      line: `'trigger ' || n.nspname || '.' || c.relname || '.' || tg.tgname || ' ' || pg_get_triggerdef(tg.oid)`,
      owner: `'c' || c.oid`,
      part: 'tg.oid',
      only: (o) => `tg.tgrelid = ANY (${o.relations})`,
      from: `FROM pg_trigger tg
    JOIN pg_class c ON c.oid = tg.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT tg.tgisinternal AND ${userSchema('n.nspname')}`,
    },
  ];
}
