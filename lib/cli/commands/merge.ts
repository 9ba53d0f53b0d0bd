/** `rds-migrate merge`: a merge migration joining heads. */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { createMerge } from '../../engine/authoring.ts';
import { type CommandContext, example } from '../session.ts';

export function registerMerge(program: Command, { io, session }: CommandContext): void {
  example(
    program
      .command('merge')
      .description('write a merge migration whose parents are the given heads (default: all heads)')
      .argument('[revisions...]', 'heads to join')
      .requiredOption('-m, --message <message>', 'what the merge is')
      .action(async (revisions: string[], options: { message: string }, command: Command) => {
        const s = session(command);
        const created = await createMerge(await s.graph(), {
          directory: s.migrationsDir,
          message: options.message,
          revisions,
        });
        s.print(
          `created ${relative(io.cwd, created.path)} (revision ${created.revision}, merging ${created.downRevisions.join(', ')})`,
        );
      }),
    '  $ rds-migrate merge -m "merge heads"',
  );
}
