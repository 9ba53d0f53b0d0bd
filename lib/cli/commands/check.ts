/** `rds-migrate check`: everything CI should check before a deploy. */
import type { Command } from 'commander';
import {
  CHECK_FORMATS,
  CheckFailed,
  type CheckFormat,
  type CheckReport,
  formatCheck,
} from '../../check/check-report.ts';
import { UsageError } from '../../engine/errors.ts';
import { parsePgVersion } from '../../lint/model/pg-version.ts';
import { type CommandContext, example, type Session } from '../session.ts';

// Loaded when a check runs, not to define the command: they bring the linter (every rule) and the
// schema tools.
const checks = () => import('../../check/check.ts');
const reportFormats = () => import('../../check/report-formats.ts');

export function registerCheck(program: Command, { io, session }: CommandContext): void {
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
      .option(
        '--pending',
        'lint and round-trip only the migrations not yet applied on the configured database (graph and drift still cover all)',
      )
      .option(
        '--since <git-ref>',
        'lint and round-trip only the migrations added or changed since this branch left <git-ref>, e.g. origin/main (for pull requests)',
      )
      .option('--json', 'print the report as JSON (with head and hash); the same as --format json')
      .option(
        '--format <format>',
        "text (default), json, github (annotations on the pull request's lines, for GitHub Actions) or " +
          'sarif (SARIF 2.1.0 for code scanning: rds-migrate check --format sarif > check.sarif)',
      )
      .option(
        '--pg-version <version>',
        "PostgreSQL major version whose lock and rewrite rules the linter applies, e.g. 16 (default: the server's; 16 with --static)",
      )
      .option(
        '--rehearse <database-url>',
        'also run the pending plan (what up would run there) on a COPY of that database, with its rows, then ' +
          'revert it, and report what was measured: time, rows, locks and waits per statement, tables rewritten, ' +
          'the statement and row that failed, whether the down steps restored the schema. The copy is made with ' +
          'CREATE DATABASE ... TEMPLATE on the same server (no other session may be connected to the database) ' +
          'and dropped after; the database itself is never written',
      )
      .option(
        '--rehearse-on-copy',
        'with --rehearse: the URL is already a copy (an RDS snapshot you restored): rehearse on it in place, ' +
          'mark it as a copy, and leave it at its starting revision',
      )
      .option(
        '--wanted-schema <source>',
        "the schema the app wants, compared with head's: a folder of SQL files or drizzle:<models file> " +
          '(default: "wantedSchema" of rds-migrate.config.json, else schema/ when it exists)',
      )
      .action(
        async (
          options: {
            heads?: string;
            static?: boolean;
            skipRoundTrip?: boolean;
            json?: boolean;
            format?: string;
            pending?: boolean;
            since?: string;
            pgVersion?: string;
            wantedSchema?: string;
            rehearse?: string;
            rehearseOnCopy?: boolean;
          },
          command: Command,
        ) => {
          const s = session(command);
          const format = checkFormat(options);
          if (options.pending && options.since !== undefined) {
            throw new UsageError('check --pending and --since choose the scope two ways: give one of them');
          }
          if (options.pending && options.static) {
            throw new UsageError(
              'check --pending reads what the database has applied: it cannot be --static (use --since <git-ref> there)',
            );
          }
          if (options.rehearseOnCopy && options.rehearse === undefined) {
            throw new UsageError(
              'check --rehearse-on-copy says the --rehearse URL is a copy: give --rehearse <database-url> too',
            );
          }
          const { checkMigrations } = await checks();
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
            pgVersion: options.pgVersion === undefined ? undefined : parsePgVersion(options.pgVersion),
            wantedSchema: options.wantedSchema,
            ...(options.rehearse === undefined
              ? {}
              : {
                  rehearse: {
                    url: options.rehearse,
                    onCopy: Boolean(options.rehearseOnCopy),
                    lockRetries: s.lockRetries,
                  },
                }),
            scope: options.pending
              ? { pending: true }
              : options.since !== undefined
                ? { since: options.since }
                : undefined,
          });
          await printCheckReport(s, report, format);
        },
      ),
    '  $ rds-migrate check\n  $ rds-migrate check --static --json   # what cdk synth runs\n' +
      '  $ rds-migrate check --heads 3f2a,9c1d   # two heads on purpose\n  $ rds-migrate check -x dev_data=true\n' +
      '  $ rds-migrate check --static --pg-version 15   # lock rules of the server you deploy to\n' +
      '  $ rds-migrate check --wanted-schema drizzle:src/db/schema.ts   # head must match the models\n' +
      '  $ rds-migrate check --pending   # only what the next up would run on DATABASE_URL\n' +
      '  $ rds-migrate fleet check --targets fleet.txt   # the same for many databases, checked once\n' +
      '  $ rds-migrate check --since origin/main   # only migrations this branch adds or changes\n' +
      "  $ rds-migrate check --format github   # in GitHub Actions: findings on the pull request's lines\n" +
      '  $ rds-migrate check --format sarif > check.sarif   # for github/codeql-action/upload-sarif\n' +
      '  $ rds-migrate check --static --rehearse postgres://me@staging:5432/app   # the plan on a copy of its data\n' +
      '  $ rds-migrate check --static --rehearse "$RESTORED_URL" --rehearse-on-copy   # on a restored RDS snapshot',
  );
}

/** Prints a check's report in the format asked for, then fails the command when it found problems. */
export async function printCheckReport(s: Session, report: CheckReport, format: CheckFormat): Promise<void> {
  // In a workflow the files are named from the checkout, wherever in it the app lives.
  const where = { cwd: s.io.cwd, root: s.io.env.GITHUB_WORKSPACE || s.io.cwd };
  if (format === 'json') s.printJson('check', report);
  else if (format === 'github') s.print((await reportFormats()).formatGithub(report, where));
  else if (format === 'sarif') s.print((await reportFormats()).formatSarif(report, where));
  else s.print(formatCheck(report));
  if (!report.ok) throw new CheckFailed(report);
}

/** `--json` or `--format`: refused when they disagree. */
export function checkFormat(options: { json?: boolean; format?: string }): CheckFormat {
  const format = options.format ?? (options.json ? 'json' : 'text');
  if (!(CHECK_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`check --format ${format}: the formats are ${CHECK_FORMATS.join(', ')}`);
  }
  if (options.json && format !== 'json') {
    throw new UsageError(`check --json and --format ${format} disagree: give one of them`);
  }
  return format as CheckFormat;
}
