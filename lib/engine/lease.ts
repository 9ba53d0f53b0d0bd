/**
 * The run lease: the token of the latest run that claimed the right to change a database. A run
 * that was superseded by a newer claim must not migrate (a late poll of an abandoned deploy,
 * running after a newer one started). Claim and check under the migration lock, so that a check
 * followed by a migration cannot interleave with a newer claim.
 */

import type { Database } from './database.ts';
import type { History } from './history.ts';
import { escapeIdentifier } from './sql-quote.ts';

interface LeaseHolder {
  readonly token: string;
  readonly claimedAt: Date;
}

export class RunLease {
  private readonly table: string;

  /** One lease per `name` in the history's schema; a database with two apps has two histories. */
  constructor(
    private readonly history: History,
    readonly name = 'deploy',
  ) {
    this.table = `${escapeIdentifier(history.schema)}.run_lease`;
  }

  /**
   * Makes `token` the holder. The lease is part of the history (history-format.ts), so a claim
   * on a database without one creates it, empty: the database is still at base.
   */
  async claim(db: Database, token: string): Promise<void> {
    await this.history.ensure(db);
    await this.write(db, token);
  }

  /**
   * Makes `token` the holder only where a lease was ever claimed; creates nothing. For runs
   * that must leave the database untouched yet still stop older runs.
   */
  async claimIfPresent(db: Database, token: string): Promise<boolean> {
    if (!(await this.tableExists(db))) return false;
    await this.write(db, token);
    return true;
  }

  /** The current holder, or undefined when nobody ever claimed. */
  async holder(db: Database): Promise<LeaseHolder | undefined> {
    if (!(await this.tableExists(db))) return undefined;
    const result = await db.query<{ token: string; claimed_at: Date }>(
      `SELECT token, claimed_at FROM ${this.table} WHERE name = $1`,
      [this.name],
    );
    const row = result.rows[0];
    return row ? { token: row.token, claimedAt: row.claimed_at } : undefined;
  }

  /**
   * The token of another run that holds the lease, or undefined when `token` holds it or nobody
   * ever claimed it (an absent lease blocks nobody). One read: a claim never clears the lease, so
   * whoever is found here is who superseded `token`.
   */
  async heldByAnother(db: Database, token: string): Promise<string | undefined> {
    const holder = await this.holder(db);
    return holder !== undefined && holder.token !== token ? holder.token : undefined;
  }

  private async write(db: Database, token: string): Promise<void> {
    await db.query(
      `INSERT INTO ${this.table} (name, token) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token, claimed_at = now()`,
      [this.name, token],
    );
  }

  private async tableExists(db: Database): Promise<boolean> {
    const result = await db.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
      this.table,
    ]);
    return Boolean(result.rows[0]?.found);
  }
}
