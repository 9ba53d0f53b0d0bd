/**
 * Where the benchmarks keep their throwaway PostgreSQL: memory-backed /dev/shm when there is
 * one. On a VM disk, creating and unlinking the relation files of 500 tables varies by several
 * times from run to run and drowns what the tools add.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';

export async function scratchParent(): Promise<string> {
  try {
    await access('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}
