/**
 * The baselines: the workload's SQL sent by a bare `pg` client, one round trip per migration,
 * with no history, no lock and no checks. What any tool adds is measured against these.
 */
import pg from 'pg';
import type { Tool } from './tool.ts';

/** BEGIN; sql; COMMIT per migration, as one round trip. */
export const rawPerMigration: Tool = {
  name: 'raw pg, tx per migration',
  transactions: 'one transaction per migration (BEGIN; sql; COMMIT in one round trip)',
  async prepare({ url, migrations }) {
    const client = await open(url);
    return {
      phases: {
        up: async () => {
          for (const migration of migrations) await client.query(`BEGIN;\n${migration.up}\nCOMMIT;`);
          return undefined;
        },
        down: async () => {
          for (const migration of [...migrations].reverse()) {
            await client.query(`BEGIN;\n${migration.down}\nCOMMIT;`);
          }
          return undefined;
        },
      },
      close: () => client.end(),
    };
  },
};

/** BEGIN, one round trip per migration, COMMIT: the floor for a whole-plan transaction. */
export const rawOneTransaction: Tool = {
  name: 'raw pg, one transaction',
  transactions: 'one transaction for all (BEGIN, one round trip per migration, COMMIT)',
  async prepare({ url, migrations }) {
    const client = await open(url);
    const run = async (texts: readonly string[]) => {
      await client.query('BEGIN');
      for (const text of texts) await client.query(text);
      await client.query('COMMIT');
      return undefined;
    };
    return {
      phases: {
        up: () => run(migrations.map((migration) => migration.up)),
        down: () => run([...migrations].reverse().map((migration) => migration.down)),
      },
      close: () => client.end(),
    };
  },
};

/** The whole plan as one query string: no round trips at all between migrations. */
export const rawOneQuery: Tool = {
  name: 'raw pg, one query',
  transactions: 'one transaction for all, sent as a single query string (one round trip)',
  async prepare({ url, migrations }) {
    const client = await open(url);
    const run = async (texts: readonly string[]) => {
      await client.query(`BEGIN;\n${texts.join('\n')}\nCOMMIT;`);
      return undefined;
    };
    return {
      phases: {
        up: () => run(migrations.map((migration) => migration.up)),
        down: () => run([...migrations].reverse().map((migration) => migration.down)),
      },
      close: () => client.end(),
    };
  },
};

async function open(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-raw' });
  await client.connect();
  return client;
}
