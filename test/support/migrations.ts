/**
 * In-memory migrations for tests of the graph, the planner and the runner.
 */
import { checksumOf } from '../../lib/engine/loader.ts';
import type { Migration, MigrationContext } from '../../lib/engine/migration.ts';

export interface SqlMigrationOptions {
  readonly parents?: readonly string[];
  readonly down?: string | null;
  readonly transaction?: boolean;
  readonly lockTimeout?: string;
  readonly statementTimeout?: string;
}

export function sqlMigration(revision: string, up: string, options: SqlMigrationOptions = {}): Migration {
  const down = options.down === undefined ? `SELECT 1 /* down ${revision} */` : options.down;
  return {
    revision,
    downRevisions: options.parents ?? [],
    message: `migration ${revision}`,
    transaction: options.transaction ?? true,
    timeouts: {
      ...(options.lockTimeout ? { lockTimeout: options.lockTimeout } : {}),
      ...(options.statementTimeout ? { statementTimeout: options.statementTimeout } : {}),
    },
    up: { kind: 'sql', sql: up, line: 1 },
    down: down === null ? undefined : { kind: 'sql', sql: down, line: 1 },
    source: `${revision}.sql`,
    checksum: checksumOf(`${up}\n${down}`),
  };
}

export function codeMigration(
  revision: string,
  up: (ctx: MigrationContext) => Promise<void>,
  down: (ctx: MigrationContext) => Promise<void>,
  options: { parents?: readonly string[]; transaction?: boolean } = {},
): Migration {
  return {
    revision,
    downRevisions: options.parents ?? [],
    message: `code migration ${revision}`,
    transaction: options.transaction ?? true,
    timeouts: {},
    up: { kind: 'code', run: up },
    down: { kind: 'code', run: down },
    source: `${revision}.ts`,
    checksum: checksumOf(up.toString() + down.toString()),
  };
}

/** A chain a <- b <- c ... of table-creating migrations named after their revisions. */
export function tableChain(...revisions: string[]): Migration[] {
  return revisions.map((revision, index) =>
    sqlMigration(revision, `CREATE TABLE t_${revision} (id int PRIMARY KEY)`, {
      parents: index === 0 ? [] : [revisions[index - 1] as string],
      down: `DROP TABLE t_${revision}`,
    }),
  );
}
