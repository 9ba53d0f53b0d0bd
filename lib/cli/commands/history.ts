/** `rds-migrate history`, `show` and `heads`: the revisions of the folder and what is applied. */
import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import { BASE } from '../../engine/migration.ts';
import { resolveRevision } from '../../engine/target.ts';
import { ASCII, drawGraph, toDot, UNICODE } from '../graph-drawing.ts';
import { type CommandContext, example } from '../session.ts';

// Loaded when a command runs, not to define them: report.ts brings the engine's readers of background
// runs and schema drift.
const reports = () => import('../report.ts');

export function registerHistory(program: Command, { session }: CommandContext): void {
  example(
    program
      .command('history')
      .description('the migrations, newest first, with what is applied; --verbose adds files and the run log')
      .option('-v, --verbose', 'files, checksums, who applied each and when, and the log')
      .option(
        '--graph',
        'draw the revisions as git log --graph does: branches, merges, heads, applied (*), pending (o), current (@)',
      )
      .option(
        '--format <format>',
        'dot: the graph for Graphviz (rds-migrate history --format dot | dot -Tsvg)',
      )
      .option('--json', 'print as JSON')
      .action(
        async (
          options: { verbose?: boolean; json?: boolean; graph?: boolean; format?: string },
          command: Command,
        ) => {
          const s = session(command);
          if (options.format !== undefined && options.format !== 'dot') {
            throw new UsageError(
              `history --format ${options.format}: the one format is dot (use --json for JSON)`,
            );
          }
          const graph = await s.graph();
          const { formatHistory, historyEntries } = await reports();
          const { heads, log } = await s.withDatabase(async (db) => ({
            heads: (await s.history.read(db)).heads,
            log: options.verbose || options.json ? await s.history.log(db, 100) : undefined,
          }));
          const entries = historyEntries(graph, heads);
          if (options.json) s.printJson('history', { current: heads, revisions: entries, log });
          else if (options.format === 'dot') s.io.stdout(toDot(entries));
          else if (options.graph)
            s.print(drawGraph(entries, s.io.stdoutIsTerminal ? UNICODE : ASCII).join('\n'));
          else s.print(formatHistory(entries, log, graph));
        },
      ),
    '  $ rds-migrate history\n  $ rds-migrate history --verbose\n  $ rds-migrate history --graph\n' +
      '  $ rds-migrate history --format dot | dot -Tsvg > revisions.svg',
  );

  example(
    program
      .command('show')
      .description('one revision in detail: parents, children, SQL, log')
      .argument(
        '<revision>',
        "full id, unique prefix, branch label, 'head', <branch>@head, or a step: head-1, 3f2a+1, -1 (from the current revision)",
      )
      .option('--json', 'print as JSON')
      .action(async (spec: string, options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const graph = await s.graph();
        const { formatDetails, revisionDetails } = await reports();
        const { heads, log } = await s.withDatabase(async (db) => ({
          heads: (await s.history.read(db)).heads,
          log: await s.history.log(db, 1000),
        }));
        const revision = resolveRevision(graph, spec, { current: heads, direction: 'at' });
        if (revision === BASE)
          throw new UsageError(
            `'${spec}' is base, not a revision; name one (rds-migrate history lists them)`,
          );
        const details = revisionDetails(graph, revision, heads, log);
        if (options.json) s.printJson('show', details);
        else s.print(formatDetails(details));
      }),
    '  $ rds-migrate show head\n  $ rds-migrate show 3f2a\n  $ rds-migrate show head-1\n' +
      '  $ rds-migrate show billing@head   # the head of the branch labelled billing\n' +
      '  $ rds-migrate show -1             # the revision below the current one',
  );

  example(
    program
      .command('heads')
      .description("the folder's head revisions (more than one: branches to merge)")
      .option('--json', 'print as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const graph = await s.graph();
        const heads = graph.heads.map((revision) => ({
          revision,
          message: graph.get(revision).message,
          source: graph.get(revision).source,
          branchLabels: graph.branchLabels(revision),
          // Only depended on (depends_on): Alembic's "effective head"; the database lists it with the others.
          effective: graph.isEffectiveHead(revision),
        }));
        if (options.json) s.printJson('heads', { heads });
        else if (heads.length === 0) s.print('no migrations yet');
        else {
          for (const head of heads) {
            const labels = head.branchLabels.length > 0 ? ` (${head.branchLabels.join(', ')})` : '';
            const kind = head.effective ? 'effective head' : 'head';
            s.print(`${head.revision}${labels} (${kind})  ${head.message}  ${head.source}`);
          }
          if (heads.length > 1) {
            const labelled = heads.find((head) => head.branchLabels.length > 0)?.branchLabels[0];
            const name = labelled ? `, or name one (up ${labelled}@head)` : '';
            s.print(`several heads: join them with rds-migrate merge -m "merge heads"${name}`);
          }
        }
      }),
    '  $ rds-migrate heads   # each head with its branch labels',
  );
}
