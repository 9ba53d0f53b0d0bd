/** `rds-migrate fleet status`: where every database of a fleet stands, from its connection strings. */
import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import {
  FleetNeedsAttention,
  fleetDatabases,
  fleetProblems,
  formatFleetStatus,
  readFleetStatus,
} from '../fleet-status.ts';
import { type CommandContext, example } from '../session.ts';

interface FleetStatusOptions {
  targets?: string;
  concurrency: string;
  json?: boolean;
}

export function registerFleet(program: Command, { session }: CommandContext): void {
  const fleet = program
    .command('fleet')
    .description(
      'a fleet of databases (a database per tenant, region or shard) on one migrations folder, as FleetMigrations deploys it',
    );
  example(
    fleet
      .command('status')
      .description(
        'per target: its revision, what is pending (behind), revisions this folder lacks (ahead), drift, the last run and ' +
          'background runs; a target that cannot be read is unreachable and the others are still read. Exits 1 when a ' +
          'target is drifted or unreachable (behind and ahead are reported, as status reports pending)',
      )
      .argument(
        '[targets...]',
        'connection strings (postgres://user:password@host:5432/acme), each named by its database, or name=URL',
      )
      .option(
        '--targets <file>',
        'a file of targets, one a line: a URL, or a name and a URL separated by a space (# comments)',
      )
      .option('--concurrency <n>', 'targets read at once', '8')
      .option('--json', 'print the report as JSON')
      .action(async (words: string[], options: FleetStatusOptions, command: Command) => {
        const s = session(command);
        const concurrency = Number(options.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
          throw new UsageError(
            `--concurrency ${options.concurrency}: give a whole number from 1 to 64, e.g. 8`,
          );
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
}
