/**
 * Taking a database over from Alembic: the revisions its `alembic_version` table holds (one row
 * per head), checked against the migrations, so `stamp --from-alembic` can stamp the same ones.
 * Alembic's revision ids are valid ids here, so its migrations keep theirs when rewritten.
 */

import type { Database } from './database.ts';
import { GraphError, UsageError } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import { NAME_RULE } from './loader.ts';
import type { Revision } from './migration.ts';
import { printable } from './printable.ts';
import { escapeIdentifier } from './sql-quote.ts';
import { isValidName } from './target.ts';

/** Alembic's default version table (`version_table` in its env.py). */
export const ALEMBIC_VERSION_TABLE = 'alembic_version';

const TABLE_NAME = /^(?:[A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/;

/**
 * The revisions `table` (`[schema.]name`, found on the search path without a schema) lists, each
 * one the graph knows; none when Alembic's database is at base (an empty table).
 */
export async function readAlembicVersion(
  db: Database,
  graph: RevisionGraph,
  table: string = ALEMBIC_VERSION_TABLE,
): Promise<Revision[]> {
  if (!TABLE_NAME.test(table)) {
    throw new UsageError(
      `--from-alembic ${table}: name the table as Alembic's env.py does, <table> or <schema>.<table> (default ${ALEMBIC_VERSION_TABLE})`,
    );
  }
  const quoted = table.split('.').map(escapeIdentifier).join('.');
  const found = await db.query<{ found: string | null; version_num: boolean }>(
    `SELECT to_regclass($1)::text AS found,
            EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'version_num' AND NOT attisdropped) AS version_num`,
    [quoted],
  );
  const row = found.rows[0];
  if (!row?.found) {
    throw new UsageError(
      `this database has no table ${table}, where Alembic keeps its revision; check that the database URL is the one ` +
        'Alembic migrated, and if its env.py sets version_table or version_table_schema, name the table: ' +
        '--from-alembic <schema>.<table>',
    );
  }
  if (!row.version_num) {
    throw new UsageError(`table ${table} has no version_num column, so it is not Alembic's version table`);
  }
  const rows = await db.query<{ version_num: string }>(
    `SELECT version_num FROM ${quoted} ORDER BY version_num`,
  );
  const revisions = [...new Set(rows.rows.map((entry) => entry.version_num))];
  // A row that is no revision id (control characters, a hyphen...) is named escaped: it is a
  // value from the database printed to a terminal.
  const invalid = revisions.filter((revision) => !isValidName(revision)).map(printable);
  if (invalid.length > 0) {
    throw new GraphError(
      'unknown-revision',
      `${table} holds ${invalid.map((revision) => `'${revision}'`).join(', ')}, which is not a revision id ` +
        `(${NAME_RULE}; shown escaped); check that the database URL is the one Alembic migrated ` +
        'and that its version table holds what Alembic wrote there',
      invalid,
    );
  }
  const unknown = revisions.filter((revision) => !graph.has(revision));
  if (unknown.length > 0) {
    throw new GraphError(
      'unknown-revision',
      `${table} names revision ${unknown.join(', ')}, which no migration here defines; carry that migration over ` +
        `keeping its id (-- revision: ${unknown[0]}, or revision: '${unknown[0]}' in a TS migration), then run this again`,
      unknown,
    );
  }
  return revisions;
}
