/**
 * The rds-migrate program: the global options, every command registered from its own module in
 * commands/, and the mapping of errors to exit codes. `runCli` returns the exit code instead of
 * exiting, so tests drive it in-process.
 */
import { createRequire } from 'node:module';
import type * as CommanderModule from 'commander';
import { GraphError, LockTimeoutError, RdsMigrateError, UsageError } from '../engine/errors.ts';
import { DEFAULT_HISTORY_SCHEMA } from '../engine/history-schema.ts';
import { printableLines } from '../engine/printable.ts';
import { RELEASE } from '../engine/version.ts';
import { DEFAULT_MIGRATIONS_DIR, EXIT } from './cli-defaults.ts';
import type { CliIo, CommandContext, GlobalOptions } from './session.ts';

export { EXIT } from './cli-defaults.ts';

// commander through require: it is CommonJS, and importing it as an ES module sends it through
// node's CommonJS-to-ESM translation, about 8 ms more of every command's start (issue 32).
const { Command, CommanderError, Option } = createRequire(import.meta.url)(
  'commander',
) as typeof CommanderModule;
type Command = CommanderModule.Command;

type Register = (program: Command, context: CommandContext) => void;

/**
 * Every command module, in the order --help lists them, with the commands it defines; each module
 * defines its options, help and action. A module is imported only when its command runs (or for
 * --help): most of them bring the engine, the parser, the AWS SDK or the schema tools, and a
 * command should load only what it uses (test/cli/program.test.ts keeps the names true).
 */
export const COMMAND_MODULES: readonly CommandModule[] = [
  commandModule(['create'], async () => (await import('./commands/create.ts')).registerCreate),
  commandModule(['up', 'down', 'stamp'], async () => (await import('./commands/apply.ts')).registerApply),
  commandModule(['status', 'current'], async () => (await import('./commands/status.ts')).registerStatus),
  commandModule(
    ['history', 'show', 'heads'],
    async () => (await import('./commands/history.ts')).registerHistory,
  ),
  commandModule(['merge'], async () => (await import('./commands/merge.ts')).registerMerge),
  commandModule(['squash'], async () => (await import('./commands/squash.ts')).registerSquash),
  commandModule(['check'], async () => (await import('./commands/check.ts')).registerCheck),
  commandModule(['doctor'], async () => (await import('./commands/doctor.ts')).registerDoctor),
  commandModule(['diff'], async () => (await import('./commands/diff.ts')).registerDiff),
  commandModule(['backup', 'restore'], async () => (await import('./commands/backup.ts')).registerBackup),
  commandModule(['db'], async () => (await import('./commands/db.ts')).registerDb),
  commandModule(['invoke'], async () => (await import('./commands/invoke.ts')).registerInvoke),
  commandModule(['fleet'], async () => (await import('./commands/fleet.ts')).registerFleet),
];

interface CommandModule {
  /** The top-level commands the module registers. */
  readonly commands: readonly string[];
  load(): Promise<Register>;
}

function commandModule(commands: readonly string[], load: () => Promise<Register>): CommandModule {
  return { commands, load };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * The program with the commands `argv` may run: the one it names, all of them for --help, a
 * command it does not know (so commander can suggest one) or none at all, and none for --version.
 * @default argv: every command
 */
export async function buildProgram(io: CliIo, argv?: readonly string[]): Promise<Command> {
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

  const modules = modulesFor(program, argv);
  if (modules.length > 0) {
    const [{ Session }, ...registers] = await Promise.all([
      import('./session.ts'),
      ...modules.map((module) => module.load()),
    ]);
    const context: CommandContext = {
      io,
      session: (command) => new Session(io, command.optsWithGlobals() as GlobalOptions),
    };
    for (const register of registers) register(program, context);
  }

  program.addOption(new Option('--no-color').hideHelp());
  return program;
}

/** The command modules `argv` needs (see buildProgram), read with the program's own global options. */
function modulesFor(program: Command, argv: readonly string[] | undefined): readonly CommandModule[] {
  if (!argv) return COMMAND_MODULES;
  const named = commandNamed(program, argv);
  const module = COMMAND_MODULES.find((candidate) => named && candidate.commands.includes(named));
  if (module) return [module];
  const onlyVersion =
    named === undefined && argv.some((word) => word === '-V' || word === '--version') && !argv.some(isHelp);
  return onlyVersion ? [] : COMMAND_MODULES;
}

function isHelp(word: string): boolean {
  return word === '-h' || word === '--help';
}

/** The first word of `argv` that is neither a global option nor an option's value. */
function commandNamed(program: Command, argv: readonly string[]): string | undefined {
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index] as string;
    if (word === '--') return argv[index + 1];
    if (!word.startsWith('-') || word === '-') return word;
    const [flag] = word.split('=', 1);
    const option = program.options.find((candidate) => candidate.long === flag || candidate.short === flag);
    // --schema=app, -dmigrations: the value is in the word itself.
    const inline = word.includes('=') || (!word.startsWith('--') && word.length > 2);
    if (option && (option.required || option.optional) && !inline) index += 1;
  }
  return undefined;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let program: Command;
  try {
    program = await buildProgram(io, argv);
  } catch (error) {
    return reportError(error, io);
  }
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
