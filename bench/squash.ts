/**
 * A long history, two ways out (issue 13), on the bench workload of 500 migrations:
 * - `check --pending` on a database that has 490 of them, against the full `check`'s lint and
 *   round trip of all 500 (the full one is bench/check.ts; here only the scoped one runs);
 * - a fresh database: `up` of the 500 files, then `squash head` and `up` of the one file, both
 *   next to raw pg running the same SQL in one transaction (the floor) in the same run.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkMigrations } from '../lib/check/check.ts';
import { connect } from '../lib/engine/connection.ts';
import { RevisionGraph } from '../lib/engine/graph.ts';
import { History } from '../lib/engine/history.ts';
import { loadMigrations } from '../lib/engine/loader.ts';
import { migrate } from '../lib/engine/runner.ts';
import { startEmbedded } from '../lib/local/embedded.ts';
import { openServer } from '../lib/local/server.ts';
import { squashMigrations } from '../lib/schema/squash.ts';
import { scratchParent } from './scratch.ts';
import { workload } from './workload.ts';

const COUNT = 500;
const APPLIED = 490;

export interface SquashBenchResult {
  readonly migrations: number;
  /** check --pending with 490 applied: its lint and round trip cover 10. */
  readonly pendingCheckMs: number;
  readonly pendingLintMs: number;
  readonly pendingRoundTripMs: number;
  /** Raw pg: the 500 migrations' SQL in one transaction on a fresh database. */
  readonly floorMs: number;
  /** rds-migrate up of the 500 files on a fresh database. */
  readonly upAllMs: number;
  /** rds-migrate squash head: build, diff, prove, write. */
  readonly squashMs: number;
  /** rds-migrate up of the squashed file on a fresh database. */
  readonly upSquashedMs: number;
}

export async function benchSquash(): Promise<SquashBenchResult> {
  const root = await mkdtemp(join(await scratchParent(), 'rds-migrate-bench-squash-'));
  const migrationsDir = join(root, 'migrations');
  const migrations = workload(COUNT);
  await mkdir(migrationsDir, { recursive: true });
  let parent = 'none';
  for (const migration of migrations) {
    await writeFile(
      join(migrationsDir, `${migration.ordinal}_bench_${migration.index}.sql`),
      `-- revision: ${migration.revision}\n-- down_revision: ${parent}\n\n` +
        `-- migrate:up\n${migration.up}\n\n-- migrate:down\n${migration.down}\n`,
    );
    parent = migration.revision;
  }
  const server = await startEmbedded({ dataDir: join(root, 'data'), throwaway: true, database: 'postgres' });
  const admin = await connect({ connectionString: server.url('postgres') });
  const freshDatabase = async (name: string) => {
    await admin.db.query(`CREATE DATABASE ${name}`);
    return connect({ connectionString: server.url(name) });
  };
  const history = new History();
  const run = { actor: 'bench', history };
  try {
    // check --pending: 490 applied on the app's database, 10 pending.
    const app = await freshDatabase('app');
    const graph = RevisionGraph.from(await loadMigrations(migrationsDir));
    await migrate(app.db, graph, { action: 'upgrade', target: migrations[APPLIED - 1]?.revision ?? '' }, run);
    await app.close();
    const serverOptions = { databaseUrl: server.url('app'), env: {}, cwd: root };
    await checkMigrations({ migrationsDir, cwd: root, static: true }); // warm-up: the parser
    let started = performance.now();
    const pending = await checkMigrations({
      migrationsDir,
      cwd: root,
      server: serverOptions,
      scope: { pending: true },
    });
    const pendingCheckMs = performance.now() - started;
    if (!pending.ok || pending.scope?.revisions.length !== COUNT - APPLIED) {
      throw new Error(
        `check --pending: ${pending.problems.length} problems, scope ${pending.scope?.revisions.length}`,
      );
    }

    // The floor: raw pg, one transaction.
    const raw = await freshDatabase('raw');
    started = performance.now();
    await raw.db.query('BEGIN');
    for (const migration of migrations) await raw.db.query(migration.up);
    await raw.db.query('COMMIT');
    const floorMs = performance.now() - started;
    await raw.close();

    const all = await freshDatabase('all_files');
    started = performance.now();
    await migrate(
      all.db,
      RevisionGraph.from(await loadMigrations(migrationsDir)),
      { action: 'upgrade', target: 'head' },
      run,
    );
    const upAllMs = performance.now() - started;
    await all.close();

    const local = await openServer({ databaseUrl: server.url('postgres'), env: {}, cwd: root });
    started = performance.now();
    try {
      await squashMigrations(local, {
        migrationsDir,
        cwd: root,
        target: 'head',
        history,
        actor: 'bench',
        deleteReplaced: true,
      });
    } finally {
      await local.stop();
    }
    const squashMs = performance.now() - started;

    const squashed = await freshDatabase('squashed');
    started = performance.now();
    await migrate(
      squashed.db,
      RevisionGraph.from(await loadMigrations(migrationsDir)),
      { action: 'upgrade', target: 'head' },
      run,
    );
    const upSquashedMs = performance.now() - started;
    await squashed.close();

    const result: SquashBenchResult = {
      migrations: COUNT,
      pendingCheckMs: Math.round(pendingCheckMs),
      pendingLintMs: pending.timingsMs.lint,
      pendingRoundTripMs: pending.timingsMs.roundTrip,
      floorMs: Math.round(floorMs),
      upAllMs: Math.round(upAllMs),
      squashMs: Math.round(squashMs),
      upSquashedMs: Math.round(upSquashedMs),
    };
    process.stdout.write(`${formatResult(result)}\n`);
    await writeResult(result);
    return result;
  } finally {
    await admin.close();
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

function formatResult(result: SquashBenchResult): string {
  const row = (name: string, ms: number, note = '') =>
    `  ${name.padEnd(34)} ${String(ms).padStart(7)} ms  ${note}`;
  const ratio = (ms: number) => `${(ms / result.floorMs).toFixed(2)}x the raw pg floor`;
  return [
    `a long history: ${result.migrations} migrations`,
    row(
      `check --pending (${APPLIED} applied)`,
      result.pendingCheckMs,
      `lint ${result.pendingLintMs} ms, round trip ${result.pendingRoundTripMs} ms of ${COUNT - APPLIED} pending`,
    ),
    row('raw pg, one transaction (floor)', result.floorMs),
    row(`up of ${result.migrations} files, fresh database`, result.upAllMs, ratio(result.upAllMs)),
    row('squash head', result.squashMs, 'shadow build, diff, proof, write'),
    row(
      'up of the squashed file, fresh',
      result.upSquashedMs,
      `${ratio(result.upSquashedMs)}; ${(result.upAllMs / result.upSquashedMs).toFixed(1)}x faster than the files`,
    ),
  ].join('\n');
}

async function writeResult(result: SquashBenchResult): Promise<void> {
  const folder = fileURLToPath(new URL('../.bench/', import.meta.url));
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'squash.json'), `${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchSquash();
}
