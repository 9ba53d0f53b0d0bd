import { randomBytes } from 'node:crypto';
import { escapeIdentifier } from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type Connection, connect } from '../../lib/engine/connection.ts';
import { pruneSnapshots } from '../../lib/engine/snapshot.ts';
import { backupDatabase, LocalSnapshots, listBackups, restoreBackup } from '../../lib/local/snapshots.ts';
import { steppingClock } from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;
let admin: Connection;

beforeEach(async () => {
  database = await freshDatabase();
  admin = await connect({ connectionString: inject('postgresAdminUrl') }, 'test-admin');
  const session = await database.connect();
  await session.db.query(`CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
    INSERT INTO notes VALUES (1, 'first'), (2, 'second')`);
  await session.close();
});
afterEach(async () => {
  const copies = await admin.db.query<{ name: string }>(
    'SELECT datname AS name FROM pg_database WHERE datname LIKE $1',
    [`${database.name}\\_%`],
  );
  for (const copy of copies.rows) {
    await admin.db.query(`DROP DATABASE ${escapeIdentifier(copy.name)} WITH (FORCE)`);
  }
  await admin.close();
  await database.drop();
});

async function notes(url = database.url): Promise<string[]> {
  const session = await connect({ connectionString: url });
  try {
    const result = await session.db.query<{ body: string }>('SELECT body FROM notes ORDER BY id');
    return result.rows.map((row) => row.body);
  } finally {
    await session.close();
  }
}

async function change(sql: string): Promise<void> {
  const session = await connect({ connectionString: database.url });
  await session.db.query(sql);
  await session.close();
}

function snapshotsOf(clock = steppingClock()): LocalSnapshots {
  return new LocalSnapshots({ admin: admin.db, database: database.name, clock });
}

describe('local snapshots', () => {
  it('copies the database under a timestamped name, lists it with its tags, and keeps it closed', async () => {
    const backup = await backupDatabase(
      { connectionString: database.url },
      { reason: 'before risky change' },
    );
    expect(backup.id).toMatch(new RegExp(`^${database.name}_\\d{14}$`));
    expect(backup).toMatchObject({ state: 'available', tags: { reason: 'before risky change' } });
    expect(await listBackups({ connectionString: database.url })).toEqual([backup]);

    const closed = await admin.db.query<{ allowed: boolean }>(
      'SELECT datallowconn AS allowed FROM pg_database WHERE datname = $1',
      [backup.id],
    );
    expect(closed.rows).toEqual([{ allowed: false }]);
  });

  it('refuses to copy while other sessions use the database, naming them and what to do', async () => {
    const busy = await database.connect('billing-worker');
    const pid = (await busy.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    const error = (await snapshotsOf()
      .create({ tags: {} })
      .catch((e: Error) => e)) as Error;
    expect(error.message).toContain(
      `cannot back up database ${database.name} while other sessions are connected`,
    );
    expect(error.message).toContain(`pid ${pid} (billing-worker)`);
    expect(error.message).toContain('pg_terminate_backend(pid)');
    await busy.close();
    expect(await snapshotsOf().list()).toEqual([]);
  });

  it('restores the content and keeps the replaced database as a snapshot', async () => {
    const backup = await backupDatabase({ connectionString: database.url });
    await change(`UPDATE notes SET body = 'changed'; INSERT INTO notes VALUES (3, 'third')`);

    const result = await restoreBackup({ connectionString: database.url }, backup.id);

    expect(result).toMatchObject({ database: database.name, restoredFrom: backup.id });
    expect(await notes()).toEqual(['first', 'second']);
    const listed = await listBackups({ connectionString: database.url });
    expect(listed.map((snapshot) => snapshot.id).sort()).toEqual([backup.id, result.previous.id].sort());
    expect(result.previous.tags).toEqual({ reason: `replaced by restore of ${backup.id}` });
    // The replaced database is intact: restoring it brings the change back.
    await restoreBackup({ connectionString: database.url }, result.previous.id);
    expect(await notes()).toEqual(['changed', 'changed', 'third']);
  });

  it('refuses to restore over a database in use, leaving it untouched', async () => {
    const snapshots = snapshotsOf();
    const id = await snapshots.create({ tags: {} });
    await change(`INSERT INTO notes VALUES (3, 'third')`);
    const busy = await database.connect('psql');
    const error = (await snapshots.restore(id).catch((e: Error) => e)) as Error;
    expect(error.message).toContain(`cannot restore over database ${database.name}`);
    expect(error.message).toContain('(psql)');
    await busy.close();
    expect(await notes()).toEqual(['first', 'second', 'third']);
    expect((await snapshots.list()).map((snapshot) => snapshot.id)).toEqual([id]);
  });

  it('keeps names within 63 bytes and unique within a second', async () => {
    const long = `${database.name}_${'x'.repeat(60 - database.name.length)}`;
    await admin.db.query(`CREATE DATABASE ${escapeIdentifier(long)}`);
    try {
      const clock = { now: () => new Date(Date.UTC(2026, 10, 25, 10, 30, 5)) };
      const snapshots = new LocalSnapshots({ admin: admin.db, database: long, clock });
      const first = await snapshots.create({ tags: {} });
      const second = await snapshots.create({ tags: {} });
      expect(Buffer.byteLength(first)).toBeLessThanOrEqual(63);
      expect(Buffer.byteLength(second)).toBeLessThanOrEqual(63);
      expect(first).toMatch(/_20261125103005$/);
      expect(second).toMatch(/_20261125103005_2$/);
      expect((await snapshots.list()).map((snapshot) => snapshot.id).sort()).toEqual([first, second].sort());
      for (const id of [first, second]) await snapshots.delete(id);
    } finally {
      await admin.db.query(`DROP DATABASE ${escapeIdentifier(long)}`);
    }
  });

  it('deletes only snapshots it made of this database', async () => {
    const other = `${database.name}_${randomBytes(3).toString('hex')}`;
    await admin.db.query(`CREATE DATABASE ${escapeIdentifier(other)}`);
    await expect(snapshotsOf().delete(other)).rejects.toThrow(
      `no snapshot named ${other} of database ${database.name}`,
    );
    const exists = await admin.db.query('SELECT 1 FROM pg_database WHERE datname = $1', [other]);
    expect(exists.rows).toHaveLength(1);
  });

  it('prunes to the newest N', async () => {
    const snapshots = snapshotsOf();
    const ids = [];
    for (let index = 0; index < 3; index++)
      ids.push(await snapshots.create({ tags: { index: String(index) } }));
    const deleted = await pruneSnapshots(snapshots, 1);
    expect(deleted.map((snapshot) => snapshot.id)).toEqual([ids[0], ids[1]]);
    expect((await snapshots.list()).map((snapshot) => snapshot.id)).toEqual([ids[2]]);
  });
});
