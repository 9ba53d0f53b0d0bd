/**
 * The vitest configuration `npm run mutate` gives Stryker: the module's test files only (named by
 * scripts/mutate.ts in RDS_MIGRATE_MUTATE_TESTS). No embedded PostgreSQL for pure tests, since a
 * server per Stryker run would cost seconds and memory for nothing; a module whose tests drive the
 * deployed function against a real database (RDS_MIGRATE_MUTATE_POSTGRES=1) gets the suite's one
 * server, started once per test runner and kept across its mutants.
 * The files are chosen here, not with Stryker's testFiles: with that option Stryker 9.6 activates
 * a mutant of a module constant after the module has loaded, and reports it survived
 * (stryker-js issue 6144).
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: process.env.RDS_MIGRATE_MUTATE_TESTS?.split(',') ?? ['test/**/*.test.ts'],
    ...(process.env.RDS_MIGRATE_MUTATE_POSTGRES === '1'
      ? { globalSetup: ['test/support/global-postgres.ts'], hookTimeout: 120_000 }
      : {}),
    testTimeout: 30_000,
  },
});
