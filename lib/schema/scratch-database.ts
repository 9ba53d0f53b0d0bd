/**
 * Throwaway databases for `check`'s round trip, on the server every command uses (server.ts):
 * a database of its own, created for it and dropped after, never the user's.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../engine/database.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import type { Server } from '../local/server.ts';

export const SCRATCH_DATABASE_PREFIX = 'rds_migrate_check_';

/** A scratch database could not be made: the message says what to grant or which flag to use. */
export class ScratchDatabaseError extends RdsMigrateError {
  override readonly name = 'ScratchDatabaseError';
}

export interface ScratchDatabase {
  readonly name: string;
  readonly db: Database;
}

/**
 * Runs `body` on a new, empty database `rds_migrate_check_<random>` of the server, and drops it
 * after, whatever happened. `onLeftover` hears of a scratch database that could not be dropped.
 */
export async function withScratchDatabase<T>(
  server: Server,
  body: (scratch: ScratchDatabase) => Promise<T>,
  onLeftover: (message: string) => void = () => undefined,
): Promise<T> {
  const name = `${SCRATCH_DATABASE_PREFIX}${randomBytes(6).toString('hex')}`;
  const admin = await server.connect();
  try {
    await admin.db.query(`CREATE DATABASE ${name}`).catch((error: Error) => {
      throw new ScratchDatabaseError(
        `cannot create the scratch database ${name} on ${server.target}: ${error.message}; ` +
          'grant this user CREATEDB, point --database-url at a server where it may create databases, ' +
          'or run check --skip-round-trip',
      );
    });
    try {
      const scratch = await server.connect(name);
      try {
        return await body({ name, db: scratch.db });
      } finally {
        await scratch.close();
      }
    } finally {
      await admin.db.query(`DROP DATABASE IF EXISTS ${name}`).catch((error: Error) => {
        onLeftover(`could not drop the scratch database ${name} (${error.message}); drop it by hand`);
      });
    }
  } finally {
    await admin.close();
  }
}
