/**
 * `npm run soak [cli-trials] [deploy-trials]`: many kill -9 trials on an embedded PostgreSQL of its
 * own (default 50 of each).
 * - CLI trials: `rds-migrate up` killed at a chosen point, then `up` again (test/reliability/kill-trial.ts).
 * - Deploy trials: every call of the deployed function in its own process, some killed, the
 *   Provider framework going on (test/reliability/deploy-crash.ts); a backfill counts how often
 *   each row was applied, so a double application is seen.
 * Prints each trial and the counts; exits 1 when any trial found a problem.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded } from '../lib/local/embedded.ts';
import { type DeployKillPoint, runDeployCrashTrial } from '../test/reliability/deploy-crash.ts';
import { type KillPoint, runKillTrial } from '../test/reliability/kill-trial.ts';

const cliTrials = Number(process.argv[2] ?? 50);
const deployTrials = Number(process.argv[3] ?? 50);
const points: KillPoint[] = ['txn', 'batch', 'nontxn', 'history', 'random', 'random'];
const deployPoints: DeployKillPoint[] = ['after-batch', 'prune', 'snapshot', 'random', 'random', 'random'];
const folder = await mkdtemp(join(tmpdir(), 'rds-migrate-soak-'));
const server = await startEmbedded({ dataDir: join(folder, 'data'), throwaway: true, database: 'postgres' });
let inconsistent = 0;
let failedDeploys = 0;
let doubleApplied = 0;
let kills = 0;
const byHeads = new Map<string, number>();
try {
  for (let trial = 0; trial < cliTrials; trial++) {
    const point = points[trial % points.length] as KillPoint;
    const result = await runKillTrial(server.url('postgres'), point, trial + 1000);
    const heads = result.headsAfterKill.join(',') || 'base';
    byHeads.set(heads, (byHeads.get(heads) ?? 0) + 1);
    if (result.problems.length > 0) inconsistent++;
    console.log(
      `cli trial ${String(trial + 1).padStart(3)}  kill during ${point.padEnd(7)} heads after kill ${heads.padEnd(13)} ` +
        `${result.problems.length === 0 ? 'consistent' : `INCONSISTENT: ${result.problems.join('; ')}`}  (${result.killedDuring})`,
    );
  }
  for (let trial = 0; trial < deployTrials; trial++) {
    const point = deployPoints[trial % deployPoints.length] as DeployKillPoint;
    const result = await runDeployCrashTrial(server.url('postgres'), point, trial + 2000);
    kills += result.kills.length;
    doubleApplied += result.doubleApplied;
    if (result.problems.length > 0) failedDeploys++;
    console.log(
      `deploy trial ${String(trial + 1).padStart(3)}  ${point.padEnd(11)} ${result.calls} calls, ${result.kills.length} killed  ` +
        `${result.problems.length === 0 ? 'ok' : `PROBLEMS: ${result.problems.join('; ')}`}` +
        `${result.kills.length > 0 ? `  (${result.kills.join(' | ')})` : ''}`,
    );
  }
} finally {
  await server.stop();
  await rm(folder, { recursive: true, force: true });
}
console.log(`\n${cliTrials} CLI trials, ${inconsistent} inconsistent states`);
console.log(`states left by the kill: ${[...byHeads].map(([heads, n]) => `${heads} x${n}`).join(', ')}`);
console.log(
  `${deployTrials} deploy trials, ${kills} calls killed, ${failedDeploys} deploys with problems, ` +
    `${doubleApplied} rows applied twice`,
);
process.exit(inconsistent === 0 && failedDeploys === 0 && doubleApplied === 0 ? 0 : 1);
