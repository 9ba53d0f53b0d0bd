/**
 * Snapshots of a database the tool reaches directly: a copy made with
 * `CREATE DATABASE <db>_<yyyymmddHHMMss> TEMPLATE <db>`, marked by a comment that carries its tags,
 * and closed to connections so nothing changes it. A restore swaps a fresh copy of the snapshot in
 * by renaming, and keeps the replaced database as a snapshot too, so no data is ever dropped.
 *
 * Copying needs the source database to itself, and a session on ANOTHER database of the same
 * server (`postgres`) to issue the commands: a session cannot copy the database it is connected to.
 * A copy carries the schema and data, not the database's own settings (ALTER DATABASE ... SET)
 * or GRANTs on it: after a restore those stay with the replaced database.
 */
import type pg from 'pg';
import { connect } from '../engine/connection.ts';
import type { Database } from '../engine/database.ts';
import {
  type Clock,
  SnapshotError,
  SnapshotExistsError,
  type SnapshotInfo,
  type SnapshotRequest,
  type SnapshotService,
  type SnapshotState,
  type SnapshotTags,
  snapshotStamp,
  systemClock,
} from '../engine/snapshot.ts';
import { escapeIdentifier, escapeLiteral } from '../engine/sql-quote.ts';

const MARKER = 'rds-migrate:snapshot ';
/** PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1); we never let it. */
const MAX_NAME_BYTES = 63;
const ALONE_WAIT_MS = 5_000;

interface LocalSnapshotsOptions {
  /** A session on another database of the same server, usually `postgres`. */
  readonly admin: Database;
  /** The database to copy and restore. */
  readonly database: string;
  /** @default the system clock */
  readonly clock?: Clock;
}

export interface RestoreResult {
  /** The database that now holds the snapshot's content. */
  readonly database: string;
  readonly restoredFrom: string;
  /** The database as it was before the restore, kept as a snapshot (delete it when sure). */
  readonly previous: SnapshotInfo;
}

/** A session connected to a database, as pg_stat_activity shows it. */
export interface BlockingSession {
  readonly pid: number;
  readonly applicationName: string;
  readonly user: string;
  readonly clientAddress: string | null;
}

interface Marker {
  readonly of: string;
  readonly createdAt: string;
  readonly tags: SnapshotTags;
}

export class LocalSnapshots implements SnapshotService {
  readonly database: string;
  private readonly admin: Database;
  private readonly clock: Clock;

  constructor(options: LocalSnapshotsOptions) {
    this.admin = options.admin;
    this.database = options.database;
    this.clock = options.clock ?? systemClock;
  }

  /** `<database>_<stamp>[_<n>]`, within PostgreSQL's 63-byte names. */
  nameAt(at: Date, sequence = 1): string {
    const suffix = `_${snapshotStamp(at)}${sequence > 1 ? `_${sequence}` : ''}`;
    return truncateBytes(this.database, MAX_NAME_BYTES - Buffer.byteLength(suffix)) + suffix;
  }

  async create(request: SnapshotRequest): Promise<string> {
    const owner = await this.ownerOf(this.database);
    const now = this.clock.now();
    if (request.name !== undefined) await this.assertUsableName(request.name);
    const name = request.name ?? (await this.freeName(this.database, snapshotStamp(now)));
    await this.copy(this.database, name, owner, 'back up');
    try {
      await this.mark(name, { of: this.database, createdAt: now.toISOString(), tags: request.tags });
    } catch (error) {
      await this.admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)}`).catch(() => undefined);
      throw error;
    }
    return name;
  }

  /** A template copy is complete when CREATE DATABASE returns: a snapshot that exists is available. */
  async state(id: string): Promise<SnapshotState> {
    await this.find(id);
    return 'available';
  }

  async list(): Promise<SnapshotInfo[]> {
    const result = await this.admin.query<{ name: string; comment: string }>(
      `SELECT d.datname AS name, shobj_description(d.oid, 'pg_database') AS comment
       FROM pg_database d WHERE shobj_description(d.oid, 'pg_database') LIKE $1`,
      [`${MARKER}%`],
    );
    const snapshots: SnapshotInfo[] = [];
    for (const row of result.rows) {
      const marker = parseMarker(row.comment);
      if (marker?.of !== this.database) continue;
      snapshots.push({
        id: row.name,
        createdAt: new Date(marker.createdAt),
        state: 'available',
        tags: marker.tags,
      });
    }
    return snapshots.sort(
      (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
    );
  }

  async delete(id: string): Promise<void> {
    await this.find(id);
    await this.admin.query(`DROP DATABASE ${escapeIdentifier(id)}`);
  }

  /**
   * Makes the database the snapshot's content again. Order keeps the original safe: copy the
   * snapshot to a new database first; only when that copy exists, rename the original aside and
   * the copy into its place. The original stays, renamed, as a snapshot of its own.
   */
  async restore(id: string): Promise<RestoreResult> {
    await this.find(id);
    const owner = await this.ownerOf(this.database);
    await this.waitUntilAlone(this.database, 'restore over');
    const now = this.clock.now();
    const stamp = snapshotStamp(now);
    const staging = await this.freeName(`${this.database}_restoring`, stamp);
    await this.copy(id, staging, owner, 'restore from');
    const previous = await this.freeName(this.database, stamp);
    const target = escapeIdentifier(this.database);
    try {
      await this.admin.query(`ALTER DATABASE ${target} RENAME TO ${escapeIdentifier(previous)}`);
    } catch (error) {
      await this.admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(staging)}`).catch(() => undefined);
      throw await this.blockedError(error, this.database, 'restore over');
    }
    try {
      await this.admin.query(`ALTER DATABASE ${escapeIdentifier(staging)} RENAME TO ${target}`);
    } catch (error) {
      await this.admin
        .query(`ALTER DATABASE ${escapeIdentifier(previous)} RENAME TO ${target}`)
        .catch(() => undefined);
      throw new SnapshotError(
        `could not move the restored copy ${staging} into place (${messageOf(error)}); ${this.database} was ` +
          `put back as it was, and the copy left as ${staging} for you to inspect or drop`,
      );
    }
    const tags = { reason: `replaced by restore of ${id}` };
    await this.mark(previous, { of: this.database, createdAt: now.toISOString(), tags });
    return {
      database: this.database,
      restoredFrom: id,
      previous: { id: previous, createdAt: now, state: 'available', tags },
    };
  }

  private async find(id: string): Promise<SnapshotInfo> {
    const found = (await this.list()).find((snapshot) => snapshot.id === id);
    if (!found) {
      throw new SnapshotError(
        `no snapshot named ${id} of database ${this.database}; rds-migrate backup list shows the ones there are`,
      );
    }
    return found;
  }

  private async ownerOf(database: string): Promise<string> {
    const result = await this.admin.query<{ owner: string }>(
      'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
      [database],
    );
    const owner = result.rows[0]?.owner;
    if (!owner) throw new SnapshotError(`database ${database} does not exist on this server`);
    return owner;
  }

  private async copy(source: string, name: string, owner: string, verb: string): Promise<void> {
    await this.waitUntilAlone(source, verb);
    try {
      await this.admin.query(
        `CREATE DATABASE ${escapeIdentifier(name)} TEMPLATE ${escapeIdentifier(source)} OWNER ${escapeIdentifier(owner)}`,
      );
    } catch (error) {
      throw await this.blockedError(error, source, verb);
    }
  }

  private async mark(name: string, marker: Marker): Promise<void> {
    const quoted = escapeIdentifier(name);
    await this.admin.query(
      `COMMENT ON DATABASE ${quoted} IS ${escapeLiteral(MARKER + JSON.stringify(marker))}`,
    );
    // Nobody can connect to (and so change, or block a restore from) a snapshot.
    await this.admin.query(`ALTER DATABASE ${quoted} ALLOW_CONNECTIONS false`);
  }

  /** `db_20261125103005`, or `db_20261125103005_2` when taken; always within 63 bytes. */
  private async freeName(base: string, stamp: string): Promise<string> {
    for (let attempt = 1; attempt < 100; attempt++) {
      const suffix = attempt === 1 ? `_${stamp}` : `_${stamp}_${attempt}`;
      const name = truncateBytes(base, MAX_NAME_BYTES - Buffer.byteLength(suffix)) + suffix;
      if (!(await this.exists(name))) return name;
    }
    throw new SnapshotError(`could not find a free database name for a snapshot of ${base} at ${stamp}`);
  }

  private async assertUsableName(name: string): Promise<void> {
    if (name === '' || Buffer.byteLength(name) > MAX_NAME_BYTES) {
      throw new SnapshotError(`snapshot name '${name}' must be 1 to ${MAX_NAME_BYTES} bytes long`);
    }
    if (await this.exists(name))
      throw new SnapshotExistsError(`a database named ${name} already exists; pick another name`);
  }

  private async exists(name: string): Promise<boolean> {
    const result = await this.admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return result.rows.length > 0;
  }

  /** Waits, like PostgreSQL itself does, up to 5 s for other sessions to leave, then names them. */
  private async waitUntilAlone(database: string, verb: string): Promise<void> {
    let sessions = await sessionsOn(this.admin, database);
    for (let waited = 0; sessions.length > 0 && waited < ALONE_WAIT_MS; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sessions = await sessionsOn(this.admin, database);
    }
    if (sessions.length > 0) throw blockedBy(database, verb, sessions);
  }

  private async blockedError(error: unknown, database: string, verb: string): Promise<Error> {
    if ((error as { code?: string }).code !== '55006') return error as Error;
    return blockedBy(database, verb, await sessionsOn(this.admin, database).catch(() => []));
  }
}

/** Sessions connected to `database`, other than the caller's and autovacuum (which PostgreSQL stops itself). */
export async function sessionsOn(admin: Database, database: string): Promise<BlockingSession[]> {
  const result = await admin.query<{
    pid: number;
    application_name: string;
    usename: string;
    client_addr: string;
  }>(
    `SELECT pid, application_name, usename, client_addr::text AS client_addr FROM pg_stat_activity
     WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type <> 'autovacuum worker' ORDER BY pid`,
    [database],
  );
  return result.rows.map((row) => ({
    pid: row.pid,
    applicationName: row.application_name,
    user: row.usename,
    clientAddress: row.client_addr,
  }));
}

function blockedBy(database: string, verb: string, sessions: readonly BlockingSession[]): SnapshotError {
  const who =
    sessions.length > 0
      ? sessions
          .map((session) => `pid ${session.pid} (${session.applicationName || 'no application_name'})`)
          .join(', ')
      : 'sessions that have since gone';
  return new SnapshotError(
    `cannot ${verb} database ${database} while other sessions are connected to it: ${who}. ` +
      'PostgreSQL copies a database only when nobody else is connected: close them (stop the app, quit psql), ' +
      'or end them with SELECT pg_terminate_backend(pid), then run again.',
  );
}

function parseMarker(comment: string): Marker | undefined {
  try {
    const parsed = JSON.parse(comment.slice(MARKER.length)) as Partial<Marker>;
    if (typeof parsed.of !== 'string' || typeof parsed.createdAt !== 'string') return undefined;
    return { of: parsed.of, createdAt: parsed.createdAt, tags: parsed.tags ?? {} };
  } catch {
    return undefined;
  }
}

/** `text` cut to at most `maxBytes` of UTF-8, never inside a character. */
export function truncateBytes(text: string, maxBytes: number): string {
  let result = '';
  for (const character of text) {
    if (Buffer.byteLength(result + character) > maxBytes) break;
    result += character;
  }
  return result;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------- for the CLI: one call each, a maintenance session opened and closed around it ----------

/** The database a connection config names, and a config for the same server's maintenance database. */
export function maintenanceConfig(config: pg.ClientConfig): { database: string; admin: pg.ClientConfig } {
  let database: string;
  let admin: pg.ClientConfig;
  if (config.connectionString) {
    const url = new URL(config.connectionString);
    database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    url.pathname = `/${maintenanceDatabaseFor(database)}`;
    admin = { ...config, connectionString: url.toString() };
  } else {
    database = config.database ?? process.env.PGDATABASE ?? config.user ?? process.env.PGUSER ?? '';
    admin = { ...config, database: maintenanceDatabaseFor(database) };
  }
  if (!database) throw new SnapshotError('the connection does not name a database to back up');
  return { database, admin };
}

function maintenanceDatabaseFor(database: string): string {
  return database === 'postgres' ? 'template1' : 'postgres';
}

/** Opens a maintenance session beside the database `config` names, runs `body`, closes it. */
async function withLocalSnapshots<T>(
  config: pg.ClientConfig,
  body: (snapshots: LocalSnapshots) => Promise<T>,
  clock?: Clock,
): Promise<T> {
  const { database, admin } = maintenanceConfig(config);
  const connection = await connect(admin, 'rds-migrate backup');
  try {
    return await body(new LocalSnapshots({ admin: connection.db, database, clock }));
  } finally {
    await connection.close();
  }
}

/** `rds-migrate backup`: a copy of the database, returned as data. */
export async function backupDatabase(
  config: pg.ClientConfig,
  tags: SnapshotTags = {},
): Promise<SnapshotInfo> {
  return withLocalSnapshots(config, async (snapshots) => {
    const id = await snapshots.create({ tags });
    const info = (await snapshots.list()).find((snapshot) => snapshot.id === id);
    if (!info) throw new SnapshotError(`the copy ${id} was made but cannot be found`);
    return info;
  });
}

/** `rds-migrate backup list`: this database's snapshots, newest first. */
export async function listBackups(config: pg.ClientConfig): Promise<SnapshotInfo[]> {
  return withLocalSnapshots(config, (snapshots) => snapshots.list());
}

/** `rds-migrate restore <name>`. */
export async function restoreBackup(config: pg.ClientConfig, name: string): Promise<RestoreResult> {
  return withLocalSnapshots(config, (snapshots) => snapshots.restore(name));
}
