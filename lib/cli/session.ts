/**
 * What every command shares: the io the CLI writes to, the global options as a `Session` (the
 * migrations folder, the history, the context arguments, the database or embedded server), the
 * exit codes, and the helper that adds examples to a command's --help.
 */
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { LocalRunReport } from '../engine/background-local.ts';
import type { Database } from '../engine/database.ts';
import { RdsMigrateError, UsageError } from '../engine/errors.ts';
import { RevisionGraph } from '../engine/graph.ts';
import { History } from '../engine/history.ts';
import { loadMigrations } from '../engine/loader.ts';
import type { Intent } from '../engine/runner.ts';
import { cliRecovery, type RecoveryWords } from '../engine/unknown-revisions.ts';
import type { Server, ServerOptions } from '../local/server.ts';
import { DEFAULT_MIGRATIONS_DIR } from './cli-defaults.ts';
import type { JsonOutputName, JsonOutputs } from './json-output.ts';
import { stderrLogger } from './run-log.ts';

export { DEFAULT_MIGRATIONS_DIR, EXIT } from './cli-defaults.ts';

/**
 * The embedded server this command started shut down under it: Ctrl-C reaches the server as well
 * as the CLI (they share the terminal's process group), and PostgreSQL ends every session with
 * 57P01. Said as what happened, not as a lost connection.
 */
class EmbeddedServerStopped extends RdsMigrateError {
  override readonly name = 'EmbeddedServerStopped';
  constructor() {
    super(
      'interrupted: the embedded PostgreSQL stopped while the command ran (Ctrl-C stops it too). What had not ' +
        'committed rolled back with it: nothing of the transaction or batch in flight was applied; what ' +
        'committed before it stays. Run rds-migrate status to see where the database is, then run the ' +
        'command again to go on.',
    );
  }
}

/** A session ended by the server shutting down (SQLSTATE 57P01, admin_shutdown). */
function stoppedUnderneath(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    code === '57P01' ||
    (typeof message === 'string' &&
      /\b57P01\b|terminating connection due to administrator command/.test(message))
  );
}

export interface CliIo {
  /** True when standard output is a terminal: drawings may use box characters and colour. */
  readonly stdoutIsTerminal?: boolean;
  /** True when standard error is a terminal: progress is a bar redrawn in place, not lines. */
  readonly stderrIsTerminal?: boolean;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /**
   * Asks a yes/no question of the person at the terminal (stdin and stderr both terminals);
   * absent when there is none, so a command that needs an answer wants --yes instead.
   */
  readonly confirm?: (question: string) => Promise<boolean>;
}

export interface GlobalOptions {
  migrationsDir: string;
  databaseUrl?: string;
  schema: string;
  x: string[];
  lockWait: string;
  lockRetries: string;
}

export class Session {
  constructor(
    readonly io: CliIo,
    readonly options: GlobalOptions,
  ) {}

  get migrationsDir(): string {
    return resolve(this.io.cwd, this.options.migrationsDir);
  }

  /** How messages name this folder, and the purge that recovers from a revision it lacks. */
  get recovery(): RecoveryWords {
    const typed = this.options.migrationsDir;
    const folder = typed.endsWith('/') ? typed : `${typed}/`;
    return cliRecovery(folder, typed === DEFAULT_MIGRATIONS_DIR ? '' : ` -d ${typed}`);
  }

  get history(): History {
    return new History(this.options.schema);
  }

  get args(): Record<string, string> {
    return parseContextArgs(this.options.x);
  }

  get lockRetries(): number {
    const retries = Number(this.options.lockRetries);
    if (!Number.isInteger(retries) || retries < 0)
      throw new UsageError(
        `--lock-retries ${this.options.lockRetries}: give a whole number, e.g. 4 (0: no retries)`,
      );
    return retries;
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

  /**
   * The server (configured, or the embedded one in .rds-migrate/) for `body`; stopped after. What
   * it warns of (another major than the project pins) goes to stderr first.
   */
  async withServer<T>(body: (server: Server) => Promise<T>): Promise<T> {
    // Loaded here, as the run's modules below: a command that reads only files never loads them.
    const { openServer } = await import('../local/server.ts');
    const server = await openServer(this.serverOptions);
    for (const warning of server.warnings) this.io.stderr(`warning: ${warning}\n`);
    try {
      return await body(server);
    } catch (error) {
      throw server.embedded && stoppedUnderneath(error) ? new EmbeddedServerStopped() : error;
    } finally {
      await server.stop();
    }
  }

  private get serverOptions(): ServerOptions {
    return { databaseUrl: this.options.databaseUrl, env: this.io.env, cwd: this.io.cwd };
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

  /** A command's `--json`: `name` says which schema in schemas/ the output keeps to. */
  printJson<Name extends JsonOutputName>(_name: Name, value: JsonOutputs[Name]): void {
    this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Runs `intent`; what migrations log goes to stderr as it happens, the report to stdout at the end. */
  async run(intent: Intent, output: RunOutput): Promise<void> {
    const [{ migrate }, { reviewBeforeRun }, { formatRun }, { formatBackgroundRuns }] = await Promise.all([
      import('../engine/runner.ts'),
      import('./plan-review.ts'),
      import('./report.ts'),
      import('./background-progress.ts'),
    ]);
    const graph = await this.graph();
    const log = stderrLogger(this.io.stderr, { quiet: output.quiet });
    const upgrade = intent.action === 'upgrade';
    const { report, background } = await this.withServer(async (server) => {
      // A run an earlier `up` left unfinished goes first: the plan may need it complete.
      const before = upgrade ? await this.runBackground(server, graph, output) : [];
      const connection = await server.connect();
      const report = await migrate(connection.db, graph, intent, {
        actor: this.actor,
        args: this.args,
        history: this.history,
        lockWaitMs: this.lockWaitMs,
        lockRetries: this.lockRetries,
        log,
        recovery: this.recovery,
        beforeRun: reviewBeforeRun({
          graph,
          migrationsDir: this.migrationsDir,
          cwd: this.io.cwd,
          args: this.args,
          write: this.io.stderr,
        }),
      }).finally(() => connection.close());
      // `up` walks the background migrations waiting for a runner, in-process, after its plan.
      const after = upgrade ? await this.runBackground(server, graph, output) : [];
      return { report, background: [...before, ...after] };
    });
    if (output.json) this.printJson('run', report);
    else this.print(formatRun(report));
    if (background.length > 0)
      (output.json ? this.io.stderr : this.io.stdout)(`${formatBackgroundRuns(background)}\n`);
    const unfinished = background.find((run) => !run.completed);
    if (unfinished) {
      throw new RdsMigrateError(
        `background migration ${unfinished.revision} did not complete (${unfinished.reason ?? 'stopped'}); run rds-migrate up again to go on from its checkpoints`,
      );
    }
  }

  /** The background runs waiting for a runner, walked with worker connections, progress on stderr. */
  private async runBackground(
    server: Server,
    graph: RevisionGraph,
    output: RunOutput,
  ): Promise<LocalRunReport[]> {
    // Its defaults too are read here: background.ts loads the range walker and the runs' SQL,
    // which only `up` needs.
    const [
      { DEFAULT_CONCURRENCY, DEFAULT_RANGES },
      { runBackgroundLocally },
      { progressView, resumeCommand, sayHowToResumeOnInterrupt },
    ] = await Promise.all([
      import('../engine/background.ts'),
      import('../engine/background-local.ts'),
      import('./background-progress.ts'),
    ]);
    const resume = resumeCommand({
      ...this.options,
      defaultMigrationsDir: DEFAULT_MIGRATIONS_DIR,
      ...output,
    });
    const view = progressView(this.io.stderr, this.io.stderrIsTerminal === true && !output.quiet, resume);
    const stopListening = sayHowToResumeOnInterrupt(view);
    try {
      return await runBackgroundLocally({
        connect: () => server.connect(),
        history: this.history,
        graph,
        args: this.args,
        // Through the view: a log line never lands on the progress bar's line.
        log: stderrLogger(view.write, { quiet: output.quiet }),
        ranges: output.ranges ?? DEFAULT_RANGES,
        concurrency: output.concurrency ?? DEFAULT_CONCURRENCY,
        actor: this.actor,
        ...(output.quiet ? {} : { onProgress: view.show }),
      });
    } finally {
      stopListening();
      view.end();
    }
  }
}

/** How `run` reports: the report as JSON or text; `quiet` drops the migrations' info lines. */
interface RunOutput {
  readonly json?: boolean;
  readonly quiet?: boolean;
  /** Key ranges of a background migration walked in-process (`up --ranges`). @default 8 */
  readonly ranges?: number;
  /** Worker connections walking them (`up --concurrency`). @default 4 */
  readonly concurrency?: number;
}

function parseContextArgs(pairs: readonly string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`-x ${pair}: write key=value, e.g. -x dev_data=true`);
    args[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return args;
}

export function example(command: Command, text: string): Command {
  return command.addHelpText('after', `\nExamples:\n${text}`);
}

/** What a command module gets to define its command: the io, and the session of a parsed command. */
export interface CommandContext {
  readonly io: CliIo;
  session(command: Command): Session;
}
