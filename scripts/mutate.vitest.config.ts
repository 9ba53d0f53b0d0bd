/**
 * The vitest configuration `npm run mutate` gives Stryker: the module's test files only (named by
 * scripts/mutate.ts in RDS_MIGRATE_MUTATE_TESTS), and no embedded PostgreSQL, since the tests
 * mapped there are pure and a server per Stryker run would cost seconds and memory for nothing.
 * The files are chosen here, not with Stryker's testFiles: with that option Stryker 9.6 activates
 * a mutant of a module constant after the module has loaded, and reports it survived
 * (stryker-js issue 6144).
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: process.env.RDS_MIGRATE_MUTATE_TESTS?.split(',') ?? ['test/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
