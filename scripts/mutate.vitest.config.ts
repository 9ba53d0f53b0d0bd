/**
 * The vitest configuration `npm run mutate` gives Stryker: the module's test files only (Stryker
 * passes them), and no embedded PostgreSQL, since the tests mapped in scripts/mutate.ts are pure
 * and a server per Stryker run would cost seconds and memory for nothing.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
