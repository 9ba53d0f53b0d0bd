/**
 * What the fault-injection trials watch from a second session: the killed process's query, and
 * its backend going away. Each trial names its process by application name.
 */
import type pg from 'pg';

/** The active query of `applicationName` on `database` that matches `pattern` (LIKE), shortened. */
export async function activeQuery(
  observer: pg.Client,
  database: string,
  applicationName: string,
  pattern: string,
): Promise<string | undefined> {
  const result = await observer.query<{ query: string }>(
    `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query FROM pg_stat_activity
     WHERE datname = $1 AND application_name = $2 AND state = 'active' AND query LIKE $3`,
    [database, applicationName, pattern],
  );
  return result.rows[0]?.query;
}

/** The killed process's backend finishes its statement before it notices; wait for it. */
export async function waitForSessionsToEnd(
  observer: pg.Client,
  database: string,
  applicationName: string,
): Promise<void> {
  for (let tries = 0; tries < 500; tries++) {
    const left = await observer.query(
      'SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
      [database, applicationName],
    );
    if (left.rows.length === 0) return;
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
