/**
 * Fresh databases on the run's embedded server, and catalog snapshots to compare schemas.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { type Connection, connect } from '../../lib/engine/connection.ts';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A new session on this database (closed by `drop`). */
  connect(applicationName?: string): Promise<Connection>;
  drop(): Promise<void>;
}

/**
 * CREATE DATABASE's clause for test databases. FILE_COPY copies template1's folder and takes a
 * checkpoint, cheap with the test server's fsync off; the default (WAL_LOG) writes every block of
 * it to the WAL, about three times slower on the loaded two-core machine (create, first session
 * and drop: ~0.6 s against ~1.5 s). The databases are the same.
 */
export const TEST_DATABASE_STRATEGY = 'STRATEGY FILE_COPY';

export async function freshDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('postgresAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name} ${TEST_DATABASE_STRATEGY}`));
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  const open: Connection[] = [];
  return {
    name,
    url,
    connect: async (applicationName) => {
      const connection = await connect({ connectionString: url }, applicationName);
      open.push(connection);
      return connection;
    },
    drop: async () => {
      await Promise.all(open.map((connection) => connection.close()));
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}
