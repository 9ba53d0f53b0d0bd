/**
 * Comments (COMMENT ON), which the diff library does not read at all: read from pg_description
 * for every object of the user's schemas, and written by our code. A comment set or changed is
 * written after the library's statements (the object may be new); a comment removed, before them
 * (the object may be about to go, and COMMENT ... IS NULL needs it there).
 */

import type { Database } from '../engine/database.ts';
import { escapeLiteral } from '../engine/sql-quote.ts';

/** `<kind> <identity>` (pg_identify_object's: `table column public.users.email`) → the comment. */
export type Comments = ReadonlyMap<string, CommentedObject>;

export interface CommentedObject {
  /** What COMMENT ON names: `column public.users.email`, `constraint users_pkey on public.users`. */
  readonly target: string;
  readonly comment: string;
}

/**
 * COMMENT ON's form for each kind pg_identify_object gives: a name (`table`, `function`), or a
 * name on a table or domain (`trigger`, `domain constraint`). Kinds not here are not read.
 */
const TARGETS: Readonly<Record<string, (identity: string) => string>> = {
  schema: (identity) => `schema ${identity}`,
  table: (identity) => `table ${identity}`,
  'foreign table': (identity) => `foreign table ${identity}`,
  view: (identity) => `view ${identity}`,
  'materialized view': (identity) => `materialized view ${identity}`,
  index: (identity) => `index ${identity}`,
  sequence: (identity) => `sequence ${identity}`,
  'table column': (identity) => `column ${identity}`,
  'view column': (identity) => `column ${identity}`,
  'materialized view column': (identity) => `column ${identity}`,
  'foreign table column': (identity) => `column ${identity}`,
  'composite type column': (identity) => `column ${identity}`,
  type: (identity) => `type ${identity}`,
  'composite type': (identity) => `type ${identity}`,
  function: (identity) => `function ${identity}`,
  procedure: (identity) => `procedure ${identity}`,
  aggregate: (identity) => `aggregate ${identity}`,
  collation: (identity) => `collation ${identity}`,
  'table constraint': (identity) => `constraint ${identity}`,
  'domain constraint': (identity) => `constraint ${identity.replace(/ on /, ' on domain ')}`,
  trigger: (identity) => `trigger ${identity}`,
  policy: (identity) => `policy ${identity}`,
  rule: (identity) => `rule ${identity}`,
  'statistics object': (identity) => `statistics ${identity}`,
};

/** Every comment on an object of the user's schemas (and on the schemas), but `excludeSchemas`. */
export async function readComments(db: Database, excludeSchemas: readonly string[]): Promise<Comments> {
  const result = await db.query<{ type: string; identity: string; comment: string }>(
    `SELECT o.type, o.identity, d.description AS comment
     FROM pg_description d, pg_identify_object(d.classoid, d.objoid, d.objsubid) o
     -- The system's own comments (thousands) have oids below the first one given to users.
     WHERE (d.objoid >= 16384 OR d.classoid = 'pg_namespace'::regclass)
       AND o.type = ANY ($2::text[])
       AND coalesce(o.schema, CASE WHEN d.classoid = 'pg_namespace'::regclass THEN o.name END) IS NOT NULL
       AND coalesce(o.schema, o.name) NOT IN ('pg_catalog', 'information_schema')
       AND coalesce(o.schema, o.name) NOT LIKE 'pg\\_%'
       AND NOT coalesce(o.schema, o.name) = ANY ($1::text[])
       AND NOT EXISTS (SELECT FROM pg_depend x WHERE x.classid = d.classoid AND x.objid = d.objoid AND x.deptype = 'e')`,
    [excludeSchemas, Object.keys(TARGETS)],
  );
  const comments = new Map<string, CommentedObject>();
  for (const row of result.rows) {
    const target = TARGETS[row.type]?.(row.identity);
    if (target) comments.set(`${row.type} ${row.identity}`, { target, comment: row.comment });
  }
  return comments;
}

/** The statements with the comments' changes from `from` to `to` around them. */
export function mendComments(statements: readonly string[], from: Comments, to: Comments): string[] {
  const removed = [...from]
    .filter(([key]) => !to.has(key))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, object]) => `comment on ${object.target} is null;`);
  const set = [...to]
    .filter(([key, object]) => from.get(key)?.comment !== object.comment)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, object]) => `comment on ${object.target} is ${escapeLiteral(object.comment)};`);
  return [...removed, ...statements, ...set];
}
