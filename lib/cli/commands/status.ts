/** `rds-migrate status` and `current`: where the database stands. */
import type { Command } from 'commander';
import { DriftError } from '../../engine/errors.ts';
import { type CommandContext, example } from '../session.ts';

// Loaded when a command runs, not to define them: status.ts brings the runner's drift check and the
// plan, report.ts brings the engine's readers of background runs and schema drift.
const statusReader = () => import('../../engine/status.ts');
const reports = () => import('../report.ts');

export function registerStatus(program: Command, { session }: CommandContext): void {
  example(
    program
      .command('status')
      .description(
        'where the database is, what is pending, drift (exits 1 when the file of an applied migration changed; a schema changed outside migrations is only reported)',
      )
      .option('--json', 'print the status as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const graph = await s.graph();
        const [{ readStatus }, { formatStatus }] = await Promise.all([statusReader(), reports()]);
        await s.withDatabase(async (db, target) => {
          const status = await readStatus(db, graph, s.history);
          if (options.json) s.printJson('status', status);
          else s.print(formatStatus(status, graph, target, s.recovery));
          // Printed first, so the user sees the status; then drift fails the command, as `up` would.
          if (status.drift.length > 0) throw new DriftError(status.drift);
        });
      }),
    '  $ rds-migrate status\n  $ rds-migrate status --json | jq .pending',
  );

  example(
    program
      .command('current')
      .description("the database's current revision(s)")
      .option('--json', 'print as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const { revisionList } = await reports();
        const state = await s.withDatabase((db) => s.history.read(db));
        if (options.json) s.printJson('current', { current: state.heads });
        else s.print(revisionList(state.heads));
      }),
    '  $ rds-migrate current',
  );
}
