/**
 * `rds-migrate fleet status`: where every database of a fleet stands, from its connection strings;
 * `rds-migrate fleet check`: check once for what any of them would run.
 */
import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import { type CommandContext, example } from '../session.ts';
import { checkFormat, printCheckReport } from './check.ts';

// Loaded when a command runs, not to define them: pg and the status reader; check's linter and schema tools.
const fleetStatus = () => import('../fleet-status.ts');
const checks = () => import('../../check/check.ts');

interface FleetStatusOptions {
  targets?: string;
  concurrency: string;
  json?: boolean;
}

interface FleetCheckOptions {
  targets?: string;
  concurrency: string;
  json?: boolean;
  format?: string;
}

const TARGETS_ARGUMENT =
  'connection strings (postgres://user:password@host:5432/acme), each named by its database, or name=URL';
const TARGETS_FILE =
  'a file of targets, one a line: a URL, or a name and a URL separated by a space (# comments)';

function concurrencyOf(option: string): number {
  const concurrency = Number(option);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new UsageError(`--concurrency ${option}: give a whole number from 1 to 64, e.g. 8`);
  return concurrency;
}

export function registerFleet(program: Command, { io, session }: CommandContext): void {
  const fleet = program
    .command('fleet')
    .description(
      'a fleet of databases (a database per tenant, region or shard) on one migrations folder, as FleetMigrations deploys it',
    );
  example(
    fleet
      .command('status')
      .summary('where every database of the fleet stands: behind, ahead, drifted, unreachable')
      .description(
        'per target: its revision, what is pending (behind), revisions this folder lacks (ahead), drift, the last run and ' +
          'background runs; a target that cannot be read is unreachable and the others are still read. Exits 1 when a ' +
          'target is drifted or unreachable (behind and ahead are reported, as status reports pending)',
      )
      .argument('[targets...]', TARGETS_ARGUMENT)
      .option('--targets <file>', TARGETS_FILE)
      .option('--concurrency <n>', 'targets read at once', '8')
      .option('--json', 'print the report as JSON')
      .action(async (words: string[], options: FleetStatusOptions, command: Command) => {
        const s = session(command);
        const concurrency = concurrencyOf(options.concurrency);
        const { FleetNeedsAttention, fleetDatabases, fleetProblems, formatFleetStatus, readFleetStatus } =
          await fleetStatus();
        const targets = await fleetDatabases(words, options.targets);
        const report = await readFleetStatus(targets, await s.graph(), s.history, concurrency);
        if (options.json) s.printJson('fleet-status', report);
        else s.print(formatFleetStatus(report));
        // Printed first, so every target's row is seen; then a drifted or unreachable one fails the command.
        const problems = fleetProblems(report);
        if (problems) throw new FleetNeedsAttention(problems);
      }),
    [
      '  $ rds-migrate fleet status postgres://app@tenants-1/acme postgres://app@tenants-1/globex',
      '  $ rds-migrate fleet status eu=postgres://app@eu-db/app us=postgres://app@us-db/app --json | jq .behind',
      '  $ rds-migrate fleet status --targets fleet.txt     # lines: "acme postgres://app:pw@tenants-1/acme"',
      '',
      'Passwords can come from ~/.pgpass or PGPASSWORD instead of the URLs; a URL may set connect_timeout=<seconds>.',
      'Exit codes: 0 every target read and none drifted; 1 a target drifted or unreachable; 2 usage.',
    ].join('\n'),
  );
  example(
    fleet
      .command('check')
      .summary('check once what any database of the fleet would run (lint, round trip, drift)')
      .description(
        "check once for the fleet's bundle: reads every target's current revisions, then lints and round-trips " +
          'every migration some target has not applied (the round trip starts from what every target has, so each ' +
          "target's pending plan is covered); the graph and the wanted schema cover the whole folder, drift is checked " +
          'on every target. Prints the targets grouped by revision, naming those behind, ahead and unreachable. The ' +
          'scratch database of the round trip is made on the configured server (DATABASE_URL, else the embedded ' +
          'one), never on a target. Exits 1 on any problem, a target ahead, drifted or unreachable included',
      )
      .argument('[targets...]', TARGETS_ARGUMENT)
      .option('--targets <file>', TARGETS_FILE)
      .option('--concurrency <n>', 'targets read at once', '8')
      .option(
        '--json',
        'print the report as JSON (the scope holds the targets by revision); the same as --format json',
      )
      .option(
        '--format <format>',
        "text (default), json, github (annotations on the pull request's lines) or sarif, as check's",
      )
      .action(async (words: string[], options: FleetCheckOptions, command: Command) => {
        const s = session(command);
        const format = checkFormat(options);
        const concurrency = concurrencyOf(options.concurrency);
        const [{ fleetDatabases }, { checkMigrations }] = await Promise.all([fleetStatus(), checks()]);
        const targets = await fleetDatabases(words, options.targets, 'fleet check');
        const report = await checkMigrations({
          migrationsDir: s.migrationsDir,
          cwd: io.cwd,
          server: { databaseUrl: s.options.databaseUrl, env: io.env, cwd: io.cwd },
          history: s.history,
          args: s.args,
          actor: s.actor,
          scope: { fleet: targets, concurrency },
        });
        await printCheckReport(s, report, format);
      }),
    [
      '  $ rds-migrate fleet check postgres://app@tenants-1/acme postgres://app@tenants-1/globex',
      '  $ rds-migrate fleet check --targets fleet.txt     # lines: "acme postgres://app:pw@tenants-1/acme"',
      '  $ rds-migrate fleet check --targets fleet.txt --json | jq .scope.fleet.behind',
      '  $ DATABASE_URL=postgres://ci@scratch-db/postgres rds-migrate fleet check --targets fleet.txt   # round trip there',
      '  $ rds-migrate fleet check --targets fleet.txt --format github   # in GitHub Actions',
      '',
      'One check, not one per target: the scope is the union of what each target would run. With no target read,',
      'the whole folder is in scope. Passwords can come from ~/.pgpass or PGPASSWORD instead of the URLs.',
      'Exit codes: 0 clean; 1 a problem (lint, round trip, drift, a target ahead or unreachable); 2 usage.',
    ].join('\n'),
  );
}
