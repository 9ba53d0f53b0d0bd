/**
 * The checks that need a server: drift of applied files, the round trip of every migration on a
 * scratch database, and the schema the migrations build against the wanted one.
 */
import { counted } from '../engine/counted.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { History } from '../engine/history.ts';
import type { Revision } from '../engine/migration.ts';
import { findDrift } from '../engine/runner.ts';
import type { Server } from '../local/server.ts';
import { type RoundTripReport, roundTrip } from '../schema/round-trip.ts';
import { checkSchemaAgreement, inspectHead } from '../schema/schema-agreement.ts';
import type { SchemaInspection } from '../schema/schema-diff.ts';
import { withScratchDatabase } from '../schema/scratch-database.ts';
import { findWantedSchema, type WantedSchema } from '../schema/wanted-schema.ts';
import type { CheckOptions, CheckProblem, CheckSection, OpenedServer } from './check-report.ts';
import { type CheckScope, roundTripPrefix } from './check-scope.ts';

// With a database: drift against the user's database, the round trip on a scratch one.

interface DatabaseChecks {
  readonly drift: CheckSection;
  readonly roundTrip: CheckSection;
  readonly wantedSchema: CheckSection;
  readonly problems: CheckProblem[];
  readonly warnings: string[];
  readonly driftMs: number;
  readonly roundTripMs: number;
  readonly wantedSchemaMs: number;
}

export async function databaseChecks(
  options: CheckOptions,
  opened: OpenedServer | undefined,
  graph: RevisionGraph | undefined,
  expectedHeads: readonly Revision[] | undefined,
  history: History,
  args: Readonly<Record<string, string>>,
  fileOf: (source: string) => string,
  scope: CheckScope | undefined,
): Promise<DatabaseChecks> {
  const problems: CheckProblem[] = [];
  const warnings: string[] = [];
  const skipped = (summary: string): CheckSection => ({ status: 'skipped', summary });
  if (!graph || graph.size === 0) {
    const reason = skipped('the migrations do not form a usable graph yet');
    return {
      drift: reason,
      roundTrip: reason,
      wantedSchema: reason,
      problems,
      warnings,
      driftMs: 0,
      roundTripMs: 0,
      wantedSchemaMs: 0,
    };
  }
  const server = opened?.server;
  if (!server) {
    const message = opened?.error ?? 'no server';
    const roundTripSection = options.skipRoundTrip
      ? skipped('--skip-round-trip')
      : unavailable(problems, message);
    return {
      drift: skipped(`no database: ${message}`),
      roundTrip: roundTripSection,
      wantedSchema: skipped(`needs a database: ${message}`),
      problems,
      warnings,
      driftMs: 0,
      roundTripMs: 0,
      wantedSchemaMs: 0,
    };
  }
  let started = performance.now();
  // A fleet's drift is read on its targets with the scope (fleet-scope.ts).
  const drift =
    scope?.kind === 'fleet'
      ? skipped('on the fleet: see above')
      : await checkDrift(server, graph, history, fileOf, problems);
  const driftMs = Math.round(performance.now() - started);
  started = performance.now();
  let roundTripSection = skipped('--skip-round-trip');
  const wanted = await findWantedSchema({
    option: options.wantedSchema,
    cwd: options.cwd ?? process.cwd(),
  }).catch((error: unknown) => {
    if (!(error instanceof RdsMigrateError)) throw error;
    problems.push({ kind: 'wanted-schema', rule: 'wanted-schema-unreadable', message: error.message });
    return undefined;
  });
  // The trip ends at the heads: head's schema is read there for the wanted schema's comparison.
  let head: SchemaInspection | undefined;
  const scoped = scope && scope.kind !== 'all' ? scope : undefined;
  if (scoped && scoped.revisions.length === 0 && !options.skipRoundTrip) {
    roundTripSection = skipped(
      scoped.kind === 'pending'
        ? 'nothing pending on the database'
        : scoped.kind === 'fleet'
          ? 'nothing pending on any target of the fleet'
          : `no migration changed since ${scoped.ref}`,
    );
  } else if (!options.skipRoundTrip) {
    try {
      let scratchName = '';
      const report = await withScratchDatabase(
        server,
        async (scratch) => {
          scratchName = scratch.name;
          const trip = await roundTrip(scratch.db, graph, {
            heads: expectedHeads,
            history,
            args,
            actor: options.actor ?? 'rds-migrate check',
            ...(scoped ? { prefix: roundTripPrefix(graph, scoped) } : {}),
          });
          if (wanted && !trip.difference) head = await inspectHead(scratch.db, history);
          return trip;
        },
        (message) => warnings.push(message),
      );
      roundTripSection = roundTripResult(
        report,
        `${scratchName} on ${server.target}`,
        graph,
        fileOf,
        problems,
      );
    } catch (error) {
      if (!(error instanceof RdsMigrateError)) throw error;
      roundTripSection = unavailable(problems, error.message);
    }
  }
  const roundTripMs = Math.round(performance.now() - started);
  started = performance.now();
  const wantedSchema = wanted
    ? await wantedSchemaSection(
        server,
        graph,
        { wanted, expectedHeads, head, history, args, options },
        problems,
        warnings,
      )
    : skipped(
        'no wanted schema: create schema/ (its CREATE statements), or name one with --wanted-schema or rds-migrate.config.json',
      );
  return {
    drift,
    roundTrip: roundTripSection,
    wantedSchema,
    problems,
    warnings,
    driftMs,
    roundTripMs,
    wantedSchemaMs: Math.round(performance.now() - started),
  };
}

/** "The wanted schema and the migrations agree": a difference is a problem that says to autogenerate. */
async function wantedSchemaSection(
  server: Server,
  graph: RevisionGraph,
  context: {
    readonly wanted: WantedSchema;
    readonly expectedHeads: readonly Revision[] | undefined;
    readonly head: SchemaInspection | undefined;
    readonly history: History;
    readonly args: Readonly<Record<string, string>>;
    readonly options: CheckOptions;
  },
  problems: CheckProblem[],
  warnings: string[],
): Promise<CheckSection> {
  const { wanted, history, options } = context;
  let agreement: Awaited<ReturnType<typeof checkSchemaAgreement>>;
  try {
    agreement = await checkSchemaAgreement(
      server,
      graph,
      {
        wanted,
        cwd: options.cwd ?? process.cwd(),
        heads: context.expectedHeads,
        history,
        args: context.args,
        actor: options.actor ?? 'rds-migrate check',
        head: context.head,
      },
      (message) => warnings.push(message),
    );
  } catch (error) {
    if (!(error instanceof RdsMigrateError)) throw error;
    problems.push({ kind: 'wanted-schema', rule: 'wanted-schema-unreadable', message: error.message });
    return { status: 'problems', summary: `${wanted.label}: could not be compared` };
  }
  const heads = context.expectedHeads?.join(', ') || 'head';
  if (agreement.statements.length === 0)
    return { status: 'ok', summary: `${wanted.label} and the schema of ${heads} agree` };
  problems.push({
    kind: 'wanted-schema',
    rule: 'wanted-schema-differs',
    message:
      `the schema the migrations build at ${heads} differs from ${wanted.label} (${counted(agreement.statements.length, 'statement')} ` +
      'apart): the migrations and the wanted schema changed apart',
    fix:
      'rds-migrate create --autogenerate "<what changed>" writes the migrations that close the difference; ' +
      `or, if the migrations are right, change ${wanted.label} to match them`,
    statements: agreement.statements,
  });
  return {
    status: 'problems',
    summary: `${wanted.label} differs from the schema of ${heads}: ${counted(agreement.statements.length, 'statement')}`,
  };
}

function unavailable(problems: CheckProblem[], message: string): CheckSection {
  problems.push({
    kind: 'round-trip',
    rule: 'no-scratch-database',
    message: `the round trip needs a scratch database and cannot have one: ${message}`,
    fix: 'Start the database or point --database-url at a server where this user may CREATE DATABASE; or run check --skip-round-trip (CI should not).',
  });
  return { status: 'problems', summary: 'could not run: no scratch database' };
}

async function checkDrift(
  server: Server,
  graph: RevisionGraph,
  history: History,
  fileOf: (source: string) => string,
  problems: CheckProblem[],
): Promise<CheckSection> {
  let connection: Awaited<ReturnType<Server['connect']>>;
  try {
    connection = await server.connect();
  } catch (error) {
    return { status: 'skipped', summary: `database not reachable (${(error as Error).message})` };
  }
  try {
    const state = await history.read(connection.db);
    if (!state.exists) return { status: 'skipped', summary: `no rds-migrate history in ${server.target}` };
    const before = problems.length;
    for (const drifted of findDrift(graph, state)) {
      problems.push({
        kind: 'drift',
        rule: 'changed-after-apply',
        file: fileOf(drifted.source),
        revision: drifted.revision,
        message:
          `changed after it was applied to ${server.target}: applied checksum ${drifted.appliedChecksum}, ` +
          `file checksum ${drifted.currentChecksum}; restore the file as it was applied and put the change in a new migration`,
      });
    }
    for (const head of state.heads.filter((revision) => !graph.has(revision))) {
      const squash = graph.replacedBy(head);
      problems.push({
        kind: 'drift',
        rule: squash ? 'inside-squash' : 'unknown-revision',
        revision: head,
        message: squash
          ? `${server.target} is at revision ${head}, part-way through the revisions ${fileOf(graph.get(squash).source)} ` +
            `squashes into ${squash}; bring it to ${squash} with the files from before the squash first`
          : `${server.target} is at revision ${head}, which no migration in this folder defines; ` +
            'check out the code that has it, or this folder is not the one deployed there',
      });
    }
    const found = problems.length - before;
    const at = state.heads.length > 0 ? state.heads.join(', ') : 'base';
    return found > 0
      ? {
          status: 'problems',
          summary: `${server.target} at ${at}: ${found} problem${found === 1 ? '' : 's'}`,
        }
      : {
          status: 'ok',
          summary: `${server.target} at ${at}: ${state.checksums.size} applied migrations unchanged`,
        };
  } finally {
    await connection.close();
  }
}

function roundTripResult(
  report: RoundTripReport,
  where: string,
  graph: RevisionGraph,
  fileOf: (source: string) => string,
  problems: CheckProblem[],
): CheckSection {
  const prefix = report.prefixApplied > 0 ? `${report.prefixApplied} applied first, then ` : '';
  const counts = `${prefix}${report.applied} up, ${report.reverted} down, ${report.reapplied} up again on ${where}`;
  const turned = report.turnedBackAt
    ? `; turned back at ${report.turnedBackAt.revision} (${report.turnedBackAt.irreversible ? `irreversible: ${report.turnedBackAt.irreversible}` : 'no down step'})`
    : '';
  const difference = report.difference;
  const whole = report.tracked
    ? ''
    : ' (each read whole: following the DDL takes event triggers, which only a superuser (on RDS: rds_superuser) may create)';
  if (!difference) return { status: 'ok', summary: `${counts}${turned}, schemas matched${whole}` };
  const rule =
    difference.kind === 'failed'
      ? `${difference.phase.replace(' ', '-')}-failed`
      : difference.phase === 'down'
        ? 'down-step-incomplete'
        : 'up-again-differs';
  problems.push({
    kind: 'round-trip',
    rule,
    file: fileOf(graph.get(difference.revision).source),
    revision: difference.revision,
    section: difference.phase === 'down' ? 'down' : 'up',
    message: difference.message,
    diff: difference.kind === 'schema' ? { extra: difference.extra, missing: difference.missing } : undefined,
  });
  return {
    status: 'problems',
    summary: `${counts}; stopped at ${difference.revision} (${difference.phase})`,
  };
}
