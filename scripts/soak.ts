/**
 * `npm run soak`: many kill -9 trials (default 50, or the first argument) on an embedded
 * PostgreSQL of its own, with the state each kill left and the count of inconsistent states.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded } from '../lib/local/embedded.ts';
import { type KillPoint, runKillTrial } from '../test/reliability/kill-trial.ts';

const trials = Number(process.argv[2] ?? 50);
const points: KillPoint[] = ['txn', 'batch', 'nontxn', 'history', 'random', 'random'];
const folder = await mkdtemp(join(tmpdir(), 'rds-migrate-soak-'));
const server = await startEmbedded({ dataDir: join(folder, 'data'), throwaway: true, database: 'postgres' });
let inconsistent = 0;
const byHeads = new Map<string, number>();
try {
  for (let trial = 0; trial < trials; trial++) {
    const point = points[trial % points.length] as KillPoint;
    const result = await runKillTrial(server.url('postgres'), point, trial + 1000);
    const heads = result.headsAfterKill.join(',') || 'base';
    byHeads.set(heads, (byHeads.get(heads) ?? 0) + 1);
    if (result.problems.length > 0) inconsistent++;
    console.log(
      `trial ${String(trial + 1).padStart(3)}  kill during ${point.padEnd(7)} heads after kill ${heads.padEnd(13)} ` +
        `${result.problems.length === 0 ? 'consistent' : `INCONSISTENT: ${result.problems.join('; ')}`}  (${result.killedDuring})`,
    );
  }
} finally {
  await server.stop();
  await rm(folder, { recursive: true, force: true });
}
console.log(`\n${trials} trials, ${inconsistent} inconsistent states`);
console.log(`states left by the kill: ${[...byHeads].map(([heads, n]) => `${heads} x${n}`).join(', ')}`);
process.exit(inconsistent === 0 ? 0 : 1);
