/**
 * `rds-migrate diff`: the "out of sync database" of the migrations guide. How a real database
 * differs from the schema its recorded revision implies (the migrations up to that revision,
 * run on a shadow database of the same server), as the SQL that would bring it back.
 */

import { counted } from '../engine/counted.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { History } from '../engine/history.ts';
import type { Revision } from '../engine/migration.ts';
import type { Server } from '../local/server.ts';
import { withEnumValuesAdded } from './safe-migrations.ts';
import { differences, enumsOf, inspectSchema } from './schema-diff.ts';
import { buildMigratedSchema, withShadowDatabase } from './shadow-schema.ts';

export interface DatabaseDiff {
  /** The database, for messages (never with a password). */
  readonly target: string;
  /** Its recorded revisions; empty at base (the implied schema is then empty). */
  readonly current: readonly Revision[];
  readonly differs: boolean;
  /** SQL that takes the database back to the schema its revisions imply; empty when it matches. */
  readonly statements: readonly string[];
}

/** The database differs from its revision's schema: printed first, then the command exits 1. */
export class SchemaDiffersError extends RdsMigrateError {
  override readonly name = 'SchemaDiffersError';
  constructor(readonly diff: DatabaseDiff) {
    super(
      `${diff.target} differs from the schema of ${diff.current.join(', ') || 'base'} by ${counted(diff.statements.length, 'statement')}: ` +
        'run the SQL above to bring it back, or put the change in a migration ' +
        '(rds-migrate create --autogenerate) and stamp it',
    );
  }
}

interface DatabaseDiffOptions {
  readonly history: History;
  readonly args?: Readonly<Record<string, string>>;
  readonly actor: string;
}

export async function diffDatabase(
  server: Server,
  graph: RevisionGraph,
  options: DatabaseDiffOptions,
): Promise<DatabaseDiff> {
  const exclude = { excludeSchemas: [options.history.schema] };
  const connection = await server.connect();
  let current: readonly Revision[];
  let actual: Awaited<ReturnType<typeof inspectSchema>>;
  try {
    current = (await options.history.read(connection.db)).heads;
    const unknown = current.filter((revision) => !graph.has(revision));
    if (unknown.length > 0) {
      throw new RdsMigrateError(
        `${server.target} is at ${unknown.join(', ')}, which no migration in this folder defines: ` +
          'run diff from the code that has it, or point --migrations-dir at the deployed folder',
      );
    }
    actual = await inspectSchema(connection.db, exclude);
  } finally {
    await connection.close();
  }
  const implied = await withShadowDatabase(server, 'diff', async (shadow) => {
    await buildMigratedSchema(shadow.db, graph, { ...options, heads: current });
    return inspectSchema(shadow.db, exclude);
  });
  const statements = await withEnumValuesAdded(await differences(actual, implied), {
    enumsBefore: enumsOf(actual),
    enumsAfter: enumsOf(implied),
  });
  return { target: server.target, current, differs: statements.length > 0, statements };
}

/** SQL text: psql can run it as it is (`rds-migrate diff > back.sql`). */
export function formatDatabaseDiff(diff: DatabaseDiff): string {
  const at = diff.current.join(', ') || 'base';
  if (!diff.differs) return `-- ${diff.target} at ${at}: the schema is the one its revision implies`;
  return [
    `-- ${diff.target} at ${at} differs from the schema its revision implies;`,
    '-- this SQL brings it back (review it: a drop loses what was added by hand):',
    '',
    ...diff.statements.flatMap((statement) => [statement, '']),
  ]
    .join('\n')
    .trimEnd();
}
