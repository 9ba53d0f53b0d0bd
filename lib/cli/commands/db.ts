/**
 * `rds-migrate db start | stop | url | psql`: the embedded PostgreSQL in .rds-migrate/, reachable
 * from outside the CLI. Every other command starts it for its own run and stops it after; `db
 * start` leaves it running (for psql, a GUI, the app) until `db stop`, as `pg_ctl` would.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import type { Command } from 'commander';
import { RdsMigrateError } from '../../engine/errors.ts';
import type { RunningEmbedded } from '../../local/embedded.ts';
import { dataDirMajor, pinMismatch } from '../../local/postgres-major.ts';
import { readProjectConfig } from '../../local/project-config.ts';
import { type CliIo, type CommandContext, example, type Session } from '../session.ts';
import { sayOnInterrupt } from '../terminal.ts';

// Loaded when a command runs, not to define them: the embedded server's code and pg.
const embeddedServer = () => import('../../local/embedded.ts');
const localServer = () => import('../../local/server.ts');
const connections = () => import('../../engine/connection.ts');

class EmbeddedNotRunning extends RdsMigrateError {
  override readonly name = 'EmbeddedNotRunning';
}

class PsqlFailed extends RdsMigrateError {
  override readonly name = 'PsqlFailed';
}

/** Where the project's embedded server keeps its data and its log (when `db start` ran it). */
interface Embedded {
  readonly dataDir: string;
  readonly logFile: string;
  /** The data folder as the user sees it, relative to the project. */
  readonly shown: string;
}

async function embeddedOf(io: CliIo): Promise<Embedded> {
  const { embeddedDataDir } = await localServer();
  const dataDir = embeddedDataDir(io.cwd);
  return { dataDir, logFile: join(dirname(dataDir), 'postgres.log'), shown: relative(io.cwd, dataDir) };
}

/**
 * With a database configured, the other commands use it, not this server: say so once, on
 * stderr, unless the configured URL is this very server (`export DATABASE_URL=$(rds-migrate db url)`).
 */
async function noteConfigured(s: Session, running: RunningEmbedded | undefined): Promise<void> {
  const [{ configuredDatabase }, { describeTarget }] = await Promise.all([localServer(), connections()]);
  const config = configuredDatabase({ databaseUrl: s.options.databaseUrl, env: s.io.env, cwd: s.io.cwd });
  if (!config) return;
  const target = describeTarget(config);
  if (running && /@(127\.0\.0\.1|localhost):(\d+)\//.exec(target)?.[2] === String(running.port)) return;
  s.io.stderr(
    `note: rds-migrate db manages only the embedded PostgreSQL in .rds-migrate/; a database is configured ` +
      `(${target}, from --database-url, DATABASE_URL or PG*), and the other commands use that one\n`,
  );
}

function notRunning(embedded: Embedded): EmbeddedNotRunning {
  return new EmbeddedNotRunning(
    `the embedded PostgreSQL in ${embedded.shown} is not running: rds-migrate db start starts it ` +
      '(every other command starts it for its own run and stops it after)',
  );
}

/** The first `name` on PATH that we may run, if any. */
function findOnPath(name: string, path: string | undefined): string | undefined {
  const names = process.platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const folder of (path ?? '').split(delimiter).filter(Boolean)) {
    for (const candidate of names.map((file) => join(folder, file))) {
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // Not here: next folder.
      }
    }
  }
  return undefined;
}

const INSTALL_PSQL =
  'psql (the PostgreSQL client) is not on PATH: install it (Debian/Ubuntu: apt-get install postgresql-client; ' +
  'macOS: brew install libpq; others: https://www.postgresql.org/download/), or point any client at the URL ' +
  'that rds-migrate db url prints after rds-migrate db start';

/** Runs psql in this terminal; its exit status. Ctrl-C belongs to psql (it cancels a query) while it runs. */
async function runPsql(psql: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const keepRunning = () => undefined;
  process.on('SIGINT', keepRunning);
  try {
    return await new Promise<number>((done, fail) => {
      const child = spawn(psql, args, { stdio: 'inherit', env });
      child.once('error', fail);
      child.once('exit', (code) => done(code ?? 1));
    });
  } finally {
    process.off('SIGINT', keepRunning);
  }
}

export function registerDb(program: Command, { io, session }: CommandContext): void {
  const db = program
    .command('db')
    .description(
      'the embedded PostgreSQL in .rds-migrate/ (used when no database is configured): keep it running ' +
        'for other programs, print its URL, open psql on it, stop it',
    );
  example(
    db,
    '  $ rds-migrate db start\n  $ export DATABASE_URL=$(rds-migrate db url)   # for your app, a GUI, a script\n' +
      '  $ rds-migrate db psql\n  $ rds-migrate db stop',
  );

  example(
    db
      .command('start')
      .description(
        'start the embedded PostgreSQL and leave it running until rds-migrate db stop; says which major it ' +
          'runs, and warns when the project pins another ("postgres" in rds-migrate.config.json)',
      )
      .action(async (_options: unknown, command: Command) => {
        const s = session(command);
        const embedded = await embeddedOf(io);
        const { binariesPackage, embeddedUrl, startDetached } = await embeddedServer();
        const { postgres: pinned } = await readProjectConfig(io.cwd);
        // The server runs detached, in a process group of its own: Ctrl-C does not reach it.
        const stopListening = sayOnInterrupt(() =>
          io.stderr(
            `\ninterrupted: the embedded PostgreSQL in ${embedded.shown} may go on starting without this ` +
              'terminal; rds-migrate db start says whether it runs (and starts it if not), rds-migrate db stop stops it\n',
          ),
        );
        const { server, started } = await startDetached(embedded).finally(stopListening);
        await noteConfigured(s, server);
        const major = await dataDirMajor(embedded.dataDir);
        const what = `the embedded PostgreSQL ${major}`;
        s.print(
          started
            ? `started ${what} in ${embedded.shown} (pid ${server.pid}, port ${server.port}); ` +
                'it runs until rds-migrate db stop'
            : `${what} in ${embedded.shown} is already running (pid ${server.pid}, port ${server.port})`,
        );
        const warning = major && pinMismatch(pinned, major, 'the embedded server', binariesPackage());
        if (warning) io.stderr(`warning: ${warning}\n`);
        s.print(`url  ${await embeddedUrl(embedded.dataDir, server.port)}`);
        s.print(`log  ${relative(io.cwd, embedded.logFile)}`);
      }),
    '  $ rds-migrate db start\n  $ rds-migrate up && rds-migrate db psql   # commands use the running server',
  );

  example(
    db
      .command('stop')
      .description(
        'stop the embedded PostgreSQL (open transactions roll back); nothing to do when it is not running',
      )
      .action(async (_options: unknown, command: Command) => {
        const s = session(command);
        const embedded = await embeddedOf(io);
        await noteConfigured(s, undefined);
        const { stopEmbedded } = await embeddedServer();
        const stopped = await stopEmbedded(embedded.dataDir);
        s.print(
          stopped
            ? `stopped the embedded PostgreSQL in ${embedded.shown} (pid ${stopped.pid})`
            : `the embedded PostgreSQL in ${embedded.shown} is not running: nothing to stop`,
        );
      }),
    '  $ rds-migrate db stop',
  );

  example(
    db
      .command('url')
      .description(
        'print the connection string of the running embedded PostgreSQL (exits 1 when it is not running)',
      )
      .option('--json', 'print as JSON: running, url, pid, port, dataDir')
      .action(async (options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const embedded = await embeddedOf(io);
        const { embeddedUrl, runningEmbedded } = await embeddedServer();
        const running = await runningEmbedded(embedded.dataDir);
        await noteConfigured(s, running);
        const url = running && (await embeddedUrl(embedded.dataDir, running.port));
        if (options.json) {
          s.printJson(
            'db-url',
            running && url
              ? { running: true, url, ...running, dataDir: embedded.shown }
              : { running: false, dataDir: embedded.shown },
          );
        } else if (url) s.print(url);
        if (!running) throw notRunning(embedded);
      }),
    '  $ export DATABASE_URL=$(rds-migrate db url)\n  $ rds-migrate db url --json',
  );

  example(
    db
      .command('psql')
      .description(
        'open psql on the embedded database; when the server is not running it runs for the session only',
      )
      .argument('[psql-args...]', 'arguments for psql, after --')
      .action(async (args: string[], _options: unknown, command: Command) => {
        const s = session(command);
        const psql = findOnPath('psql', io.env.PATH);
        if (!psql) throw new PsqlFailed(INSTALL_PSQL);
        const embedded = await embeddedOf(io);
        const { embeddedUrl, startDetached, stopEmbedded } = await embeddedServer();
        const { server, started } = await startDetached(embedded);
        await noteConfigured(s, server);
        let status: number;
        try {
          // The password goes to psql in its environment, which other users cannot read (they can its arguments).
          const url = new URL(await embeddedUrl(embedded.dataDir, server.port));
          const password = url.password;
          url.password = '';
          status = await runPsql(psql, ['--dbname', url.toString(), ...args], {
            ...io.env,
            PGPASSWORD: password,
          });
        } finally {
          if (started) await stopEmbedded(embedded.dataDir);
        }
        if (status !== 0) throw new PsqlFailed(`psql exited with status ${status}`);
      }),
    '  $ rds-migrate db psql\n  $ rds-migrate db psql -- -c "TABLE rds_migrate.heads"',
  );
}
