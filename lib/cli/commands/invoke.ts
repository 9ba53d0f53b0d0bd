/** `rds-migrate invoke`: ask the deployed function. */
import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import { isManualAction, MANUAL_ACTIONS } from '../../engine/function-contract.ts';
import { RevisionGraph } from '../../engine/graph.ts';
import { type CommandContext, example } from '../session.ts';

// Loaded when invoke runs, not to define it: the AWS SDK's Lambda client; report.ts brings the engine's
// readers of background runs and schema drift.
const remote = () => import('../remote.ts');
const reports = () => import('../report.ts');

interface InvokeOptions {
  functionName: string;
  revision?: string;
  confirm?: boolean;
  limit?: string;
  json?: boolean;
  snapshot?: boolean;
  snapshotId?: string;
  purge?: boolean;
}

export function registerInvoke(program: Command, { session }: CommandContext): void {
  example(
    program
      .command('invoke')
      .description(
        'ask the deployed function (aws lambda invoke): status, history, show, heads; up, down, stamp; ' +
          'pause, resume, cancel (a background migration)',
      )
      .argument('<action>', MANUAL_ACTIONS.join(', '))
      .requiredOption('--function-name <name>', "the function (the stack's FunctionName output)")
      .option(
        '--revision <revision>',
        'for show, up, down, stamp, and the background migration to pause, resume or cancel',
      )
      .option(
        '--confirm',
        'required for up, down, stamp, pause, resume and cancel: they change the production database or its runs',
      )
      .option('--limit <n>', 'history: how many log rows')
      .option(
        '--purge',
        "stamp: forget the current revisions first, those the function's bundle lacks included (as stamp --purge)",
      )
      .option(
        '--no-snapshot',
        'up, down: run without the snapshot the function otherwise takes (and waits for) first',
      )
      .option(
        '--snapshot-id <id>',
        'up, down: use this snapshot (an earlier invoke that ran out of time named it)',
      )
      .option('--json', 'print the answer as JSON')
      .action(async (action: string, options: InvokeOptions, command: Command) => {
        const s = session(command);
        if (!isManualAction(action)) {
          throw new UsageError(`invoke ${action}: the actions are ${MANUAL_ACTIONS.join(', ')}`);
        }
        const args = s.args;
        const [{ invokeFunction }, { formatRemote }] = await Promise.all([remote(), reports()]);
        const answer = await invokeFunction(options.functionName, {
          action,
          ...(options.revision ? { revision: options.revision } : {}),
          ...(options.confirm ? { confirm: true } : {}),
          ...(options.limit ? { limit: Number(options.limit) } : {}),
          ...(options.snapshot === false ? { snapshot: false } : {}),
          ...(options.snapshotId ? { snapshotId: options.snapshotId } : {}),
          ...(options.purge ? { purge: true } : {}),
          ...(Object.keys(args).length > 0 ? { args } : {}),
        });
        if (options.json) s.printJson('invoke', answer);
        else
          s.print(
            formatRemote(
              answer,
              await s.graphOrEmpty().catch(() => RevisionGraph.from([])),
              options.functionName,
            ),
          );
      }),
    '  $ rds-migrate invoke status --function-name MyApp-DbMigrationsHandler\n' +
      '  $ rds-migrate invoke down --revision 3f2a --confirm --function-name MyApp-DbMigrationsHandler\n' +
      '      # takes an RDS snapshot first and waits for it; --no-snapshot skips it\n' +
      '  $ rds-migrate invoke stamp --revision 3f2a --purge --confirm --function-name MyApp-DbMigrationsHandler\n' +
      '      # the database is at a revision the bundle lacks: forget it, record 3f2a…\n' +
      '  $ rds-migrate invoke pause --revision bf02e0a1b2c3 --confirm --function-name MyApp-DbMigrationsHandler\n' +
      '      # a background migration: stops its execution, keeps its checkpoints\n' +
      '  $ rds-migrate invoke resume --revision bf02e0a1b2c3 --confirm --function-name MyApp-DbMigrationsHandler\n' +
      '      # a new execution goes on from the checkpoints (a paused or failed run)\n' +
      '  $ rds-migrate invoke cancel --revision bf02e0a1b2c3 --confirm --function-name MyApp-DbMigrationsHandler\n' +
      '      # stops it for good: what requires it stays refused; down reverts it',
  );
}
