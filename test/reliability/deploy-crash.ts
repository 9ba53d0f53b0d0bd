/**
 * One deploy-crash trial: a Create of the deploy-crash bundle through the Provider framework's
 * protocol, every handler call in a child process (deploy-call.ts), some of them SIGKILLed as an
 * out-of-memory or runtime crash would, after which the framework goes on: a killed onEvent is
 * delivered again, a killed poll is followed by the next poll. At the end the deploy must have
 * succeeded with every revision applied exactly once, every row of the backfill applied once,
 * and an answer that describes the whole deploy. Shared by `npm test` (aimed trials) and
 * `npm run soak` (many).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { cfnEvent } from '../fixtures/handler/harness.ts';
import { TEST_DATABASE_STRATEGY } from '../support/database.ts';
import { FileSnapshots, type TrialState } from './deploy-call.ts';
import { activeQuery, sleep, waitForSessionsToEnd } from './sessions.ts';

/** The application name the process under trial connects with. */
const APPLICATION = 'rds-migrate lambda';

const repo = resolve(import.meta.dirname, '../..');
const CALL = resolve(import.meta.dirname, 'deploy-call.ts');
const REVISIONS = ['dddd00000001', 'dddd00000002', 'dddd00000003', 'dddd00000004'];
const TARGET = 'dddd00000004';
const ROWS = 2000;

/**
 * Where to kill: `after-batch` while the code after the backfill's last batch runs (the walk is
 * done, the step not yet recorded); `prune` while retention deletes an old snapshot (everything
 * committed, the answer not given); `snapshot` right after RDS accepted the snapshot, in onEvent;
 * `random` anywhere, a few times.
 */
export type DeployKillPoint = 'after-batch' | 'prune' | 'snapshot' | 'random';

export interface DeployTrialResult {
  readonly point: DeployKillPoint;
  readonly kills: readonly string[];
  readonly calls: number;
  readonly problems: readonly string[];
  /** Rows of the backfill applied more than once (0 when correct). */
  readonly doubleApplied: number;
}

interface CallOutcome {
  readonly killed?: string;
  readonly result?: Record<string, unknown>;
  readonly error?: string;
}

export async function runDeployCrashTrial(
  adminUrl: string,
  point: DeployKillPoint,
  seed: number,
): Promise<DeployTrialResult> {
  const name = `crash_${randomBytes(5).toString('hex')}`;
  const folder = mkdtempSync(join(tmpdir(), 'rds-migrate-crash-'));
  chmodSync(folder, 0o755);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} ${TEST_DATABASE_STRATEGY}`);
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  const observer = new pg.Client({ connectionString: url });
  await observer.connect();
  const random = seededRandom(seed);
  const kills: string[] = [];
  let calls = 0;
  try {
    writeFileSync(
      join(folder, 'state.json'),
      JSON.stringify({ url, stackStatus: 'CREATE_IN_PROGRESS' } satisfies TrialState),
    );
    seedOldSnapshot(folder);
    const event = cfnEvent('cfn-create', {
      TargetRevision: TARGET,
      Snapshot: { Enabled: 'true', Retain: '1' },
    });
    const call = async (
      payload: Record<string, unknown>,
      phase: 'onEvent' | 'poll',
    ): Promise<CallOutcome> => {
      calls += 1;
      const aim = kills.length >= 3 ? undefined : aimFor(point, phase, kills.length, random);
      const outcome = await runCall(folder, payload, aim, observer, name);
      if (outcome.killed) kills.push(`${phase}: ${outcome.killed}`);
      return outcome;
    };

    let onEvent: CallOutcome;
    do onEvent = await call(event, 'onEvent');
    while (onEvent.killed && calls < 10);
    if (onEvent.error || !onEvent.result)
      return done([`onEvent failed: ${onEvent.error ?? 'killed every time'}`]);
    const poll = { ...event, ...onEvent.result };
    let answer: Record<string, unknown> | undefined;
    for (let polls = 0; polls < 40 && !answer; polls++) {
      const outcome = await call(poll, 'poll');
      if (outcome.error) return done([`a poll failed: ${outcome.error}`]);
      if (outcome.result?.IsComplete) answer = outcome.result;
    }
    if (!answer) return done(['the deploy never completed']);
    const data = { ...(onEvent.result.Data as object), ...(answer.Data as object) } as Record<
      string,
      unknown
    >;
    return done(await checkDeploy(observer, folder, data));
  } finally {
    await observer.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    rmSync(folder, { recursive: true, force: true });
  }

  async function done(problems: string[]): Promise<DeployTrialResult> {
    const twice = await observer
      .query<{ n: string }>('SELECT count(*) AS n FROM items WHERE applied > 1')
      .then((result) => Number(result.rows[0]?.n ?? 0))
      .catch(() => 0);
    return { point, kills, calls, problems, doubleApplied: twice };
  }
}

/** An older snapshot of this tool's, so that retention (retain 1) has one to delete. */
function seedOldSnapshot(folder: string): void {
  writeFileSync(
    join(folder, 'snapshots.json'),
    JSON.stringify({
      'rds-migrate-app-db-20260101000000': {
        createdAt: '2026-01-01T00:00:00.000Z',
        tags: { 'rds-migrate:stack': 'MyAppStack' },
        polls: 5,
      },
    }),
  );
}

type Aim =
  | { readonly when: 'query'; readonly pattern: string }
  | { readonly when: 'file'; readonly file: string }
  | { readonly when: 'after'; readonly ms: number };

/** Where this call is killed, if at all. */
function aimFor(
  point: DeployKillPoint,
  phase: 'onEvent' | 'poll',
  killsSoFar: number,
  random: () => number,
): Aim | undefined {
  switch (point) {
    case 'after-batch':
      return phase === 'poll' && killsSoFar === 0
        ? { when: 'query', pattern: '%phase:after-batch%' }
        : undefined;
    case 'prune':
      return phase === 'poll' && killsSoFar === 0 ? { when: 'file', file: 'pruning' } : undefined;
    case 'snapshot':
      return phase === 'onEvent' && killsSoFar === 0
        ? { when: 'file', file: 'snapshot-requested' }
        : undefined;
    case 'random':
      return random() < 0.4 ? { when: 'after', ms: 300 + random() * 2500 } : undefined;
  }
}

async function runCall(
  folder: string,
  payload: Record<string, unknown>,
  aim: Aim | undefined,
  observer: pg.Client,
  database: string,
): Promise<CallOutcome> {
  const eventFile = join(folder, `event-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(eventFile, JSON.stringify(payload));
  for (const marker of ['pruning', 'snapshot-requested']) {
    if (existsSync(join(folder, marker))) unlinkSync(join(folder, marker));
  }
  // One process (`node --import tsx`), not tsx's CLI, which would leave a child behind the kill.
  const child = spawn(process.execPath, ['--import', 'tsx', CALL, folder, eventFile], {
    cwd: repo,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_NO_WARNINGS: '1', LOG_LEVEL: 'CRITICAL' },
    stdio: ['ignore', 'pipe', process.env.DEPLOY_CRASH_DEBUG ? 'inherit' : 'ignore'],
  });
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const killed = aim ? await killWhen(child, exited, aim, folder, observer, database) : undefined;
  await exited;
  unlinkSync(eventFile);
  if (killed) {
    await waitForSessionsToEnd(observer, database, APPLICATION);
    return { killed };
  }
  try {
    return JSON.parse(stdout) as CallOutcome;
  } catch {
    return { error: `the call printed no answer: ${stdout.slice(0, 200)}` };
  }
}

/** Waits for the aim, then SIGKILLs; undefined when the call finished first. */
async function killWhen(
  child: ChildProcess,
  exited: Promise<void>,
  aim: Aim,
  folder: string,
  observer: pg.Client,
  database: string,
): Promise<string | undefined> {
  let finished = false;
  void exited.then(() => {
    finished = true;
  });
  const started = Date.now();
  while (!finished && Date.now() - started < 30_000) {
    if (aim.when === 'after' && Date.now() - started >= aim.ms) {
      const during = (await activeQuery(observer, database, APPLICATION, '%')) ?? 'between queries';
      return kill(child, exited, `after ${Math.round(aim.ms)} ms, during ${during}`);
    }
    if (aim.when === 'file' && existsSync(join(folder, aim.file)))
      return kill(child, exited, `at ${aim.file}`);
    if (aim.when === 'query') {
      const query = await activeQuery(observer, database, APPLICATION, aim.pattern);
      if (query) return kill(child, exited, `during ${query}`);
    }
    await sleep(aim.when === 'query' ? 3 : 10);
  }
  return undefined;
}

async function kill(child: ChildProcess, exited: Promise<void>, what: string): Promise<string | undefined> {
  if (child.exitCode !== null) return undefined;
  child.kill('SIGKILL');
  await exited;
  return what;
}

async function checkDeploy(db: pg.Client, folder: string, data: Record<string, unknown>): Promise<string[]> {
  const problems: string[] = [];
  if (data.Revision !== TARGET) problems.push(`answered Revision ${String(data.Revision)}`);
  if (data.Applied !== String(REVISIONS.length))
    problems.push(`answered Applied ${String(data.Applied)}, not ${REVISIONS.length}`);
  const heads = (await db.query<{ revision: string }>('SELECT revision FROM rds_migrate.heads')).rows.map(
    (r) => r.revision,
  );
  if (JSON.stringify(heads) !== JSON.stringify([TARGET])) problems.push(`heads ${JSON.stringify(heads)}`);
  const log = await db.query<{ revision: string; n: string }>(
    `SELECT revision, count(*) AS n FROM rds_migrate.log WHERE direction = 'up' GROUP BY revision ORDER BY revision`,
  );
  for (const revision of REVISIONS) {
    const n = Number(log.rows.find((row) => row.revision === revision)?.n ?? 0);
    if (n !== 1) problems.push(`${revision} logged ${n} times`);
  }
  const rows = await db.query<{ applied: number; n: string }>(
    'SELECT applied, count(*) AS n FROM items GROUP BY applied ORDER BY applied',
  );
  const counts = rows.rows.map((row) => `${row.n} rows applied ${row.applied}x`).join(', ');
  if (rows.rows.length !== 1 || rows.rows[0]?.applied !== 1 || Number(rows.rows[0]?.n) !== ROWS)
    problems.push(`backfill: ${counts}`);
  for (const table of ['in_progress', 'checkpoints']) {
    const left = await db.query(`SELECT 1 FROM rds_migrate.${table}`);
    if (left.rows.length > 0) problems.push(`rows left in ${table}`);
  }
  const index = await db.query<{ valid: boolean }>(
    `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'items_applied'::regclass`,
  );
  if (index.rows[0]?.valid !== true) problems.push('index items_applied is not valid');
  const ours = (await new FileSnapshots(folder).list()).filter(
    (snapshot) => snapshot.tags['rds-migrate:request'],
  );
  if (ours.length !== 1) problems.push(`${ours.length} snapshots made by the deploy, not 1`);
  return problems;
}

function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
