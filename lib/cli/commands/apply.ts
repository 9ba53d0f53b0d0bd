/** `rds-migrate up`, `down` and `stamp`: the commands that change the database (or print the SQL they would run). */
import type { Command } from 'commander';
import { ALEMBIC_VERSION_TABLE, readAlembicVersion } from '../../engine/alembic-version.ts';
import { RdsMigrateError, UsageError } from '../../engine/errors.ts';
import type { RevisionGraph } from '../../engine/graph.ts';
import type { Revision } from '../../engine/migration.ts';
import { planStamp, type UpgradeTarget } from '../../engine/plan.ts';
import { type CommandContext, example, type Session } from '../session.ts';

// Loaded when --sql runs, not to define the commands: rendering the plan's SQL takes the statement
// splitter and the recorder of TS migrations.
const offlineSql = () => import('../offline-sql.ts');

interface RunCommandOptions {
  json?: boolean;
  quiet?: boolean;
  sql?: boolean;
  ranges?: string;
  concurrency?: string;
}

/** A whole number of at least 1 from an option, or a usage error naming it. */
function count(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new UsageError(`${option} ${value}: give a whole number, e.g. 4`);
  return parsed;
}

/** What --help says of the --sql text: what runs as it is, and what does not. */
const SQL_RUNNABLE =
  "it runs in psql as it is (TS migrations' values written as literals), but what ctx.batch runs per " +
  'batch is commented out: only a real run knows its keys';

const QUIET_HELP = 'print no info lines (ctx.log.info, batch progress) on stderr; warnings still print';

/** What every target argument may be, for --help. */
const TARGET_FORMS =
  "a revision (id, 4+ characters of one, or a branch label), 'head', 'heads', 'base', " +
  '<branch>@<target> (billing@head, billing@base, billing@3f2a), or a step: -1, +2, <rev>+2, head-1, base+2, billing@+1';

/** `up --sql` / `down --sql`: the plan's SQL for review; no database is opened. */
async function printOfflineSql(
  s: Session,
  direction: 'up' | 'down',
  range: string | undefined,
): Promise<void> {
  const { offlinePlan, renderPlanSql } = await offlineSql();
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
        `where to stop: ${TARGET_FORMS}; +N counts from the current revision; with --sql: [from:]to`,
        'head',
      )
      .option(
        '--sql',
        `print the SQL the plan would run (from base unless [from:] says), touching no database; ${SQL_RUNNABLE}`,
      )
      .option('--json', 'print the run report as JSON')
      .option('-q, --quiet', QUIET_HELP)
      .option(
        '--ranges <n>',
        'background migrations: key ranges each is split into, as the deployed state machine does (default 8)',
      )
      .option(
        '--concurrency <n>',
        'background migrations: worker connections walking the ranges at once (default 4)',
      )
      .action(async (target: string, options: RunCommandOptions, command: Command) => {
        if (options.sql) return printOfflineSql(session(command), 'up', target);
        await session(command).run(
          { action: 'upgrade', target },
          {
            ...options,
            ranges: count(options.ranges, '--ranges'),
            concurrency: count(options.concurrency, '--concurrency'),
          },
        );
      }),
    '  $ rds-migrate up\n  $ rds-migrate up 3f2a  # stop at revision 3f2a…\n  $ rds-migrate up -x dev_data=true\n' +
      '  $ rds-migrate up +1            # the next migration only\n' +
      '  $ rds-migrate up 3f2a+2        # two past 3f2a…\n' +
      '  $ rds-migrate up head-1        # all but the last\n' +
      '  $ rds-migrate up billing@head  # the head of the branch labelled billing (heads: every branch)\n' +
      '  $ rds-migrate up billing@+1    # one step along the billing branch\n' +
      '  $ rds-migrate up --json --quiet > report.json   # ctx.log lines go to stderr; --quiet keeps warnings only\n' +
      '  $ rds-migrate up --sql > plan.sql   # base to head, for review\n' +
      '  $ psql -v ON_ERROR_STOP=1 -f plan.sql "$DATABASE_URL"   # run it by hand (a DBA, a change window)\n' +
      '  $ rds-migrate up --sql 3f2a:head\n  $ rds-migrate up --sql 3f2a:+2   # two steps past 3f2a…\n' +
      '  $ rds-migrate up --ranges 16 --concurrency 8   # background migrations: 16 key ranges, 8 worker connections',
  );

  example(
    program
      .command('down')
      .description('revert the last migration, or down to a revision, or everything (base)')
      .argument(
        '[target]',
        `what to go down to (it stays applied): ${TARGET_FORMS}; -N counts from the current revision; default: one step; ` +
          'with --sql: [from:]to',
      )
      .option(
        '--sql',
        `print the SQL the plan would run (from the head unless [from:] says), touching no database; ${SQL_RUNNABLE}`,
      )
      .option('--json', 'print the run report as JSON')
      .option('-q, --quiet', QUIET_HELP)
      .action(async (target: string | undefined, options: RunCommandOptions, command: Command) => {
        if (options.sql) return printOfflineSql(session(command), 'down', target);
        await session(command).run(
          { action: 'downgrade', target },
          { json: options.json, quiet: options.quiet },
        );
      }),
    '  $ rds-migrate down        # one step\n  $ rds-migrate down 3f2a   # revert what came after 3f2a…\n  $ rds-migrate down base\n' +
      '  $ rds-migrate down -2             # two steps (with several heads: billing@-2 or <head>-2)\n' +
      '  $ rds-migrate down billing@3f2a   # only the billing branch, down to the shared 3f2a…\n' +
      '  $ rds-migrate down billing@base   # the whole billing branch (its base: in a one-root tree, everything)\n' +
      '  $ rds-migrate down base+2         # keep the first two migrations\n' +
      '  $ rds-migrate down --sql head:base   # the SQL of a full rollback, for review\n' +
      '  $ rds-migrate down --sql head:-1     # the SQL of the last step back',
  );

  example(
    program
      .command('stamp')
      .description('set the current revision(s) without running any migration')
      .argument(
        '[targets...]',
        `${TARGET_FORMS}; a branch-qualified target (billing@head, billing@base) moves that branch only; ` +
          'several: one per branch',
      )
      .option(
        '--purge',
        'forget every current revision first, those no file in the folder has included (a deleted migration, ' +
          "another branch's), then record the target; the schema is left as it is. Asks first at a terminal",
      )
      .option('-y, --yes', 'with --purge: do not ask (what a script or CI passes)')
      .option(
        '--from-alembic [table]',
        `stamp the revision(s) Alembic's version table lists (default ${ALEMBIC_VERSION_TABLE}; <schema>.<table> ` +
          "when Alembic's env.py sets version_table_schema): each must be a migration here, with the same id",
      )
      .option('--json', 'print the report as JSON')
      .action(async (targets: string[], options: StampOptions, command: Command) => {
        const s = session(command);
        if (options.yes && !options.purge)
          throw new UsageError('--yes goes with --purge, the stamp that asks');
        if (options.fromAlembic === undefined) {
          if (targets.length === 0)
            throw new UsageError("stamp needs a target (a revision, 'head', 'base'), or --from-alembic");
          const target = targets.length === 1 ? (targets[0] as string) : targets;
          if (options.purge) return stampPurge(s, target, options);
          return s.run({ action: 'stamp', target }, options);
        }
        if (targets.length > 0)
          throw new UsageError(
            `stamp takes a target or --from-alembic, not both (got '${targets.join(' ')}')`,
          );
        if (options.purge) throw new UsageError('--purge takes a target, not --from-alembic');
        await stampFromAlembic(
          s,
          options.fromAlembic === true ? ALEMBIC_VERSION_TABLE : options.fromAlembic,
          options,
        );
      }),
    '  $ rds-migrate stamp head   # an existing database whose schema is already there\n  $ rds-migrate stamp base\n' +
      '  $ rds-migrate stamp billing@head   # the billing branch as applied, the others as they are\n' +
      '  $ rds-migrate stamp --purge 3f2a   # the database is at a revision whose file is gone (deleted, or on\n' +
      '                                     # another git branch): forget it, record 3f2a…, then rds-migrate up\n' +
      '  $ rds-migrate stamp --purge 3f2a --yes   # the same without asking (scripts, CI)\n' +
      '  $ rds-migrate stamp --from-alembic # take over from Alembic: stamp what alembic_version lists\n' +
      '  $ rds-migrate stamp --from-alembic app.alembic_version',
  );
}

interface StampOptions {
  json?: boolean;
  fromAlembic?: string | true;
  purge?: boolean;
  yes?: boolean;
}

/**
 * `stamp --purge`: says what it will forget and record and asks, unless --yes; without a
 * terminal to ask on, --yes is required. The run itself recomputes all of it under the lock.
 */
async function stampPurge(s: Session, target: UpgradeTarget, options: StampOptions): Promise<void> {
  if (!options.yes) {
    const confirm = s.io.confirm;
    if (!confirm) {
      throw new UsageError(
        'stamp --purge rewrites the recorded revisions and there is no terminal to ask on: add --yes ' +
          '(rds-migrate status shows what the database is at)',
      );
    }
    const graph = await s.graph();
    const question = await s.withDatabase(async (db, where) => {
      const state = await s.history.read(db);
      const plan = planStamp(graph, state.heads, target, { purge: true });
      return purgeQuestion(graph, state.heads, plan.to, where, s.recovery.migrations);
    });
    if (!(await confirm(question)))
      throw new RdsMigrateError('stamp --purge was not confirmed: nothing was changed');
  }
  await s.run({ action: 'stamp', target, purge: true }, options);
}

/** What a purge will do, as a question: which revisions go (the unknown ones said so), which are recorded. */
function purgeQuestion(
  graph: RevisionGraph,
  heads: readonly Revision[],
  to: readonly Revision[],
  where: string,
  folder: string,
): string {
  const forgets = heads.map((revision) =>
    graph.has(revision) ? revision : `${revision} (no file in ${folder} has it)`,
  );
  return (
    `stamp --purge on ${where}: forget ${forgets.join(', ') || 'nothing (the database is at base)'}, ` +
    `record ${to.join(', ') || 'base'}; no SQL runs, the schema is left as it is. Go on?`
  );
}

/**
 * `stamp --from-alembic`: the revisions Alembic's version table lists (its heads; none is base),
 * stamped as they are. The table is left alone: Alembic may still run against this database.
 */
async function stampFromAlembic(s: Session, table: string, options: { json?: boolean }): Promise<void> {
  const graph = await s.graph();
  const revisions = await s.withDatabase((db) => readAlembicVersion(db, graph, table));
  s.io.stderr(
    `info: ${table} lists ${revisions.join(', ') || 'nothing (base)'}; it is left as it is, drop it once Alembic no longer runs here\n`,
  );
  await s.run({ action: 'stamp', target: revisions.length > 0 ? revisions : 'base' }, options);
}
