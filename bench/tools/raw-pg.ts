/**
 * The baselines: the workload's SQL sent by a bare `pg` client, with no history, no lock and no
 * checks. What any tool adds is measured against these. The three differ only in how they send
 * the ordered SQL of a phase.
 */
import pg from 'pg';
import type { Tool } from './tool.ts';

type Send = (client: pg.Client, texts: readonly string[]) => Promise<void>;

function rawTool(name: string, transactions: string, send: Send): Tool {
  return {
    name,
    transactions,
    async prepare({ url, migrations, applied = 0 }) {
      const client = new pg.Client({ connectionString: url, application_name: 'bench-raw' });
      await client.connect();
      const run = async (texts: readonly string[]) => {
        await send(client, texts);
        return undefined;
      };
      return {
        phases: {
          up: () => run(migrations.slice(applied).map((migration) => migration.up)),
          down: () => run([...migrations].reverse().map((migration) => migration.down)),
        },
        close: () => client.end(),
      };
    },
  };
}

/** BEGIN; sql; COMMIT per migration, as one round trip. */
export const rawPerMigration = rawTool(
  'raw pg, tx per migration',
  'one transaction per migration (BEGIN; sql; COMMIT in one round trip)',
  async (client, texts) => {
    for (const text of texts) await client.query(`BEGIN;\n${text}\nCOMMIT;`);
  },
);

/** BEGIN, one round trip per migration, COMMIT: the floor for a whole-plan transaction. */
export const rawOneTransaction = rawTool(
  'raw pg, one transaction',
  'one transaction for all (BEGIN, one round trip per migration, COMMIT)',
  async (client, texts) => {
    await client.query('BEGIN');
    for (const text of texts) await client.query(text);
    await client.query('COMMIT');
  },
);

/** The whole plan as one query string: no round trips at all between migrations. */
export const rawOneQuery = rawTool(
  'raw pg, one query',
  'one transaction for all, sent as a single query string (one round trip)',
  async (client, texts) => {
    await client.query(`BEGIN;\n${texts.join('\n')}\nCOMMIT;`);
  },
);
