/**
 * A migrations folder as a deploy sees it: the revision it brings the database to and a hash
 * of its content, so that a deploy with new or changed migrations is an Update.
 */
import { createHash } from 'node:crypto';
import { RevisionGraph } from './graph.ts';
import { loadMigrations } from './loader.ts';
import type { Migration, Revision } from './migration.ts';

export interface BundleDescription {
  /** The single head the deploy migrates to. */
  readonly head: Revision;
  readonly revisions: number;
  /** sha256 over every (revision, checksum) pair, in revision order. */
  readonly hash: string;
}

export async function describeBundle(directory: string): Promise<BundleDescription> {
  const migrations = await loadMigrations(directory);
  const graph = RevisionGraph.from(migrations);
  return { head: graph.singleHead(), revisions: graph.size, hash: bundleHash(migrations) };
}

export function bundleHash(migrations: readonly Migration[]): string {
  const hash = createHash('sha256');
  for (const migration of [...migrations].sort((a, b) => (a.revision < b.revision ? -1 : 1))) {
    hash.update(`${migration.revision}:${migration.checksum}\n`);
  }
  return hash.digest('hex');
}
