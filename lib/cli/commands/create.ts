/** `rds-migrate create`: a new empty SQL or TS migration on top of the head. */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { createMigration } from '../../engine/authoring.ts';
import { GraphError, UsageError } from '../../engine/errors.ts';
import type { RevisionGraph } from '../../engine/graph.ts';
import { revisionList } from '../report.ts';
import { type CommandContext, example } from '../session.ts';

const MERGE_HINT = 'rds-migrate merge -m "merge heads"';

/**
 * A new migration has exactly one parent: with several heads, the user names it or merges first.
 * (The graph's own message offers 'heads', which means something only to up and stamp.)
 */
function assertOneParent(graph: RevisionGraph, head: string | undefined): void {
  if (head === 'heads') {
    throw new UsageError(
      `create builds on one parent: name it with --head <rev> (rds-migrate heads lists them), or join the heads first with ${MERGE_HINT}`,
    );
  }
  if (head === undefined && graph.heads.length > 1) {
    throw new GraphError(
      'multiple-heads',
      `the folder has ${graph.heads.length} heads (${graph.heads.join(', ')}): name the parent with --head <rev>, ` +
        `or join them first with ${MERGE_HINT}`,
      graph.heads,
    );
  }
}

export function registerCreate(program: Command, { io, session }: CommandContext): void {
  example(
    program
      .command('create')
      .description('write a new empty migration on top of the current head')
      .argument('<message...>', 'what the migration does; names the file')
      .option('--ts', 'a TypeScript migration (code, ctx.batch for data) instead of SQL')
      .option('--head <rev>', 'the parent to build on when the folder has several heads')
      .action(async (words: string[], options: { ts?: boolean; head?: string }, command: Command) => {
        const s = session(command);
        const graph = await s.graphOrEmpty();
        assertOneParent(graph, options.head);
        const created = await createMigration(graph, {
          directory: s.migrationsDir,
          message: words.join(' '),
          kind: options.ts ? 'ts' : 'sql',
          head: options.head,
        });
        s.print(
          `created ${relative(io.cwd, created.path)} (revision ${created.revision}, on ${revisionList(created.downRevisions)})`,
        );
      }),
    '  $ rds-migrate create "add user profile table"\n  $ rds-migrate create --ts "backfill normalized price"\n' +
      '  $ rds-migrate create --head 3f2a "fix on the billing branch"   # several heads: name the parent',
  );
}
