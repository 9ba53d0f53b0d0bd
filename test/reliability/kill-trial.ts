/**
 * One fault-injection trial: run `rds-migrate up` in a child process on a fresh database,
 * SIGKILL it at a chosen moment, then check that the state it left is one the tool can
 * explain, and that the next `up` finishes the job with every revision applied exactly once.
 * Shared by the test suite (a few trials) and `npm run soak` (many).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { runCliCaptured } from '../support/cli.ts';
import { TEST_DATABASE_STRATEGY } from '../support/database.ts';
import { activeQuery, sleep, waitForSessionsToEnd } from './sessions.ts';

/** The application name the process under trial connects with. */
const APPLICATION = 'rds-migrate';

const repo = resolve(import.meta.dirname, '../..');
export const KILL_FOLDER = resolve(repo, 'test/fixtures/reliability');

/** Where to kill: while a phase's statement runs on the server, or after a random delay. */
export type KillPoint = 'txn' | 'batch' | 'nontxn' | 'history' | 'random';

export interface TrialResult {
  readonly point: KillPoint;
  readonly killedDuring: string;
  /** Problems with the state after the kill or after recovery; empty when consistent. */
  readonly problems: readonly string[];
  readonly headsAfterKill: readonly string[];
}

const REVISIONS = ['kkkk00000001', 'kkkk00000002', 'kkkk00000003', 'kkkk00000004', 'kkkk00000005'];
/** Heads a run can leave: base, then each unit boundary (k1+k2 share a transaction). */
const UNIT_BOUNDARIES = [[], ['kkkk00000002'], ['kkkk00000003'], ['kkkk00000004'], ['kkkk00000005']];

const PHASE_PATTERNS: Record<Exclude<KillPoint, 'random'>, string> = {
  txn: '%phase:txn%',
  batch: '%phase:batch%',
  nontxn: '%phase:nontxn%',
  history: '%INSERT INTO "rds_migrate".%',
};

export async function runKillTrial(adminUrl: string, point: KillPoint, seed: number): Promise<TrialResult> {
  const name = `kill_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} ${TEST_DATABASE_STRATEGY}`);
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  const observer = new pg.Client({ connectionString: url });
  await observer.connect();
  try {
    const victim = spawnUp(url);
    const killedDuring = await killAt(victim, observer, name, point, seed);
    await waitForSessionsToEnd(observer, name, APPLICATION);
    const { problems, heads } = await checkAfterKill(observer);
    problems.push(...(await recoverAndCheck(url, observer)));
    return { point, killedDuring, problems, headsAfterKill: heads };
  } finally {
    await observer.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

function spawnUp(url: string): ChildProcess {
  // One process (`node --import tsx`), not tsx's CLI, which runs the code in a child that a
  // kill of the parent would leave running.
  return spawn(process.execPath, ['--import', 'tsx', resolve(repo, 'bin/cli.ts'), 'up', '-d', KILL_FOLDER], {
    cwd: repo,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: url },
    stdio: process.env.KILL_TRIAL_DEBUG ? 'inherit' : 'ignore',
  });
}

async function killAt(
  victim: ChildProcess,
  observer: pg.Client,
  database: string,
  point: KillPoint,
  seed: number,
): Promise<string> {
  const exited = new Promise<void>((done) => victim.once('exit', () => done()));
  let finished = false;
  void exited.then(() => {
    finished = true;
  });
  // Wait until the victim is connected, so the clock starts at its first query.
  while (!finished && !(await activeQuery(observer, database, APPLICATION, '%'))) await sleep(5);
  if (point === 'random') {
    await sleep(pseudoRandom(seed) * 900);
    const during = (await activeQuery(observer, database, APPLICATION, '%')) ?? 'between queries';
    const alreadyDone = finished;
    victim.kill('SIGKILL');
    await exited;
    return alreadyDone ? 'after it finished' : during;
  }
  const deadline = Date.now() + 20_000;
  while (!finished && Date.now() < deadline) {
    const query = await activeQuery(observer, database, APPLICATION, PHASE_PATTERNS[point]);
    if (query) {
      victim.kill('SIGKILL');
      await exited;
      return query;
    }
    await sleep(2);
  }
  victim.kill('SIGKILL');
  await exited;
  return 'phase never seen';
}

async function checkAfterKill(db: pg.Client): Promise<{ problems: string[]; heads: string[] }> {
  const problems: string[] = [];
  const exists = (await db.query(`SELECT to_regclass('rds_migrate.heads') AS t`)).rows[0]?.t !== null;
  const heads = exists
    ? (await db.query<{ revision: string }>('SELECT revision FROM rds_migrate.heads')).rows
        .map((r) => r.revision)
        .sort()
    : [];
  const boundary = UNIT_BOUNDARIES.findIndex(
    (candidate) => JSON.stringify(candidate) === JSON.stringify(heads),
  );
  if (boundary === -1) problems.push(`heads ${JSON.stringify(heads)} are not a unit boundary`);
  const applied = new Set(REVISIONS.slice(0, boundary === 0 ? 0 : boundary + 1));
  const table = async (name: string) =>
    (await db.query('SELECT to_regclass($1) AS t', [name])).rows[0]?.t !== null;
  if ((await table('k_data')) !== applied.has('kkkk00000001'))
    problems.push('k_data does not match the heads');
  if ((await table('k2')) !== applied.has('kkkk00000002')) problems.push('k2 does not match the heads');
  if ((await table('k5')) !== applied.has('kkkk00000005')) problems.push('k5 does not match the heads');
  if (exists) {
    const log = await db.query<{ revision: string; n: string }>(
      `SELECT revision, count(*) AS n FROM rds_migrate.log WHERE direction = 'up' GROUP BY revision`,
    );
    for (const row of log.rows) {
      if (Number(row.n) !== 1) problems.push(`${row.revision} logged ${row.n} times`);
      if (!applied.has(row.revision)) problems.push(`${row.revision} logged but not applied`);
    }
    if (log.rows.length !== applied.size)
      problems.push(`${log.rows.length} log rows for ${applied.size} applied revisions`);
    const progress = await db.query<{ revision: string }>('SELECT revision FROM rds_migrate.in_progress');
    for (const row of progress.rows) {
      // k3 starts from heads [k2] (boundary 1), k4 from [k3] (boundary 2).
      const expected = row.revision === 'kkkk00000003' ? 1 : row.revision === 'kkkk00000004' ? 2 : -1;
      if (boundary !== expected)
        problems.push(`in_progress ${row.revision} at heads ${JSON.stringify(heads)}`);
    }
  }
  if (applied.has('kkkk00000003')) {
    const left = await db.query(`SELECT 1 FROM k_data WHERE NOT done LIMIT 1`);
    if (left.rows.length > 0) problems.push('kkkk00000003 applied but rows are not filled');
  }
  return { problems, heads };
}

async function recoverAndCheck(url: string, db: pg.Client): Promise<string[]> {
  const problems: string[] = [];
  const { code, stderr } = await runCliCaptured(['up', '-d', KILL_FOLDER], {
    env: { DATABASE_URL: url },
    cwd: repo,
  });
  if (code !== 0) return [`recovery up exited ${code}: ${stderr.trim()}`];
  const heads = (await db.query<{ revision: string }>('SELECT revision FROM rds_migrate.heads')).rows.map(
    (r) => r.revision,
  );
  if (JSON.stringify(heads) !== JSON.stringify(['kkkk00000005']))
    problems.push(`recovered to ${JSON.stringify(heads)}`);
  const log = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT revision FROM rds_migrate.log WHERE direction = 'up' GROUP BY revision HAVING count(*) > 1) d`,
  );
  if (Number(log.rows[0]?.n) > 0) problems.push('a revision was logged twice after recovery');
  if ((await db.query('SELECT 1 FROM k_data WHERE NOT done LIMIT 1')).rows.length > 0)
    problems.push('rows left unfilled');
  const index = await db.query<{ valid: boolean }>(
    `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'k_data_v'::regclass`,
  );
  if (index.rows[0]?.valid !== true) problems.push('index k_data_v is not valid after recovery');
  if ((await db.query('SELECT 1 FROM rds_migrate.in_progress')).rows.length > 0)
    problems.push('in_progress left after recovery');
  return problems;
}

function pseudoRandom(seed: number): number {
  const x = Math.sin(seed * 9301 + 49297) * 233280;
  return x - Math.floor(x);
}
