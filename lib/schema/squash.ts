/**
 * `rds-migrate squash <rev>`: the migrations from base to `<rev>` become one, whose up builds
 * from nothing the schema they built and whose down drops it. The new file keeps `<rev>`'s id (so
 * later migrations, and databases already at `<rev>` or beyond, need no change) and names the
 * others in `replaces`: a database that ran them is at `<rev>` already, a fresh one runs the
 * one file.
 *
 * The schema comes from the autogenerate machinery: the old files run on a shadow database, the
 * diff library writes it from an empty one. Before anything is written the squash is proved: on
 * another shadow database it builds the same schema (catalog and diff alike), and its round trip
 * (up, down to nothing, up again) holds. Data changes cannot be squashed into a schema: a range
 * with them is refused unless `dropData` says they only touched rows that existed then.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { Node } from 'libpg-query';
import { schemaSnapshot } from '../engine/catalog.ts';
import { counted } from '../engine/counted.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import { RevisionGraph } from '../engine/graph.ts';
import type { History } from '../engine/history.ts';
import { loadMigrations, parseSqlMigration, SQUASHED_FOLDER } from '../engine/loader.ts';
import type { Migration, Revision } from '../engine/migration.ts';
import { resolveRevision } from '../engine/target.ts';
import { recordCodeStep } from '../lint/recording.ts';
import type { Server } from '../local/server.ts';
import { roundTrip } from './round-trip.ts';
import { differences, diffSchemas, inspectSchema } from './schema-diff.ts';
import { buildMigratedSchema, withShadowDatabase } from './shadow-schema.ts';

interface SquashOptions {
  readonly migrationsDir: string;
  /** Files are named relative to it in the report. */
  readonly cwd: string;
  /** The last revision to squash, as any command takes one (`head`, `-2`, a prefix). */
  readonly target: string;
  /** @default 'squash of <n> migrations up to <rev>' */
  readonly message?: string;
  /** Delete the replaced files instead of moving them to squashed/. @default false */
  readonly deleteReplaced?: boolean;
  /** Squash migrations that change data too, their data changes dropped. @default false */
  readonly dropData?: boolean;
  /** Prove and report, write nothing. @default false */
  readonly dryRun?: boolean;
  readonly history: History;
  readonly args?: Readonly<Record<string, string>>;
  readonly actor: string;
}

export interface DataChange {
  readonly revision: Revision;
  readonly source: string;
  /** What it does to data: `INSERT (line 12)`, `ctx.batch`, `background migration`. */
  readonly what: string;
}

export interface SquashReport {
  readonly revision: Revision;
  /** The revisions the new file replaces, in graph order. */
  readonly replaces: readonly Revision[];
  /** The new file, relative to the working directory. */
  readonly file: string;
  /** Where each replaced file went (relative paths), or `deleted`. */
  readonly replaced: readonly { readonly from: string; readonly to: string | 'deleted' }[];
  readonly statements: { readonly up: number; readonly down: number };
  /** Data changes of the range, dropped (`dropData`): a fresh database will not have them. */
  readonly droppedData: readonly DataChange[];
  /** The proof: the squash's schema against the old files', and its round trip. */
  readonly proof: { readonly schemaObjects: number; readonly roundTrip: string };
  readonly dryRun: boolean;
  readonly durationMs: number;
}

/** The squash cannot be made as asked: the message says why and what to do instead. */
class SquashRefused extends RdsMigrateError {
  override readonly name = 'SquashRefused';
}

export async function squashMigrations(server: Server, options: SquashOptions): Promise<SquashReport> {
  const started = performance.now();
  const migrations = await loadMigrations(options.migrationsDir);
  const graph = RevisionGraph.from(migrations);
  const revision = resolveRevision(graph, options.target);
  const range = graph.sorted(graph.ancestors([revision]));
  assertSquashable(graph, revision, range);
  const last = graph.get(revision);

  const dataChanges = await findDataChanges(
    range.map((id) => graph.get(id)),
    options.args ?? {},
  );
  if (dataChanges.length > 0 && !options.dropData) throw dataRefusal(dataChanges, graph, range);

  const replaces = [
    ...range.filter((id) => id !== revision),
    // A squash of a squash replaces what the first one replaced too.
    ...range.flatMap((id) => graph.get(id).replaces ?? []),
  ];
  const message = options.message ?? `squash of ${range.length} migrations up to ${revision}`;
  const schemaOptions = { excludeSchemas: [options.history.schema] };
  const purpose = 'rds-migrate squash';

  // The schema the old files build, read twice: by the catalog and by the diff library.
  const built = await withShadowDatabase(server, purpose, async (shadow) => {
    await buildMigratedSchema(shadow.db, graph, {
      heads: [revision],
      history: options.history,
      args: options.args,
      actor: options.actor,
    });
    return {
      snapshot: await schemaSnapshot(shadow.db, options.history.schema),
      inspection: await inspectSchema(shadow.db, schemaOptions),
    };
  });
  const statements = await withShadowDatabase(server, purpose, async (empty) => {
    const nothing = await inspectSchema(empty.db, schemaOptions);
    return {
      up: await diffSchemas(nothing, built.inspection),
      down: await diffSchemas(built.inspection, nothing),
    };
  });
  if (statements.up.length === 0) {
    throw new SquashRefused(
      `the migrations up to ${revision} build no schema (${range.length} of them); there is nothing to squash into a schema`,
    );
  }

  const fileName = squashFileName(last.source, message);
  const text = squashText({
    revision,
    replaces,
    labels: [...new Set(range.flatMap((id) => graph.get(id).branchLabels ?? []))],
    message,
    count: range.length,
    statements,
    dropped: dataChanges,
  });
  const squash = parseSqlMigration(fileName, text);

  // The proof, on a shadow database of its own: up, down to nothing, up again, then the schema.
  const proof = await withShadowDatabase(server, purpose, async (shadow) => {
    const trip = await roundTrip(shadow.db, RevisionGraph.from([squash]), {
      history: options.history,
      args: options.args,
      actor: options.actor,
    });
    if (trip.difference) {
      throw new SquashRefused(
        `the squash of ${revision} fails its own round trip (${trip.difference.phase}): ${trip.difference.message}; ` +
          'nothing was written. This is a defect of rds-migrate squash: please report it with the migrations',
      );
    }
    const snapshot = await schemaSnapshot(shadow.db, options.history.schema);
    const apart = [
      ...snapshot.filter((line) => !built.snapshot.includes(line)).map((line) => `+ ${line}`),
      ...built.snapshot.filter((line) => !snapshot.includes(line)).map((line) => `- ${line}`),
      ...(await differences(built.inspection, await inspectSchema(shadow.db, schemaOptions))),
    ];
    if (apart.length > 0) {
      throw new SquashRefused(
        `the squash of ${revision} would build another schema than the migrations it replaces; nothing was written. ` +
          `Differences (+ only the squash has, - only the old files have): ${apart.slice(0, 10).join('; ')}`,
      );
    }
    return {
      schemaObjects: snapshot.length,
      roundTrip: `${trip.applied} up, ${trip.reverted} down, ${trip.reapplied} up again: the same schema`,
    };
  });

  const shown = (path: string) => relative(options.cwd, path) || path;
  const target = join(options.migrationsDir, fileName);
  const moves = range.map((id) => {
    const source = graph.get(id).source;
    const from = join(options.migrationsDir, source);
    const to = options.deleteReplaced ? undefined : join(options.migrationsDir, SQUASHED_FOLDER, source);
    return { from, to, extra: compiledBeside(from) };
  });
  if (!options.dryRun) writeSquash(target, text, moves);
  return {
    revision,
    replaces,
    file: shown(target),
    replaced: moves.map(({ from, to }) => ({
      from: shown(from),
      to: to === undefined ? 'deleted' : shown(to),
    })),
    statements: { up: statements.up.length, down: statements.down.length },
    droppedData: dataChanges,
    proof,
    dryRun: Boolean(options.dryRun),
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * The range must hang together: nothing outside it may build on or need a revision of it but the
 * last (its id stays), and it must hold more than one migration.
 */
function assertSquashable(graph: RevisionGraph, revision: Revision, range: readonly Revision[]): void {
  if (range.length < 2) {
    throw new SquashRefused(
      `${revision} has nothing below it to squash with; name a later revision (rds-migrate history lists them)`,
    );
  }
  const inRange = new Set(range);
  for (const other of graph.order) {
    if (inRange.has(other)) continue;
    const migration = graph.get(other);
    const needs = [...migration.downRevisions, ...(migration.dependsOn ?? [])].filter(
      (needed) => inRange.has(needed) && needed !== revision,
    );
    if (needs.length === 0) continue;
    throw new SquashRefused(
      `${migration.source} (revision ${other}) builds on ${needs.join(', ')}, which the squash of ${revision} ` +
        `would replace; squash up to a revision every branch has reached (merge the branches first: ` +
        `rds-migrate merge), or up to ${needs[0]}'s own branch only`,
    );
  }
}

const DATA_STATEMENTS: Readonly<Record<string, string>> = {
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  CopyStmt: 'COPY',
  TruncateStmt: 'TRUNCATE',
  DoStmt: 'DO block',
  CallStmt: 'CALL',
};

/** What each migration of the range does to data, as far as its SQL (or recorded SQL) shows. */
async function findDataChanges(
  migrations: readonly Migration[],
  args: Readonly<Record<string, string>>,
): Promise<DataChange[]> {
  const { parse } = await import('libpg-query');
  const kinds = async (sql: string): Promise<string[]> => {
    try {
      const tree = await parse(sql);
      return (tree.stmts ?? []).flatMap(({ stmt }) => {
        const kind = Object.keys((stmt ?? {}) as Node)[0] ?? '';
        const what = DATA_STATEMENTS[kind];
        return what ? [what] : [];
      });
    } catch {
      // check reports SQL the parser refuses; here it is simply not known to change data.
      return [];
    }
  };
  const changes: DataChange[] = [];
  for (const migration of migrations) {
    const change = (what: string) =>
      changes.push({ revision: migration.revision, source: migration.source, what });
    if (migration.background) {
      change('background migration');
      continue;
    }
    if (migration.up.kind === 'sql') {
      const found = await kinds(migration.up.sql);
      if (found.length > 0) change([...new Set(found)].join(', '));
      continue;
    }
    const recording = await recordCodeStep(migration, 'up', args);
    const found = new Set<string>();
    for (const entry of recording.entries) {
      if (entry.kind === 'note' && /batch/i.test(entry.text)) found.add('ctx.batch');
      if (entry.kind === 'statement') for (const kind of await kinds(entry.text)) found.add(kind);
    }
    if (recording.stoppedBy) found.add(`code the dry run could not follow (${recording.stoppedBy.message})`);
    if (found.size > 0) change([...found].join(', '));
  }
  return changes;
}

function dataRefusal(
  changes: readonly DataChange[],
  graph: RevisionGraph,
  range: readonly Revision[],
): SquashRefused {
  const first = range.indexOf(changes[0]?.revision ?? '');
  const before = first > 0 ? range[first - 1] : undefined;
  const listed = changes.map((change) => `${change.source} (${change.revision}): ${change.what}`).join('; ');
  return new SquashRefused(
    `${counted(changes.length, 'migration')} of the range change data, which a squash into a schema cannot carry: ${listed}. ` +
      'A fresh database built from the squash would not have those rows. If they only changed rows that ' +
      'existed when they ran (a backfill; a fresh database has none), squash anyway with --drop-data. If a ' +
      'fresh database needs the data (seeds, lookup rows), ' +
      (before && graph.ancestors([before]).size >= 2
        ? `squash up to ${before}, the revision before the first of them, and keep them as they are`
        : 'keep them as they are: squash a later stretch, or none'),
  );
}

/** `202611050900_index_users.sql` → `202611050900_<message slug>.sql`: where the last one was. */
function squashFileName(lastSource: string, message: string): string {
  const prefix =
    /^(\d+)_/.exec(basename(lastSource))?.[1] ?? new Date().toISOString().replace(/\D/g, '').slice(0, 12);
  const slug =
    message
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 60)
      .replace(/_+$/, '') || 'squash';
  return `${prefix}_${slug}.sql`;
}

function squashText(parts: {
  revision: Revision;
  replaces: readonly Revision[];
  labels: readonly string[];
  message: string;
  count: number;
  statements: { up: readonly string[]; down: readonly string[] };
  dropped: readonly DataChange[];
}): string {
  const header = [
    `-- revision: ${parts.revision}`,
    '-- down_revision: none',
    `-- replaces: ${parts.replaces.join(', ')}`,
    ...(parts.labels.length > 0 ? [`-- branch_labels: ${parts.labels.join(', ')}`] : []),
    `-- message: ${parts.message.replace(/\n/g, ' ')}`,
    '--',
    `-- Written by rds-migrate squash: the schema ${parts.count} migrations built up to ${parts.revision}, as one.`,
    `-- A database whose history holds them is at ${parts.revision} already; a fresh database runs this file.`,
    `-- The replaced files are in ${SQUASHED_FOLDER}/ unless they were deleted.`,
    ...(parts.dropped.length > 0
      ? [
          '-- Their data changes are not here (squashed with --drop-data):',
          ...parts.dropped.map((change) => `--   ${change.revision} ${change.source}: ${change.what}`),
        ]
      : []),
  ];
  return `${header.join('\n')}

-- migrate:up
${parts.statements.up.join('\n\n')}

-- migrate:down
${parts.statements.down.join('\n\n')}
`;
}

/** A TS migration's compiled `.mjs` beside it moves with it. */
function compiledBeside(path: string): string | undefined {
  if (!path.endsWith('.ts')) return undefined;
  const compiled = path.replace(/\.ts$/, '.mjs');
  return existsSync(compiled) ? compiled : undefined;
}

/**
 * The new file under a temporary name, the old ones moved (or deleted), then the new file's
 * name: a failure half-way puts the moved files back and removes the new one.
 */
function writeSquash(
  target: string,
  text: string,
  moves: readonly { from: string; to: string | undefined; extra: string | undefined }[],
): void {
  const pairs = moves.flatMap(({ from, to, extra }) => [
    { from, to },
    ...(extra ? [{ from: extra, to: to === undefined ? undefined : to.replace(/\.ts$/, '.mjs') }] : []),
  ]);
  for (const { to } of pairs) {
    if (to !== undefined && existsSync(to)) {
      throw new SquashRefused(`${to} already exists; move it away first (nothing was written)`);
    }
  }
  const temporary = `${target}.squash-${process.pid}.tmp`;
  writeFileSync(temporary, text);
  const done: { from: string; to: string }[] = [];
  try {
    for (const { from, to } of pairs) {
      if (to === undefined) continue;
      mkdirSync(join(to, '..'), { recursive: true });
      renameSync(from, to);
      done.push({ from, to });
    }
    renameSync(temporary, target);
  } catch (error) {
    for (const { from, to } of done.reverse()) renameSync(to, from);
    rmSync(temporary, { force: true });
    throw error;
  }
  // Deleting is last: until here everything could be put back.
  for (const { from, to } of pairs) if (to === undefined && from !== target) rmSync(from, { force: true });
}
