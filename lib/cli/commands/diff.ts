/** `rds-migrate diff`: how the database differs from the schema its revision implies. */
import type { Command } from 'commander';
import { type CommandContext, example } from '../session.ts';

// Loaded when diff runs, not to define the command: the schema tools and the runner.
const databaseDiff = () => import('../../schema/database-diff.ts');

export function registerDiff(program: Command, { session }: CommandContext): void {
  example(
    program
      .command('diff')
      .description(
        'how the database differs from the schema its recorded revision implies (the migrations run on a ' +
          'shadow database), as SQL that brings it back; exits 1 when they differ',
      )
      .option('--json', 'print the difference as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const graph = await s.graph();
        const { diffDatabase, formatDatabaseDiff, SchemaDiffersError } = await databaseDiff();
        const diff = await s.withServer((server) =>
          diffDatabase(server, graph, { history: s.history, args: s.args, actor: s.actor }),
        );
        if (options.json) s.printJson('diff', diff);
        else s.print(formatDatabaseDiff(diff));
        // Printed first, so the SQL is there to read; then a difference fails the command.
        if (diff.differs) throw new SchemaDiffersError(diff);
      }),
    '  $ rds-migrate diff\n  $ DATABASE_URL=postgres://app@db.internal/app rds-migrate diff > back.sql\n' +
      '  $ rds-migrate diff --json | jq .statements',
  );
}
