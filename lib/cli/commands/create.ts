/** `rds-migrate create`: a new empty SQL or TS migration on top of the head. */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { createMigration } from '../../engine/authoring.ts';
import { revisionList } from '../report.ts';
import { type CommandContext, example } from '../session.ts';

export function registerCreate(program: Command, { io, session }: CommandContext): void {
  example(
    program
      .command('create')
      .description('write a new empty migration on top of the current head')
      .argument('<message...>', 'what the migration does; names the file')
      .option('--ts', 'a TypeScript migration (code, ctx.batch for data) instead of SQL')
      .option('--head <revision>', 'parent to build on when the folder has several heads')
      .action(async (words: string[], options: { ts?: boolean; head?: string }, command: Command) => {
        const s = session(command);
        const created = await createMigration(await s.graphOrEmpty(), {
          directory: s.migrationsDir,
          message: words.join(' '),
          kind: options.ts ? 'ts' : 'sql',
          head: options.head,
        });
        s.print(
          `created ${relative(io.cwd, created.path)} (revision ${created.revision}, on ${revisionList(created.downRevisions)})`,
        );
      }),
    '  $ rds-migrate create "add user profile table"\n  $ rds-migrate create --ts "backfill normalized price"',
  );
}
