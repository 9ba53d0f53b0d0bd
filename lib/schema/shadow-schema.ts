/**
 * Shadow databases: scratch databases of the server every command uses (scratch-database.ts),
 * never the user's, on which a schema is built to be read and compared: the schema the
 * migrations build at some revisions (by running them, as `up` would), or the schema the app
 * wants (wanted-schema.ts).
 */
import type { Database } from '../engine/database.ts';
import { MigrationFailed, RdsMigrateError } from '../engine/errors.ts';
import { RevisionGraph } from '../engine/graph.ts';
import type { History } from '../engine/history.ts';
import type { Revision } from '../engine/migration.ts';
import { migrate } from '../engine/runner.ts';
import type { Server } from '../local/server.ts';
import { type ScratchDatabase, ScratchDatabaseError, withScratchDatabase } from './scratch-database.ts';

/** The migrations could not build their schema on a shadow database. */
class ShadowBuildError extends RdsMigrateError {
  override readonly name = 'ShadowBuildError';
}

/**
 * `body` on a new empty database of `server`, dropped after. `purpose` says in the error why a
 * shadow database was needed, when the server refuses to create one.
 */
export async function withShadowDatabase<T>(
  server: Server,
  purpose: string,
  body: (shadow: ScratchDatabase) => Promise<T>,
  onLeftover?: (message: string) => void,
): Promise<T> {
  try {
    return await withScratchDatabase(server, body, onLeftover);
  } catch (error) {
    if (!(error instanceof ScratchDatabaseError)) throw error;
    throw new ShadowBuildError(
      `${purpose} needs a shadow database and cannot create one: ${error.message.replace(/; grant this user.*$/, '')}; ` +
        'grant this user CREATEDB, or point --database-url at a server where it may create databases ' +
        '(with no database configured, the embedded server is used)',
    );
  }
}

interface HeadSchemaOptions {
  /** The revisions whose schema to build (they and their ancestors are applied). @default every head */
  readonly heads?: readonly Revision[];
  readonly history: History;
  readonly args?: Readonly<Record<string, string>>;
  readonly actor: string;
}

/** Applies the migrations up to `heads` on `db` (an empty shadow database), as `up` would. */
export async function buildMigratedSchema(
  db: Database,
  graph: RevisionGraph,
  options: HeadSchemaOptions,
): Promise<void> {
  const heads = options.heads ?? graph.heads;
  if (heads.length === 0) return;
  const wanted = graph.sorted(graph.ancestors(heads)).map((revision) => graph.get(revision));
  try {
    await migrate(
      db,
      RevisionGraph.from(wanted),
      { action: 'upgrade', target: 'heads' },
      {
        actor: options.actor,
        args: options.args,
        history: options.history,
        recordFingerprint: false,
        requireAllowReasons: false,
      },
    );
  } catch (error) {
    if (!(error instanceof MigrationFailed)) throw error;
    throw new ShadowBuildError(
      `the migrations cannot build their schema on an empty database: ${error.message}; ` +
        'rds-migrate check runs the same migrations and says more',
    );
  }
}
