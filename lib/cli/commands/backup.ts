/** `rds-migrate backup`, `backup list` and `restore`: local copies of the database. */
import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import { printable } from '../../engine/printable.ts';
import { type CommandContext, example } from '../session.ts';

// Loaded when a command runs, not to define them: they connect with pg.
const snapshots = () => import('../../local/snapshots.ts');

export function registerBackup(program: Command, { session }: CommandContext): void {
  example(
    program
      .command('backup')
      .description('copy the database (CREATE DATABASE ... TEMPLATE), or list the copies')
      .argument('[list]', "'list' to list this database's copies instead of making one")
      .option('--json', 'print as JSON')
      .action(async (what: string | undefined, options: { json?: boolean }, command: Command) => {
        if (what !== undefined && what !== 'list') {
          throw new UsageError(
            `backup ${what}: say 'rds-migrate backup' to make a copy, or 'rds-migrate backup list'`,
          );
        }
        const s = session(command);
        const { backupDatabase, listBackups } = await snapshots();
        if (what === 'list') {
          const copies = await s.withServer((server) => listBackups(server.config()));
          if (options.json) s.printJson('backup-list', { backups: copies });
          else if (copies.length === 0) s.print('no backups yet: rds-migrate backup makes one');
          // Names read from the server's catalog: printed escaped.
          else
            for (const copy of copies)
              s.print(`${printable(copy.id)}  ${copy.createdAt.toISOString()}  ${copy.state}`);
          return;
        }
        const copy = await s.withServer((server) =>
          backupDatabase(server.config(), { 'rds-migrate:by': s.actor }),
        );
        if (options.json) s.printJson('backup', copy);
        else s.print(`backup ${copy.id} made (${copy.state}); rds-migrate restore ${copy.id} brings it back`);
      }),
    '  $ rds-migrate backup          # before a risky change\n  $ rds-migrate backup list',
  );

  example(
    program
      .command('restore')
      .description(
        'put a backup back in place of the database; the database replaced is kept as a backup too',
      )
      .argument('<name>', 'a backup, as rds-migrate backup list shows it')
      .option('--json', 'print as JSON')
      .action(async (name: string, options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const { restoreBackup } = await snapshots();
        const result = await s.withServer((server) => restoreBackup(server.config(), name));
        if (options.json) s.printJson('restore', result);
        else {
          s.print(
            `restored ${result.database} from ${result.restoredFrom}; what it replaced is kept as ${result.previous.id}`,
          );
        }
      }),
    '  $ rds-migrate restore app_20261125103000',
  );
}
