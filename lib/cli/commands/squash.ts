/** `rds-migrate squash <rev>`: the migrations from base to a revision as one. */
import type { Command } from 'commander';
import { counted } from '../../engine/counted.ts';
import { SQUASHED_FOLDER } from '../../engine/loader.ts';
import type { SquashReport } from '../../schema/squash.ts';
import { type CommandContext, example } from '../session.ts';

// Loaded when squash runs, not to define the command: the schema tools and the runner.
const squashing = () => import('../../schema/squash.ts');

export function registerSquash(program: Command, { io, session }: CommandContext): void {
  example(
    program
      .command('squash')
      .description(
        'replace the migrations from base to <revision> with one that builds their schema from nothing ' +
          `(built and diffed on shadow databases, proved by a round trip); it keeps <revision>'s id and lists ` +
          `the others in 'replaces', so databases that ran them need nothing. The old files move to ` +
          `${SQUASHED_FOLDER}/ in the migrations folder`,
      )
      .argument('<revision>', 'the last revision to squash: one every database you deploy to has reached')
      .option(
        '-m, --message <message>',
        "the squash's message (default: squash of <n> migrations up to <revision>)",
      )
      .option('--delete', `delete the replaced files instead of moving them to ${SQUASHED_FOLDER}/`)
      .option(
        '--drop-data',
        'squash migrations that change data too (backfills of rows that existed then): a fresh database will not get that data',
      )
      .option('--dry-run', 'build and prove the squash, print what it would do, write nothing')
      .option('--json', 'print the report as JSON')
      .action(
        async (
          target: string,
          options: {
            message?: string;
            delete?: boolean;
            dropData?: boolean;
            dryRun?: boolean;
            json?: boolean;
          },
          command: Command,
        ) => {
          const s = session(command);
          const { squashMigrations } = await squashing();
          const report = await s.withServer((server) =>
            squashMigrations(server, {
              migrationsDir: s.migrationsDir,
              cwd: io.cwd,
              target,
              message: options.message,
              deleteReplaced: Boolean(options.delete),
              dropData: Boolean(options.dropData),
              dryRun: Boolean(options.dryRun),
              history: s.history,
              args: s.args,
              actor: s.actor,
            }),
          );
          if (options.json) s.printJson('squash', report);
          else s.print(formatSquash(report));
        },
      ),
    '  $ rds-migrate squash 3f2a9c1b7d4e   # everything up to 3f2a… as one migration\n' +
      '  $ rds-migrate squash head-5 -m "schema as of v2" --dry-run\n' +
      '  $ rds-migrate squash head --delete   # the replaced files are in git history anyway',
  );
}

function formatSquash(report: SquashReport): string {
  const lines = [
    `${report.dryRun ? 'would write' : 'wrote'} ${report.file} (revision ${report.revision}, replaces ` +
      `${report.replaces.length}: ${counted(report.statements.up, 'statement')} up, ${report.statements.down} down)`,
    `proved on shadow databases: the same schema as the ${report.replaces.length + 1} migrations (` +
      `${report.proof.schemaObjects} objects), round trip ${report.proof.roundTrip}`,
  ];
  for (const { from, to } of report.replaced) {
    lines.push(
      `  ${report.dryRun ? 'would ' : ''}${to === 'deleted' ? `delete ${from}` : `move ${from} -> ${to}`}`,
    );
  }
  for (const change of report.droppedData) {
    lines.push(`dropped data changes of ${change.revision} (${change.source}): ${change.what}`);
  }
  lines.push(
    report.dryRun
      ? 'nothing written (--dry-run)'
      : `databases that ran the old files are at ${report.revision} already; review the SQL, run rds-migrate check, commit`,
  );
  return lines.join('\n');
}
