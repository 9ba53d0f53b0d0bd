/**
 * `npm run soak:fleet [databases] [kill-percent]`: a fleet of 50 databases (default) on an
 * embedded PostgreSQL of its own, rolled out through the synthesized state machine (canary, a
 * wave of 40% eight at a time, the rest sixteen at a time) four times (v1 to v4, migrations that
 * count their own runs), then rolled back to v3 as a stack rollback does, while a share of the
 * function's calls (default 20%) is killed mid-call: the database sessions of the call end at a
 * random moment, as when the process dies, and its answer is lost (Lambda.Unknown), so the state
 * machine calls again (a call is killed at most twice in a row; the state machine tries three times). Every rollout must succeed with each database at the revision, each
 * migration applied (and reverted) exactly once. Prints each rollout and the counts; exits 1 on
 * any problem. Not part of npm test.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbedded } from '../lib/local/embedded.ts';
import { LocalFleet } from '../test/fixtures/fleet/rollouts.ts';

const DATABASES = Number(process.argv[2] ?? 50);
const KILL_PERCENT = Number(process.argv[3] ?? 20);
const REVISIONS = ['50a6f1ee0001', '50a6f1ee0002', '50a6f1ee0003', '50a6f1ee0004'];
const STAGES = [
  { name: 'canary', targets: 1 },
  { name: 'wave', percent: 40, maxConcurrency: 8 },
  { name: 'rest', maxConcurrency: 16 },
];

/** Bundle k holds migrations 1..k; each counts its runs in `applied`, and one sleeps to widen the window. */
async function writeBundles(root: string): Promise<string[]> {
  const bundles: string[] = [];
  for (let size = 1; size <= REVISIONS.length; size++) {
    const folder = join(root, `v${size}`);
    await mkdir(folder);
    for (let index = 0; index < size; index++) {
      const revision = REVISIONS[index] as string;
      const setup =
        index === 0 ? 'CREATE TABLE applied (revision text NOT NULL, direction text NOT NULL);\n' : '';
      await writeFile(
        join(folder, `20261204000${index}_step_${index + 1}.sql`),
        `-- revision: ${revision}\n-- down_revision: ${REVISIONS[index - 1] ?? 'none'}\n\n-- migrate:up\n${setup}` +
          `CREATE TABLE step_${index + 1} (id bigint PRIMARY KEY, note text);\n` +
          `INSERT INTO step_${index + 1} SELECT g, 'row ' || g FROM generate_series(1, 2000) g;\n` +
          `SELECT pg_sleep(0.03);\nINSERT INTO applied VALUES ('${revision}', 'up');\n\n-- migrate:down\n` +
          `${index === 0 ? 'DROP TABLE applied;\n' : `INSERT INTO applied VALUES ('${revision}', 'down');\n`}` +
          `DROP TABLE step_${index + 1};\n`,
      );
    }
    bundles.push(folder);
  }
  return bundles;
}

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const root = await mkdtemp(join(tmpdir(), 'rds-migrate-soak-fleet-'));
const server = await startEmbedded({ dataDir: join(root, 'data'), throwaway: true, database: 'postgres' });
const admin = new pg.Client({ connectionString: server.url('postgres') });
await admin.connect();
const random = seededRandom(31);
let calls = 0;
let kills = 0;
const killedBy = new Map<string, number>();
const streaks = new Map<string, number>();
const problems: string[] = [];
const started = performance.now();
try {
  const names = Array.from({ length: DATABASES }, (_, index) => `tenant_${String(index).padStart(3, '0')}`);
  for (const name of names) await admin.query(`CREATE DATABASE ${name}`);
  const bundles = await writeBundles(root);
  const fleet = new LocalFleet(server.url.bind(server), names, STAGES, bundles[0] as string);
  fleet.rollouts.around = async (state, task, call) => {
    calls += 1;
    const database = String(task.RdsMigrateFleet?.target?.Database ?? '');
    // A call is killed at most twice in a row: the state machine makes it three more times.
    const key = `${state} ${database}`;
    const streak = streaks.get(key) ?? 0;
    if (streak >= 2 || random() * 100 >= KILL_PERCENT) {
      streaks.delete(key);
      return call();
    }
    streaks.set(key, streak + 1);
    const delay = random() * 60;
    const running = call().then(
      () => 'answered',
      () => 'failed',
    );
    const first = await Promise.race([
      running,
      new Promise((done) => setTimeout(() => done('killed'), delay)),
    ]);
    // The process dies: its sessions end (the server rolls back what was open), its answer is lost.
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rds-migrate lambda'`,
      [database],
    );
    await running;
    kills += 1;
    const where = `${state.split(':')[0]} ${state.includes('poll') ? 'poll' : 'start'} (${first === 'killed' ? 'mid-call' : 'answer lost'})`;
    killedBy.set(where, (killedBy.get(where) ?? 0) + 1);
    throw Object.assign(new Error(`killed ${state} of ${database} (soak)`), { name: 'Lambda.Unknown' });
  };
  const check = async (revision: string, direction: 'up' | 'down', revisions: readonly string[]) => {
    for (const name of names) {
      const db = new pg.Client({ connectionString: server.url(name) });
      await db.connect();
      try {
        const heads = (
          await db.query<{ revision: string }>('SELECT revision FROM rds_migrate.heads')
        ).rows.map((row) => row.revision);
        if (heads.join(',') !== revision)
          problems.push(`${name}: at ${heads.join(',') || 'base'}, not ${revision}`);
        const counted = await db.query<{ revision: string; direction: string; n: string }>(
          'SELECT revision, direction, count(*) AS n FROM applied GROUP BY 1, 2',
        );
        for (const row of counted.rows) {
          if (Number(row.n) !== 1)
            problems.push(`${name}: ${row.revision} ran ${row.direction} ${row.n} times`);
        }
        const ups = counted.rows.filter((row) => row.direction === 'up').map((row) => row.revision);
        const missing = revisions.filter((rev) => !ups.includes(rev));
        if (missing.length > 0) problems.push(`${name}: ${missing.join(',')} never ran ${direction}`);
      } finally {
        await db.end();
      }
    }
  };
  const roll = async (label: string, index: number, previous: number | undefined, rollingBack = false) => {
    const before = { calls, kills };
    const clock = performance.now();
    fleet.bundle = bundles[index] as string;
    const outcome = await fleet.deploy(
      REVISIONS[index] as string,
      previous === undefined ? undefined : REVISIONS[previous],
      rollingBack,
    );
    const ms = performance.now() - clock;
    if (outcome.status !== 'SUCCESS') problems.push(`${label}: ${outcome.reason ?? outcome.status}`);
    await check(REVISIONS[index] as string, rollingBack ? 'down' : 'up', REVISIONS.slice(0, index + 1));
    console.log(
      `${label.padEnd(22)} ${outcome.status.padEnd(7)} ${String(calls - before.calls).padStart(4)} calls, ` +
        `${String(kills - before.kills).padStart(3)} killed, moved ${outcome.data.Moved ?? '?'} of ${outcome.data.Targets ?? '?'} ` +
        `in ${(ms / 1000).toFixed(1)} s`,
    );
  };
  console.log(
    `${DATABASES} databases, ${KILL_PERCENT}% of calls killed; stages canary 1, wave 40% x8, rest x16\n`,
  );
  await roll('deploy v1 (create)', 0, undefined);
  await roll('deploy v2', 1, 0);
  await roll('deploy v3', 2, 1);
  await roll('deploy v4', 3, 2);
  await roll('stack rollback to v3', 2, 3, true);
} catch (error) {
  problems.push(`soak stopped: ${(error as Error).stack ?? error}`);
} finally {
  await admin.end();
  await server.stop();
  await rm(root, { recursive: true, force: true });
}
console.log(
  `\n${calls} calls, ${kills} killed (${[...killedBy].map(([where, n]) => `${where} x${n}`).join(', ')})` +
    `\n${problems.length === 0 ? 'no problems: every database at its revision, every migration applied and reverted exactly once' : `${problems.length} problems:\n  ${problems.slice(0, 30).join('\n  ')}`}` +
    `\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(problems.length === 0 ? 0 : 1);
