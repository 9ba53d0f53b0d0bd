/**
 * The rds-migrate program: the global options, every command registered from its own module in
 * commands/, and the mapping of errors to exit codes. `runCli` returns the exit code instead of
 * exiting, so tests drive it in-process.
 */
import { Command, CommanderError, Option } from 'commander';
import { GraphError, LockTimeoutError, RdsMigrateError, UsageError } from '../engine/errors.ts';
import { DEFAULT_HISTORY_SCHEMA } from '../engine/history.ts';
import { printableLines } from '../engine/printable.ts';
import { RELEASE } from '../engine/version.ts';
import { registerApply } from './commands/apply.ts';
import { registerBackup } from './commands/backup.ts';
import { registerCheck } from './commands/check.ts';
import { registerCreate } from './commands/create.ts';
import { registerDb } from './commands/db.ts';
import { registerDiff } from './commands/diff.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerHistory } from './commands/history.ts';
import { registerInvoke } from './commands/invoke.ts';
import { registerMerge } from './commands/merge.ts';
import { registerSquash } from './commands/squash.ts';
import { registerStatus } from './commands/status.ts';
import {
  type CliIo,
  type CommandContext,
  DEFAULT_MIGRATIONS_DIR,
  EXIT,
  type GlobalOptions,
  Session,
} from './session.ts';

export { type CliIo, EXIT, parseContextArgs } from './session.ts';

/** Every command, in the order --help lists them; each module defines its options, help and action. */
const COMMANDS = [
  registerCreate,
  registerApply,
  registerStatus,
  registerHistory,
  registerMerge,
  registerSquash,
  registerCheck,
  registerDoctor,
  registerDiff,
  registerBackup,
  registerDb,
  registerInvoke,
];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('rds-migrate')
    .description(
      'PostgreSQL schema migrations: apply, revert and inspect the migrations of a folder.\n' +
        'With no DATABASE_URL (or PG* variables) it uses an embedded PostgreSQL in .rds-migrate/.',
    )
    .option(
      '-d, --migrations-dir <dir>',
      'folder of migrations',
      io.env.RDS_MIGRATE_DIR ?? DEFAULT_MIGRATIONS_DIR,
    )
    .option(
      '--database-url <url>',
      'PostgreSQL connection string (default: DATABASE_URL, then PG* variables)',
    )
    .option(
      '--schema <name>',
      'schema of the history tables',
      io.env.RDS_MIGRATE_SCHEMA ?? DEFAULT_HISTORY_SCHEMA,
    )
    .option(
      '-x <key=value>',
      'context argument for every migration (repeatable), e.g. -x dev_data=true',
      collect,
      [],
    )
    .option('--lock-wait <seconds>', 'how long to wait for another run to finish', '60')
    .option(
      '--lock-retries <n>',
      'times a migration that timed out waiting for a table lock (lock_timeout) is tried again, with backoff',
      '4',
    )
    .version(RELEASE, '-V, --version', 'print the rds-migrate release')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const context: CommandContext = {
    io,
    session: (command) => new Session(io, command.optsWithGlobals() as GlobalOptions),
  };
  for (const register of COMMANDS) register(program, context);

  program.addOption(new Option('--no-color').hideHelp());
  return program;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): number {
  // A message may quote a value read from a database: its control characters are escaped.
  const say = (line: string) => io.stderr(`${printableLines(line)}\n`);
  if (error instanceof CommanderError) {
    if (
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.exitCode === 0
    )
      return EXIT.ok;
    return EXIT.usage;
  }
  if (error instanceof LockTimeoutError) {
    say(`error: ${error.message}`);
    return EXIT.locked;
  }
  if (error instanceof UsageError) {
    say(`error: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof GraphError || error instanceof RdsMigrateError) {
    say(`error: ${error.message}`);
    return EXIT.failed;
  }
  const message = error instanceof Error ? error.message : String(error);
  say(`error: ${message} (unexpected: run again with NODE_DEBUG=rds-migrate or report it)`);
  if (io.env.NODE_DEBUG?.includes('rds-migrate') && error instanceof Error) io.stderr(`${error.stack}\n`);
  return EXIT.failed;
}
