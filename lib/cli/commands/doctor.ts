/** `rds-migrate doctor`: can this database be migrated from here. */
import type { Command } from 'commander';
import type { DoctorReport } from '../../check/doctor.ts';
import { RdsMigrateError } from '../../engine/errors.ts';
import { readProjectConfig } from '../../local/project-config.ts';
import { type CommandContext, example } from '../session.ts';

// Loaded when doctor runs, not to define the command: they bring pg, the embedded server and the runner.
const doctorChecks = () => import('../../check/doctor.ts');
const connections = () => import('../../engine/connection.ts');
const embeddedServer = () => import('../../local/embedded.ts');

export function registerDoctor(program: Command, { session }: CommandContext): void {
  example(
    program
      .command('doctor')
      .description(
        'can this database be migrated from here: connection, version (and the major rds-migrate.config.json ' +
          'pins), privileges, lock, pending, drift',
      )
      .option('--json', 'print the checklist as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const [
          { connectionFailed, DoctorFailed, formatDoctor, runDoctor },
          { ConnectionError },
          { EmbeddedPostgresError },
        ] = await Promise.all([doctorChecks(), connections(), embeddedServer()]);
        const { postgres: pinnedMajor } = await readProjectConfig(s.io.cwd);
        const graph = await s.graph().catch((error: unknown) => {
          if (error instanceof RdsMigrateError) return error;
          throw error;
        });
        const report: DoctorReport = await s
          .withServer(async (server) => {
            const connection = await server.connect().catch((error: unknown) => {
              if (error instanceof ConnectionError) return error;
              throw error;
            });
            if (connection instanceof ConnectionError)
              return connectionFailed(server.target, connection.message);
            try {
              // Doctor only looks: it waits 2 s for the lock unless told otherwise with --lock-wait.
              const lockWaitMs =
                command.getOptionValueSourceWithGlobals('lockWait') === 'cli' ? s.lockWaitMs : undefined;
              return await runDoctor(connection.db, {
                target: server.target,
                history: s.history,
                graph,
                lockWaitMs,
                pinnedMajor,
              });
            } finally {
              await connection.close();
            }
          })
          .catch((error: unknown) => {
            if (error instanceof EmbeddedPostgresError)
              return connectionFailed('embedded PostgreSQL', error.message);
            throw error;
          });
        if (options.json) s.printJson('doctor', report);
        else s.print(formatDoctor(report));
        if (!report.ok) throw new DoctorFailed(report);
      }),
    '  $ rds-migrate doctor\n  $ DATABASE_URL=postgres://app@db.internal/app rds-migrate doctor --json',
  );
}
