/**
 * One embedded PostgreSQL for the whole test run; each test makes its own databases on it.
 * Its data lives in a temporary folder removed at the end.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbedded } from '../../lib/local/embedded.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const folder = await mkdtemp(join(tmpdir(), 'rds-migrate-test-'));
  const server = await startEmbedded({
    dataDir: join(folder, 'data'),
    throwaway: true,
    database: 'postgres',
  });
  project.provide('postgresAdminUrl', server.url('postgres'));
  return async () => {
    await server.stop();
    await rm(folder, { recursive: true, force: true });
  };
}
