/**
 * Crash windows of a deploy: every handler call in its own process, SIGKILLed where work done and
 * work recorded could be two commits apart, the Provider framework going on after each kill. One
 * trial aimed at each window; `npm run soak` runs these and many at random moments.
 */
import { describe, expect, inject, it } from 'vitest';
import { type DeployKillPoint, runDeployCrashTrial } from './deploy-crash.ts';

const TRIAL_TIMEOUT = 120_000;

describe('a deploy whose function is killed, then goes on', () => {
  const cases: [DeployKillPoint, string, number][] = [
    ['after-batch', 'after the backfill finished, before its step was recorded', 11],
    ['prune', 'after the last COMMIT, before the answer', 12],
    ['snapshot', 'in onEvent, right after RDS accepted the snapshot', 13],
  ];
  for (const [point, when, seed] of cases) {
    it(
      `ends with every revision and every row applied once, and the right answer, when killed ${when}`,
      async () => {
        const result = await runDeployCrashTrial(inject('postgresAdminUrl'), point, seed);
        expect(result.kills).toHaveLength(1);
        expect(result.problems).toEqual([]);
        expect(result.doubleApplied).toBe(0);
      },
      TRIAL_TIMEOUT,
    );
  }
});
