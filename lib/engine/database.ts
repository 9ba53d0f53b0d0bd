/**
 * The one interface through which the engine talks to PostgreSQL. A `pg.Client` satisfies it;
 * the runner needs a single session (the advisory lock and the plan's transaction live on it).
 */
export interface QueryResult<T> {
  readonly rows: T[];
  readonly rowCount: number | null;
}

export interface Database {
  query<T = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<T>>;
}
