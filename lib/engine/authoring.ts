/**
 * Writing new migration files: `create` (an empty SQL or TS migration on top of the head) and
 * `merge` (a revision whose parents are several heads). The file name carries a timestamp for
 * humans; order comes from `down_revision` alone.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { counted } from './counted.ts';
import { GraphError, UsageError } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import { BASE, type Revision } from './migration.ts';
import { resolveRevision } from './target.ts';

interface CreatedMigration {
  readonly revision: Revision;
  readonly downRevisions: readonly Revision[];
  readonly path: string;
}

interface CreateOptions {
  readonly directory: string;
  readonly message: string;
  readonly kind: 'sql' | 'ts';
  /** Parent to build on when the folder has several heads (`<rev>`, `billing@head`). @default the single head */
  readonly head?: string;
  readonly now?: Date;
}

export function newRevisionId(): Revision {
  return randomBytes(6).toString('hex');
}

export async function createMigration(
  graph: RevisionGraph,
  options: CreateOptions,
): Promise<CreatedMigration> {
  const parents = graph.size === 0 ? [] : parentsFor(graph, options.head);
  const revision = newRevisionId();
  const text =
    options.kind === 'sql'
      ? sqlTemplate(revision, parents, options.message)
      : tsTemplate(revision, parents, options.message);
  const path = await writeNew(options.directory, options.message, options.kind, text, options.now);
  return { revision, downRevisions: parents, path };
}

/** The parent a new migration builds on; `--head base` starts a new root, as in Alembic. */
function parentsFor(graph: RevisionGraph, head: string | undefined): Revision[] {
  if (head === undefined) return [graph.singleHead()];
  const parent = resolveRevision(graph, head);
  return parent === BASE ? [] : [parent];
}

interface MergeOptions {
  readonly directory: string;
  readonly message: string;
  /** Heads to join. @default every head */
  readonly revisions?: readonly string[];
  readonly now?: Date;
}

export async function createMerge(graph: RevisionGraph, options: MergeOptions): Promise<CreatedMigration> {
  const parents =
    options.revisions && options.revisions.length > 0
      ? options.revisions.map((spec) => resolveRevision(graph, spec))
      : [...graph.heads];
  if (new Set(parents).size < 2) {
    throw new GraphError(
      'multiple-heads',
      `a merge needs two or more revisions to join; the folder has ${counted(graph.heads.length, 'head')} (${graph.heads.join(', ') || 'none'})`,
      parents,
    );
  }
  const revision = newRevisionId();
  const text = `-- revision: ${revision}
-- down_revision: ${parents.join(', ')}
-- message: ${options.message}
--
-- Joins the branches ${parents.join(' and ')}. Usually empty; put SQL here only if the branches
-- need reconciling.

-- migrate:up

-- migrate:down
`;
  const path = await writeNew(options.directory, options.message, 'sql', text, options.now);
  return { revision, downRevisions: parents, path };
}

function sqlTemplate(revision: Revision, parents: readonly Revision[], message: string): string {
  return `-- revision: ${revision}
-- down_revision: ${parents.join(', ') || 'none'}
-- message: ${message}
--
-- Optional header lines: 'transaction: false' runs this migration outside the plan's
-- transaction (needed for CREATE INDEX CONCURRENTLY); 'lock_timeout: 5s' and
-- 'statement_timeout: 5min' override the defaults; 'irreversible: <why>' instead of a down step;
-- 'branch_labels: billing' names this branch (billing@head); 'depends_on: <rev>' applies
-- another branch's revision first without merging. 'background: true' with 'batch_table: <table>'
-- runs the up statement per batch of keys ($1) beside the deploy; 'requires_complete: <rev>'
-- waits for such a background migration to complete.

-- migrate:up


-- migrate:down

`;
}

function tsTemplate(revision: Revision, parents: readonly Revision[], message: string): string {
  const downRevision =
    parents.length === 0 ? 'null' : parents.length === 1 ? `'${parents[0]}'` : JSON.stringify(parents);
  return `import type { MigrationContext } from 'rds-migrate';

export default {
  revision: '${revision}',
  downRevision: ${downRevision},
  message: ${JSON.stringify(message)},
  // transaction: false, // run outside the plan's transaction (required to use ctx.batch)
  // branchLabels: ['billing'], // names this branch: billing@head, billing@base
  // dependsOn: ['<revision>'], // another branch's revision, applied first without merging
  // background: true, // data work only, one ctx.batch walk, run beside the deploy (Step Functions)
  // requiresComplete: ['<revision>'], // applied only once that background migration has completed

  async up(ctx: MigrationContext): Promise<void> {
    // await ctx.sql\`ALTER TABLE ...\`;
  },

  async down(ctx: MigrationContext): Promise<void> {
    // await ctx.sql\`...\`;
  },
};
`;
}

async function writeNew(
  directory: string,
  message: string,
  kind: 'sql' | 'ts',
  text: string,
  now = new Date(),
): Promise<string> {
  const slug = message
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 48);
  if (slug === '') throw new UsageError('the message needs some letters or digits: it names the file');
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 12);
  await mkdir(directory, { recursive: true });
  const path = join(directory, `${stamp}_${slug}.${kind}`);
  if (existsSync(path))
    throw new UsageError(`${path} already exists; choose another message or wait a minute`);
  await writeFile(path, text, { flag: 'wx' });
  return path;
}
