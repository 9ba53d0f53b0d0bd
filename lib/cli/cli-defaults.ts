/**
 * The CLI's exit codes, default folder and release: what the entry, the program (before any
 * command module loads) and the commands share, in a module that loads only the release's, so
 * `--version` stays light.
 */

export { RELEASE } from '../engine/version.ts';

/** Exit codes: 0 success, 1 the operation failed, 2 bad usage, 3 another run holds the lock. */
export const EXIT = { ok: 0, failed: 1, usage: 2, locked: 3 } as const;

/** The migrations folder when neither -d nor RDS_MIGRATE_DIR names one. */
export const DEFAULT_MIGRATIONS_DIR = 'migrations';
