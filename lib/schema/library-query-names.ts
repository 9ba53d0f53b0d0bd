/**
 * The diff library's inspector sends each of its fixed catalog queries through
 * `@pgkit/client`'s `sql.raw`, which names the query (for its logs) by parsing it with a
 * JavaScript SQL parser: most of the CPU a schema read costs on our side, for the same fifteen
 * texts every time. Their names depend only on the text, so each is made once per process.
 */
import { createRequire } from 'node:module';

interface RawQueryTag {
  raw(query: string, values?: readonly unknown[]): unknown;
}

/** The client the library itself loads: resolved from `@pgkit/migra`, as npm and pnpm lay it out. */
function libraryClient(): { sql: RawQueryTag } | undefined {
  try {
    const fromMigra = createRequire(createRequire(import.meta.url).resolve('@pgkit/migra'));
    return fromMigra('@pgkit/client') as { sql: RawQueryTag };
  } catch {
    return undefined;
  }
}

let named = false;

/**
 * Makes the library's `sql.raw` return the query it made before for the same text without
 * values (the inspector's queries): the same object, name included. Without the client where the
 * library is (a layout we do not know), the library is left as it is.
 */
export function nameLibraryQueriesOnce(): void {
  if (named) return;
  named = true;
  const tag = libraryClient()?.sql;
  if (!tag || typeof tag.raw !== 'function') return;
  const raw = tag.raw.bind(tag);
  const made = new Map<string, unknown>();
  tag.raw = (query, values) => {
    if (values !== undefined && values.length > 0) return raw(query, values);
    const known = made.get(query);
    if (known !== undefined) return known;
    const madeQuery = raw(query);
    made.set(query, madeQuery);
    return madeQuery;
  };
}
