/**
 * A fleet rollout's wall time: `databases` databases (default 200) on one embedded PostgreSQL,
 * each brought from nothing to the head of `MIGRATIONS` (5) of the bench's workload by the
 * FleetMigrations state machine `cdk synth` writes (one stage, at concurrency 1, 8 and 32), run
 * by a local ASL interpreter whose tasks call the real fleet function (AWS faked; each target is
 * a database of a shared server, so no snapshot). Beside each: one database's rollout × the fleet
 * size, and raw `pg` applying the same SQL to as many fresh databases at the same concurrency
 * (one transaction each), measured in the same run. The interpreter, the function and the
 * server share this machine's cores: on Lambda each call has its own.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startEmbedded } from '../lib/local/embedded.ts';
import { LocalFleet } from '../test/fixtures/fleet/rollouts.ts';
import { scratchParent } from './scratch.ts';
import { workload } from './workload.ts';

const MIGRATIONS = 5;
const CONCURRENCIES = [1, 8, 32] as const;

export interface FleetBenchRow {
  readonly concurrency: number;
  readonly fleetMs: number;
  readonly rawMs: number;
}

export interface FleetBenchResult {
  readonly databases: number;
  readonly oneDatabaseMs: number;
  readonly rows: readonly FleetBenchRow[];
}

export async function benchFleet(databases = 200): Promise<FleetBenchResult> {
  const root = await mkdtemp(join(await scratchParent(), 'rds-migrate-bench-fleet-'));
  const server = await startEmbedded({ dataDir: join(root, 'data'), throwaway: true, database: 'postgres' });
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  const migrations = workload(MIGRATIONS);
  const bundle = join(root, 'migrations');
  await mkdir(bundle);
  for (const [offset, migration] of migrations.entries()) {
    await writeFile(
      join(bundle, `20261204${migration.ordinal}_bench_${migration.index}.sql`),
      `-- revision: ${migration.revision}\n-- down_revision: ${migrations[offset - 1]?.revision ?? 'none'}\n\n` +
        `-- migrate:up\n${migration.up}\n\n-- migrate:down\n${migration.down}\n`,
    );
  }
  const head = migrations.at(-1)?.revision as string;
  let created = 0;
  const fresh = async (count: number): Promise<string[]> => {
    const names = Array.from({ length: count }, () => `fleet_bench_${++created}`);
    for (const name of names) await admin.query(`CREATE DATABASE ${name}`);
    return names;
  };
  const drop = async (names: readonly string[]) => {
    for (const name of names) await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
  };
  const rollout = async (names: readonly string[], concurrency: number): Promise<number> => {
    const fleet = new LocalFleet(
      server.url.bind(server),
      names,
      [{ name: 'fleet', maxConcurrency: concurrency }],
      bundle,
    );
    const started = performance.now();
    const outcome = await fleet.deploy(head);
    const ms = performance.now() - started;
    if (outcome.status !== 'SUCCESS' || outcome.data.Moved !== String(names.length)) {
      throw new Error(
        `fleet of ${names.length} at ${concurrency}: ${outcome.reason ?? JSON.stringify(outcome.data)}`,
      );
    }
    return ms;
  };
  const raw = async (names: readonly string[], concurrency: number): Promise<number> => {
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < names.length) {
        const client = new pg.Client({ connectionString: server.url(names[next++] as string) });
        await client.connect();
        await client.query('BEGIN');
        for (const migration of migrations) await client.query(migration.up);
        await client.query('COMMIT');
        await client.end();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return performance.now() - started;
  };
  try {
    // A warm-up rollout of one, untimed: the first synth and the function's first load of the bundle.
    const warm = await fresh(1);
    await rollout(warm, 1);
    await drop(warm);
    const one = await fresh(1);
    const oneDatabaseMs = await rollout(one, 1);
    await drop(one);
    const rows: FleetBenchRow[] = [];
    for (const concurrency of CONCURRENCIES) {
      const fleetDatabases = await fresh(databases);
      const fleetMs = await rollout(fleetDatabases, concurrency);
      await drop(fleetDatabases);
      const rawDatabases = await fresh(databases);
      const rawMs = await raw(rawDatabases, concurrency);
      await drop(rawDatabases);
      rows.push({ concurrency, fleetMs, rawMs });
      process.stderr.write(`fleet of ${databases} at concurrency ${concurrency} done\n`);
    }
    const result = { databases, oneDatabaseMs, rows };
    process.stdout.write(formatFleetBench(result));
    return result;
  } finally {
    await admin.end();
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

export function formatFleetBench(result: FleetBenchResult): string {
  const serial = result.oneDatabaseMs * result.databases;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`.padStart(8);
  return (
    `\nfleet rollout, ${result.databases} databases x ${MIGRATIONS} migrations (one stage; one database alone: ` +
    `${result.oneDatabaseMs.toFixed(0)} ms, x ${result.databases} = ${(serial / 1000).toFixed(1)} s):\n` +
    '  concurrency     fleet   vs 1 db x N    raw pg   fleet / raw pg\n' +
    result.rows
      .map(
        (row) =>
          `  ${String(row.concurrency).padStart(11)}  ${seconds(row.fleetMs)}  ${(row.fleetMs / serial).toFixed(2).padStart(11)}  ` +
          `${seconds(row.rawMs)}  ${(row.fleetMs / row.rawMs).toFixed(1).padStart(14)}`,
      )
      .join('\n') +
    '\n'
  );
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({ options: { databases: { type: 'string', default: '200' } } });
  await benchFleet(Number(values.databases));
}
