/**
 * kill -9 at chosen points of a five-migration plan (two transactions, a batched data
 * migration and a CREATE INDEX CONCURRENTLY outside them): the state left is always a unit
 * boundary or a resumable in-progress migration, and the next `up` finishes with every
 * revision applied exactly once. `npm run soak` runs many more trials.
 */
import { describe, expect, inject, it } from 'vitest';
import { type KillPoint, runKillTrial } from './kill-trial.ts';

/** Each point once; `npm run soak` runs these and many at random moments. */
const TRIALS: KillPoint[] = ['txn', 'batch', 'nontxn', 'history'];

describe('kill -9 during up', () => {
  it.each(TRIALS.map((point, seed) => ({ point, seed })))(
    'leaves a consistent, resumable state (trial $seed: kill during $point)',
    async ({ point, seed }) => {
      const result = await runKillTrial(inject('postgresAdminUrl'), point, seed);
      expect(result.killedDuring).not.toBe('phase never seen');
      expect(result.problems).toEqual([]);
    },
    60_000,
  );
});
