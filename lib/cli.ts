/**
 * The rds-migrate command line: parses arguments, opens the database, calls the engine and
 * prints its results (text, or `--json`). `runCli` returns the exit code instead of exiting, so
 * tests drive it in-process.
 */
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { relative, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { createMerge, createMigration } from './authoring.ts';
import { CheckFailed, checkMigrations, formatCheck } from './check.ts';
import { ConnectionError } from './connection.ts';
import type { Database } from './database.ts';
import { connectionFailed, DoctorFailed, type DoctorReport, formatDoctor, runDoctor } from './doctor.ts';
import { EmbeddedPostgresError } from './embedded.ts';
import { GraphError, LockTimeoutError, RdsMigrateError, UsageError } from './errors.ts';
import { RevisionGraph } from './graph.ts';
import { DEFAULT_HISTORY_SCHEMA, History } from './history.ts';
import { loadMigrations } from './loader.ts';
import { backupDatabase, listBackups, restoreBackup } from './local-snapshots.ts';
import { BASE } from './migration.ts';
import { offlinePlan, renderPlanSql } from './offline-sql.ts';
import { invokeFunction, REMOTE_ACTIONS, type RemoteAction } from './remote.ts';
import {
  formatDetails,
  formatHistory,
  formatRemote,
  formatRun,
  formatStatus,
  historyEntries,
  revisionDetails,
  revisionList,
} from './report.ts';
import { type Intent, migrate } from './runner.ts';
import { openServer, type Server } from './server.ts';
import { readStatus } from './status.ts';
import { RELEASE } from './version.ts';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** Exit codes: 0 success, 1 the operation failed, 2 bad usage, 3 another run holds the lock. */
export const EXIT = { ok: 0, failed: 1, usage: 2, locked: 3 } as const;

interface InvokeOptions {
  functionName: string;
  revision?: string;
  confirm?: boolean;
  limit?: string;
  json?: boolean;
}

interface GlobalOptions {
  migrationsDir: string;
  databaseUrl?: string;
  schema: string;
  x: string[];
  lockWait: string;
}

class Session {
  constructor(
    readonly io: CliIo,
    readonly options: GlobalOptions,
  ) {}

  get migrationsDir(): string {
    return resolve(this.io.cwd, this.options.migrationsDir);
  }

  get history(): History {
    return new History(this.options.schema);
  }

  get args(): Record<string, string> {
    return parseContextArgs(this.options.x);
  }

  get lockWaitMs(): number {
    const seconds = Number(this.options.lockWait);
    if (!Number.isFinite(seconds) || seconds < 0)
      throw new UsageError(`--lock-wait ${this.options.lockWait}: give seconds, e.g. 60`);
    return seconds * 1000;
  }

  get actor(): string {
    let user = 'unknown';
    try {
      user = userInfo().username;
    } catch {
      // No passwd entry (some containers): keep 'unknown'.
    }
    return `cli:${user}@${hostname()}`;
  }

  async graph(): Promise<RevisionGraph> {
    return RevisionGraph.from(await loadMigrations(this.migrationsDir));
  }

  /** The graph, or an empty one when the folder does not exist yet (the first `create`). */
  async graphOrEmpty(): Promise<RevisionGraph> {
    return existsSync(this.migrationsDir) ? this.graph() : RevisionGraph.from([]);
  }

  /** The server (configured, or the embedded one in .rds-migrate/) for `body`; stopped after. */
  async withServer<T>(body: (server: Server) => Promise<T>): Promise<T> {
    const server = await openServer({
      databaseUrl: this.options.databaseUrl,
      env: this.io.env,
      cwd: this.io.cwd,
    });
    try {
      return await body(server);
    } finally {
      await server.stop();
    }
  }

  /** A session on the database for `body`; closed after. */
  async withDatabase<T>(body: (db: Database, target: string) => Promise<T>): Promise<T> {
    return this.withServer(async (server) => {
      const connection = await server.connect();
      try {
        return await body(connection.db, server.target);
      } finally {
        await connection.close();
      }
    });
  }

  print(text: string): void {
    this.io.stdout(`${text}\n`);
  }

  printJson(value: unknown): void {
    this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  async run(intent: Intent, json: boolean): Promise<void> {
    const graph = await this.graph();
    const report = await this.withDatabase((db) =>
      migrate(db, graph, intent, {
        actor: this.actor,
        args: this.args,
        history: this.history,
        lockWaitMs: this.lockWaitMs,
      }),
    );
    if (json) this.printJson(report);
    else this.print(formatRun(report));
  }
}

export function parseContextArgs(pairs: readonly string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`-x ${pair}: write key=value, e.g. -x dev_data=true`);
    args[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return args;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `up --sql` / `down --sql`: the plan's SQL for review; no database is opened. */
async function printOfflineSql(
  s: Session,
  direction: 'up' | 'down',
  range: string | undefined,
): Promise<void> {
  const plan = offlinePlan(await s.graph(), direction, range);
  s.io.stdout(await renderPlanSql(plan, { history: s.history, actor: s.actor, args: s.args }));
}

function example(command: Command, text: string): Command {
  return command.addHelpText('after', `\nExamples:\n${text}`);
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('rds-migrate')
    .description(
      'PostgreSQL schema migrations: apply, revert and inspect the migrations of a folder.\n' +
        'With no DATABASE_URL (or PG* variables) it uses an embedded PostgreSQL in .rds-migrate/.',
    )
    .option('-d, --migrations-dir <dir>', 'folder of migrations', io.env.RDS_MIGRATE_DIR ?? 'migrations')
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
    .version(RELEASE, '-V, --version', 'print the rds-migrate release')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const session = (command: Command) => new Session(io, command.optsWithGlobals() as GlobalOptions);

  example(
    program
      .command('create')
      .description('write a new empty migration on top of the current head')
      .argument('<message...>', 'what the migration does; names the file')
      .option('--ts', 'a TypeScript migration (code, ctx.batch for data) instead of SQL')
      .option('--head <revision>', 'parent to build on when the folder has several heads')
      .action(async (words: string[], options: { ts?: boolean; head?: string }, command: Command) => {
        const s = session(command);
        const created = await createMigration(await s.graphOrEmpty(), {
          directory: s.migrationsDir,
          message: words.join(' '),
          kind: options.ts ? 'ts' : 'sql',
          head: options.head,
        });
        s.print(
          `created ${relative(io.cwd, created.path)} (revision ${created.revision}, on ${revisionList(created.downRevisions)})`,
        );
      }),
    '  $ rds-migrate create "add user profile table"\n  $ rds-migrate create --ts "backfill normalized price"',
  );

  example(
    program
      .command('up')
      .description('apply pending migrations, all in one transaction (split around transaction: false ones)')
      .argument(
        '[target]',
        "revision to stop at, 'head' or 'heads' (every branch); with --sql: [from:]to",
        'head',
      )
      .option(
        '--sql',
        'print the SQL the plan would run (from base unless [from:] says), touching no database',
      )
      .option('--json', 'print the run report as JSON')
      .action(async (target: string, options: { json?: boolean; sql?: boolean }, command: Command) => {
        if (options.sql) return printOfflineSql(session(command), 'up', target);
        await session(command).run({ action: 'upgrade', target }, Boolean(options.json));
      }),
    '  $ rds-migrate up\n  $ rds-migrate up 3f2a  # stop at revision 3f2a…\n  $ rds-migrate up -x dev_data=true\n' +
      '  $ rds-migrate up --sql > plan.sql   # base to head, for review\n  $ rds-migrate up --sql 3f2a:head',
  );

  example(
    program
      .command('down')
      .description('revert the last migration, or down to a revision, or everything (base)')
      .argument('[target]', "revision to go down to, or 'base'; default: one step; with --sql: [from:]to")
      .option(
        '--sql',
        'print the SQL the plan would run (from the head unless [from:] says), touching no database',
      )
      .option('--json', 'print the run report as JSON')
      .action(
        async (target: string | undefined, options: { json?: boolean; sql?: boolean }, command: Command) => {
          if (options.sql) return printOfflineSql(session(command), 'down', target);
          await session(command).run({ action: 'downgrade', target }, Boolean(options.json));
        },
      ),
    '  $ rds-migrate down        # one step\n  $ rds-migrate down 3f2a   # revert what came after 3f2a…\n  $ rds-migrate down base\n' +
      '  $ rds-migrate down --sql head:base   # the SQL of a full rollback, for review',
  );

  example(
    program
      .command('status')
      .description('where the database is, what is pending, drift')
      .option('--json', 'print the status as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const graph = await s.graph();
        await s.withDatabase(async (db, target) => {
          const status = await readStatus(db, graph, s.history);
          if (options.json) s.printJson(status);
          else s.print(formatStatus(status, graph, target));
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
        const state = await s.withDatabase((db) => s.history.read(db));
        if (options.json) s.printJson({ current: state.heads });
        else s.print(revisionList(state.heads));
      }),
    '  $ rds-migrate current',
  );

  example(
    program
      .command('history')
      .description('the migrations, newest first, with what is applied; --verbose adds files and the run log')
      .option('-v, --verbose', 'files, checksums, who applied each and when, and the log')
      .option('--json', 'print as JSON')
      .action(async (options: { verbose?: boolean; json?: boolean }, command: Command) => {
        const s = session(command);
        const graph = await s.graph();
        const { heads, log } = await s.withDatabase(async (db) => ({
          heads: (await s.history.read(db)).heads,
          log: options.verbose || options.json ? await s.history.log(db, 100) : undefined,
        }));
        const entries = historyEntries(graph, heads);
        if (options.json) s.printJson({ current: heads, revisions: entries, log });
        else s.print(formatHistory(entries, log, graph));
      }),
    '  $ rds-migrate history\n  $ rds-migrate history --verbose',
  );

  example(
    program
      .command('show')
      .description('one revision in detail: parents, children, SQL, log')
      .argument('<revision>', "full id, unique prefix, or 'head'")
      .option('--json', 'print as JSON')
      .action(async (spec: string, options: { json?: boolean }, command: Command) => {
        const s = session(command);
        const graph = await s.graph();
        const revision = graph.resolve(spec);
        if (revision === BASE)
          throw new UsageError("'base' is not a revision; name one (rds-migrate history lists them)");
        const { heads, log } = await s.withDatabase(async (db) => ({
          heads: (await s.history.read(db)).heads,
          log: await s.history.log(db, 1000),
        }));
        const details = revisionDetails(graph, revision, heads, log);
        if (options.json) s.printJson(details);
        else s.print(formatDetails(details));
      }),
    '  $ rds-migrate show head\n  $ rds-migrate show 3f2a',
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
        }));
        if (options.json) s.printJson({ heads });
        else if (heads.length === 0) s.print('no migrations yet');
        else {
          for (const head of heads) s.print(`${head.revision} (head)  ${head.message}  ${head.source}`);
          if (heads.length > 1) s.print('several heads: join them with rds-migrate merge -m "merge heads"');
        }
      }),
    '  $ rds-migrate heads',
  );

  example(
    program
      .command('merge')
      .description('write a merge migration whose parents are the given heads (default: all heads)')
      .argument('[revisions...]', 'heads to join')
      .requiredOption('-m, --message <message>', 'what the merge is')
      .action(async (revisions: string[], options: { message: string }, command: Command) => {
        const s = session(command);
        const created = await createMerge(await s.graph(), {
          directory: s.migrationsDir,
          message: options.message,
          revisions,
        });
        s.print(
          `created ${relative(io.cwd, created.path)} (revision ${created.revision}, merging ${created.downRevisions.join(', ')})`,
        );
      }),
    '  $ rds-migrate merge -m "merge heads"',
  );

  example(
    program
      .command('stamp')
      .description('set the current revision without running any migration')
      .argument('<target>', "revision, 'head', 'heads' or 'base'")
      .option('--json', 'print the report as JSON')
      .action(async (target: string, options: { json?: boolean }, command: Command) => {
        await session(command).run({ action: 'stamp', target }, Boolean(options.json));
      }),
    '  $ rds-migrate stamp head   # an existing database whose schema is already there\n  $ rds-migrate stamp base',
  );

  example(
    program
      .command('check')
      .description(
        'everything CI should check before a deploy: graph, drift, the unsafe-change linter, and an ' +
          'up/down/up round trip on a scratch database (created on the server, dropped after)',
      )
      .option('--heads <revisions>', 'comma-separated heads the folder must have (default: exactly one)')
      .option('--static', 'no database at all: graph and lint only (what cdk synth runs)')
      .option('--skip-round-trip', 'no scratch database: graph, lint and drift only')
      .option('--json', 'print the report as JSON (with head and hash)')
      .action(
        async (
          options: { heads?: string; static?: boolean; skipRoundTrip?: boolean; json?: boolean },
          command: Command,
        ) => {
          const s = session(command);
          const report = await checkMigrations({
            migrationsDir: s.migrationsDir,
            cwd: io.cwd,
            heads: options.heads?.split(',').map((head) => head.trim()),
            static: Boolean(options.static),
            skipRoundTrip: Boolean(options.skipRoundTrip),
            server: { databaseUrl: s.options.databaseUrl, env: io.env, cwd: io.cwd },
            history: s.history,
            args: s.args,
            actor: s.actor,
          });
          if (options.json) s.printJson(report);
          else s.print(formatCheck(report));
          if (!report.ok) throw new CheckFailed(report);
        },
      ),
    '  $ rds-migrate check\n  $ rds-migrate check --static --json   # what cdk synth runs\n' +
      '  $ rds-migrate check --heads 3f2a,9c1d   # two heads on purpose\n  $ rds-migrate check -x dev_data=true',
  );

  example(
    program
      .command('doctor')
      .description(
        'can this database be migrated from here: connection, version, privileges, lock, pending, drift',
      )
      .option('--json', 'print the checklist as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const s = session(command);
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
        if (options.json) s.printJson(report);
        else s.print(formatDoctor(report));
        if (!report.ok) throw new DoctorFailed(report);
      }),
    '  $ rds-migrate doctor\n  $ DATABASE_URL=postgres://app@db.internal/app rds-migrate doctor --json',
  );

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
        if (what === 'list') {
          const copies = await s.withServer((server) => listBackups(server.config()));
          if (options.json) s.printJson({ backups: copies });
          else if (copies.length === 0) s.print('no backups yet: rds-migrate backup makes one');
          else
            for (const copy of copies) s.print(`${copy.id}  ${copy.createdAt.toISOString()}  ${copy.state}`);
          return;
        }
        const copy = await s.withServer((server) =>
          backupDatabase(server.config(), { 'rds-migrate:by': s.actor }),
        );
        if (options.json) s.printJson(copy);
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
        const result = await s.withServer((server) => restoreBackup(server.config(), name));
        if (options.json) s.printJson(result);
        else {
          s.print(
            `restored ${result.database} from ${result.restoredFrom}; what it replaced is kept as ${result.previous.id}`,
          );
        }
      }),
    '  $ rds-migrate restore app_20261125103000',
  );

  example(
    program
      .command('invoke')
      .description(
        'ask the deployed function (aws lambda invoke): status, history, show, heads; up, down, stamp',
      )
      .argument('<action>', REMOTE_ACTIONS.join(', '))
      .requiredOption('--function-name <name>', "the function (the stack's FunctionName output)")
      .option('--revision <revision>', 'for show, up, down and stamp')
      .option('--confirm', 'required for up, down and stamp: they change the production database')
      .option('--limit <n>', 'history: how many log rows')
      .option('--json', 'print the answer as JSON')
      .action(async (action: string, options: InvokeOptions, command: Command) => {
        const s = session(command);
        if (!(REMOTE_ACTIONS as readonly string[]).includes(action)) {
          throw new UsageError(`invoke ${action}: the actions are ${REMOTE_ACTIONS.join(', ')}`);
        }
        const args = s.args;
        const answer = await invokeFunction(options.functionName, {
          action: action as RemoteAction,
          ...(options.revision ? { revision: options.revision } : {}),
          ...(options.confirm ? { confirm: true } : {}),
          ...(options.limit ? { limit: Number(options.limit) } : {}),
          ...(Object.keys(args).length > 0 ? { args } : {}),
        });
        if (options.json) s.printJson(answer);
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
      '  $ rds-migrate invoke down --revision 3f2a --confirm --function-name MyApp-DbMigrationsHandler',
  );

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
    io.stderr(`error: ${error.message}\n`);
    return EXIT.locked;
  }
  if (error instanceof UsageError) {
    io.stderr(`error: ${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof GraphError || error instanceof RdsMigrateError) {
    io.stderr(`error: ${error.message}\n`);
    return EXIT.failed;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`error: ${message} (unexpected: run again with NODE_DEBUG=rds-migrate or report it)\n`);
  if (io.env.NODE_DEBUG?.includes('rds-migrate') && error instanceof Error) io.stderr(`${error.stack}\n`);
  return EXIT.failed;
}
