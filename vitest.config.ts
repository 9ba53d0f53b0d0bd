import { defineConfig } from 'vitest/config';
import SlowestFirst from './test/support/slowest-first.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-postgres.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: files in parallel, each on its own databases of one shared server.
    fileParallelism: true,
    maxWorkers: 2,
    // The slowest files first, also where vitest has not measured them yet (slowest-first.ts).
    sequence: { sequencer: SlowestFirst },
  },
});
