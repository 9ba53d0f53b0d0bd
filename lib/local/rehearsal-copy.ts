/**
 * The database a rehearsal (`check --rehearse`) writes to: never the one named, unless it is a
 * copy. By default a copy made beside it with `CREATE DATABASE rehearse_<db>_<time>_<pid> TEMPLATE
 * <db>` from a session on the server's maintenance database (the source is never connected to),
 * dropped afterwards. A database the user says is a copy (a restored snapshot: `onCopy`) is marked
 * with a comment, and a marked one is rehearsed in place and kept.
 */

import { type Connection, connect, describeTarget } from '../engine/connection.ts';
import type { Database } from '../engine/database.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import { snapshotStamp } from '../engine/snapshot.ts';
import { escapeIdentifier, escapeLiteral } from '../engine/sql-quote.ts';
import { type BlockingSession, maintenanceConfig, sessionsOn, truncateBytes } from './snapshots.ts';

/** The comment that marks a database as a copy rehearsals may write to. */
const COPY_MARKER = 'rds-migrate:rehearsal-copy';
/** PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1); we never let it. */
const MAX_NAME_BYTES = 63;

class RehearsalRefused extends RdsMigrateError {
  override readonly name = 'RehearsalRefused';
}

interface RehearsalCopy {
  /** The database named, user@host:port/database: never a password. */
  readonly source: string;
  readonly database: string;
  /** `template`: made here, dropped by `release`; `restored`: the user's copy, rehearsed in place and kept. */
  readonly kind: 'template' | 'restored';
  /** The URL given, naming the copy. */
  readonly url: string;
  /** Template copies of the same database that interrupted rehearsals left, dropped before this one. */
  readonly leftoversDropped: readonly string[];
  /** Drops a template copy (true once it is gone; false if it could not be) and closes the maintenance session. */
  release(): Promise<boolean>;
}

export async function openRehearsalCopy(url: string, onCopy: boolean): Promise<RehearsalCopy> {
  const config = { connectionString: url };
  const { database, admin } = maintenanceConfig(config);
  const source = describeTarget(config);
  const maintenance = await connect(admin, 'rds-migrate rehearsal');
  try {
    const leftoversDropped = await dropLeftovers(maintenance.db, database);
    const chosen = await chooseCopy(maintenance.db, database, source, onCopy);
    const copyUrl = new URL(url);
    copyUrl.pathname = `/${encodeURIComponent(chosen.database)}`;
    return {
      source,
      ...chosen,
      url: copyUrl.toString(),
      leftoversDropped,
      release: () => release(maintenance, chosen),
    };
  } catch (error) {
    await maintenance.close();
    throw error;
  }
}

async function release(
  maintenance: Connection,
  copy: { database: string; kind: 'template' | 'restored' },
): Promise<boolean> {
  try {
    if (copy.kind === 'restored') return false;
    // It holds a copy of the data: gone, even if a session of the rehearsal lingers.
    await maintenance.db.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(copy.database)} WITH (FORCE)`);
    return true;
  } catch {
    return false;
  } finally {
    await maintenance.close();
  }
}

/** How old an unconnected template copy must be to count as left behind (its rehearsal connects at once). */
const LEFTOVER_AFTER_MS = 60_000;

/**
 * Template copies of `database` made by rehearsals that ended without dropping them (Ctrl-C, a lost
 * connection): they hold a copy of its data. One no session is connected to, made over a minute
 * ago, is no running rehearsal's (a rehearsal stays connected to its copy throughout).
 */
async function dropLeftovers(admin: Database, database: string): Promise<string[]> {
  const found = await admin.query<{ name: string; comment: string }>(
    `SELECT datname AS name, shobj_description(oid, 'pg_database') AS comment FROM pg_database
     WHERE shobj_description(oid, 'pg_database') LIKE $1`,
    [`${COPY_MARKER} {%`],
  );
  const dropped: string[] = [];
  for (const { name, comment } of found.rows) {
    const marker = parseMarker(comment);
    if (marker?.of !== database || Date.now() - Date.parse(marker.madeAt) < LEFTOVER_AFTER_MS) continue;
    if ((await sessionsOn(admin, name)).length > 0) continue;
    await admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)}`).then(
      () => dropped.push(name),
      () => undefined,
    );
  }
  return dropped;
}

function parseMarker(comment: string): { of: string; madeAt: string } | undefined {
  try {
    const parsed = JSON.parse(comment.slice(COPY_MARKER.length)) as { of?: unknown; madeAt?: unknown };
    return typeof parsed.of === 'string' && typeof parsed.madeAt === 'string'
      ? { of: parsed.of, madeAt: parsed.madeAt }
      : undefined;
  } catch {
    return undefined;
  }
}

async function chooseCopy(
  admin: Database,
  database: string,
  source: string,
  onCopy: boolean,
): Promise<{ database: string; kind: 'template' | 'restored' }> {
  const found = await admin.query<{ comment: string | null }>(
    `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
    [database],
  );
  if (found.rows.length === 0)
    throw new RehearsalRefused(`check --rehearse: there is no database ${database} at ${source}`);
  if (found.rows[0]?.comment?.startsWith(COPY_MARKER)) return { database, kind: 'restored' };
  if (onCopy) {
    await markAsCopy(admin, database, source);
    return { database, kind: 'restored' };
  }
  return { database: await templateCopy(admin, database, source), kind: 'template' };
}

/** A database said to be a copy, which no one else uses: marked so, as later rehearsals know it. */
async function markAsCopy(admin: Database, database: string, source: string): Promise<void> {
  const others = await sessionsOn(admin, database);
  if (others.length > 0) {
    throw new RehearsalRefused(
      `check --rehearse-on-copy: ${source} has other sessions connected (${describeSessions(others)}), which a ` +
        'snapshot just restored does not have: is this the live database? A rehearsal writes to it. If it is a ' +
        `copy, close them, or mark it yourself: COMMENT ON DATABASE ${escapeIdentifier(database)} IS '${COPY_MARKER}'`,
    );
  }
  const marker = `${COPY_MARKER} ${JSON.stringify({ markedAt: new Date().toISOString() })}`;
  await admin.query(`COMMENT ON DATABASE ${escapeIdentifier(database)} IS ${escapeLiteral(marker)}`);
}

/** `CREATE DATABASE rehearse_<db>_<time>_<pid> TEMPLATE <db>`, from the maintenance session. */
async function templateCopy(admin: Database, database: string, source: string): Promise<string> {
  const suffix = `_${snapshotStamp(new Date())}_${process.pid}`;
  const name = truncateBytes(`rehearse_${database}`, MAX_NAME_BYTES - Buffer.byteLength(suffix)) + suffix;
  const others = await sessionsOn(admin, database);
  const busy = (sessions: readonly BlockingSession[]) =>
    new RehearsalRefused(
      `check --rehearse copies ${source} with CREATE DATABASE ... TEMPLATE, which PostgreSQL allows only while no ` +
        `other session is connected to it, and some are (${describeSessions(sessions)}). A live database always ` +
        'has its app connected: restore a snapshot of it instead (aws rds restore-db-instance-from-db-snapshot, ' +
        'or restore-db-cluster-from-snapshot for Aurora), then rds-migrate check --rehearse <the restored URL> ' +
        '--rehearse-on-copy. Locally: close the other sessions.',
    );
  // rds-migrate's own sessions (check's, just closed) may linger a moment: PostgreSQL waits 5 s for them.
  if (others.some((session) => !session.applicationName.startsWith('rds-migrate'))) throw busy(others);
  try {
    await admin.query(`CREATE DATABASE ${escapeIdentifier(name)} TEMPLATE ${escapeIdentifier(database)}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '55006') throw busy(await sessionsOn(admin, database).catch(() => []));
    if (code === '42501') {
      throw new RehearsalRefused(
        `check --rehearse: this role may not create databases on ${source} (${(error as Error).message}), so it ` +
          'cannot make a template copy: use a role with CREATEDB, or restore a snapshot and rehearse on it with --rehearse-on-copy',
      );
    }
    throw error;
  }
  // Left behind by an interrupted rehearsal, it says what it is.
  const marker = `${COPY_MARKER} ${JSON.stringify({ of: database, madeAt: new Date().toISOString() })}`;
  await admin.query(`COMMENT ON DATABASE ${escapeIdentifier(name)} IS ${escapeLiteral(marker)}`);
  return name;
}

function describeSessions(sessions: readonly BlockingSession[]): string {
  if (sessions.length === 0) return 'sessions that have since gone';
  const named = sessions
    .slice(0, 5)
    .map(
      (session) => `pid ${session.pid} ${session.applicationName || 'no application_name'} (${session.user})`,
    )
    .join(', ');
  return sessions.length > 5 ? `${named} and ${sessions.length - 5} more` : named;
}
