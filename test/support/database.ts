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

export async function freshDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('postgresAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
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
