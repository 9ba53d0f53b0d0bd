/**
 * The text of a generated SQL migration: the header the loader reads, a note that says where it
 * came from, the up statements (each with its notes and allow lines awaiting a reason directly
 * above it) and the down statements. Also where each up statement landed, for the review list.
 */
import type { Revision } from '../engine/migration.ts';
import type { DraftStatement } from './safe-migrations.ts';

const ALLOW = '-- rds-migrate:allow';

export interface GeneratedMigrationText {
  readonly revision: Revision;
  readonly parent: Revision | undefined;
  readonly message: string;
  readonly transactional: boolean;
  /** Header lines, e.g. `statement_timeout: 30min`. */
  readonly extraHeader?: readonly string[];
  /** Why the migration is what it is, as comment lines under the header. */
  readonly about: readonly string[];
  readonly up: readonly DraftStatement[];
  /** Down statements; undefined for no down step (the first pass, before it is known). */
  readonly down?: readonly string[];
}

interface RenderedMigration {
  readonly text: string;
  /** 1-based line of each up statement's first line, in order. */
  readonly upLines: readonly number[];
}

export function renderMigration(migration: GeneratedMigrationText): RenderedMigration {
  const lines = [
    `-- revision: ${migration.revision}`,
    `-- down_revision: ${migration.parent ?? 'none'}`,
    `-- message: ${migration.message}`,
    ...(migration.transactional ? [] : ['-- transaction: false']),
    ...(migration.extraHeader ?? []).map((line) => `-- ${line}`),
    '--',
    ...migration.about.map((line) => `-- ${line}`),
    '',
    '-- migrate:up',
  ];
  const upLines: number[] = [];
  for (const statement of migration.up) {
    for (const note of statement.notes) lines.push(`-- ${note}`);
    // Allow lines with our reason first: those awaiting one stay directly above the statement.
    for (const rule of statement.allowed ?? [])
      lines.push(`${ALLOW} ${rule} ${statement.vouched?.[rule] ?? ''}`);
    for (const rule of statement.awaiting) lines.push(`${ALLOW} ${rule}`);
    upLines.push(lines.length + 1);
    lines.push(...statement.sql.split('\n'), '');
  }
  if (migration.down !== undefined) {
    lines.push('-- migrate:down');
    for (const statement of migration.down) lines.push(...statement.split('\n'), '');
    if (migration.down.length === 0) lines.push('');
  }
  return { text: `${lines.join('\n').replace(/\n+$/, '')}\n`, upLines };
}

/** The same migration with every allow line given `reason`: what the linter sees once a person decided. */
export function withReasons(text: string, reason: string): string {
  return text
    .split('\n')
    .map((line) =>
      line.startsWith(`${ALLOW} `) && line.trim().split(/\s+/).length === 3 ? `${line} ${reason}` : line,
    )
    .join('\n');
}

/** `add_profile_image_to_users` from a message, as file names carry it. */
export function slugOf(message: string): string {
  return message
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 48);
}
