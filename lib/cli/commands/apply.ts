/** `rds-migrate up`, `down` and `stamp`: the commands that change the database (or print the SQL they would run). */
import type { Command } from 'commander';
import { offlinePlan, renderPlanSql } from '../offline-sql.ts';
import { type CommandContext, example, type Session } from '../session.ts';

interface RunCommandOptions {
  json?: boolean;
  quiet?: boolean;
  sql?: boolean;
}

/** What --help says of the --sql text: what runs as it is, and what does not. */
const SQL_RUNNABLE =
  "it runs in psql as it is (TS migrations' values written as literals), but what ctx.batch runs per " +
  'batch is commented out: only a real run knows its keys';

const QUIET_HELP = 'print no info lines (ctx.log.info, batch progress) on stderr; warnings still print';

/** `up --sql` / `down --sql`: the plan's SQL for review; no database is opened. */
async function printOfflineSql(
  s: Session,
  direction: 'up' | 'down',
  range: string | undefined,
): Promise<void> {
  const plan = offlinePlan(await s.graph(), direction, range);
  s.io.stdout(await renderPlanSql(plan, { history: s.history, actor: s.actor, args: s.args }));
}

export function registerApply(program: Command, { session }: CommandContext): void {
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
        `print the SQL the plan would run (from base unless [from:] says), touching no database; ${SQL_RUNNABLE}`,
      )
      .option('--json', 'print the run report as JSON')
      .option('-q, --quiet', QUIET_HELP)
      .action(async (target: string, options: RunCommandOptions, command: Command) => {
        if (options.sql) return printOfflineSql(session(command), 'up', target);
        await session(command).run({ action: 'upgrade', target }, options);
      }),
    '  $ rds-migrate up\n  $ rds-migrate up 3f2a  # stop at revision 3f2a…\n  $ rds-migrate up -x dev_data=true\n' +
      '  $ rds-migrate up --json --quiet > report.json   # ctx.log lines go to stderr; --quiet keeps warnings only\n' +
      '  $ rds-migrate up --sql > plan.sql   # base to head, for review\n' +
      '  $ psql -v ON_ERROR_STOP=1 -f plan.sql "$DATABASE_URL"   # run it by hand (a DBA, a change window)\n' +
      '  $ rds-migrate up --sql 3f2a:head',
  );

  example(
    program
      .command('down')
      .description('revert the last migration, or down to a revision, or everything (base)')
      .argument('[target]', "revision to go down to, or 'base'; default: one step; with --sql: [from:]to")
      .option(
        '--sql',
        `print the SQL the plan would run (from the head unless [from:] says), touching no database; ${SQL_RUNNABLE}`,
      )
      .option('--json', 'print the run report as JSON')
      .option('-q, --quiet', QUIET_HELP)
      .action(async (target: string | undefined, options: RunCommandOptions, command: Command) => {
        if (options.sql) return printOfflineSql(session(command), 'down', target);
        await session(command).run({ action: 'downgrade', target }, options);
      }),
    '  $ rds-migrate down        # one step\n  $ rds-migrate down 3f2a   # revert what came after 3f2a…\n  $ rds-migrate down base\n' +
      '  $ rds-migrate down --sql head:base   # the SQL of a full rollback, for review',
  );

  example(
    program
      .command('stamp')
      .description('set the current revision without running any migration')
      .argument('<target>', "revision, 'head', 'heads' or 'base'")
      .option('--json', 'print the report as JSON')
      .action(async (target: string, options: { json?: boolean }, command: Command) => {
        await session(command).run({ action: 'stamp', target }, options);
      }),
    '  $ rds-migrate stamp head   # an existing database whose schema is already there\n  $ rds-migrate stamp base',
  );
}
