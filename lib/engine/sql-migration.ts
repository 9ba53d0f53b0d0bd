/**
 * A SQL migration file: its header comment (revision, parents, options) and its `-- migrate:up` /
 * `-- migrate:down` sections, each with the line it starts at.
 */
import { MigrationLoadError } from './errors.ts';
import type { Migration, MigrationStep, MigrationTimeouts } from './migration.ts';
import {
  messageFromFileName,
  optionalNames,
  sha256Hex,
  validName,
  validRevision,
} from './migration-fields.ts';

// ---------- SQL files ----------

const HEADER_LINE = /^--\s*([a-z_]+)\s*:\s*(.*?)\s*$/;

const SECTION_MARKER = /^--\s*migrate:(up|down)\s*$/;

const KNOWN_HEADER_KEYS = new Set([
  'revision',
  'down_revision',
  'message',
  'transaction',
  'lock_timeout',
  'statement_timeout',
  'irreversible',
  'branch_labels',
  'depends_on',
  'lock_retries',
  'background',
  'requires_complete',
  'batch_table',
  'batch_key',
  'batch_size',
  'replaces',
]);

/** Parses the text of a SQL migration file; `source` names it in errors. */
export function parseSqlMigration(source: string, text: string): Migration {
  const normalized = text.includes('\r') ? text.replace(/\r\n/g, '\n') : text;
  const markers = sectionMarkers(normalized);
  const header = parseHeader(source, normalized.slice(0, markers[0]?.lineStart ?? normalized.length));
  const sections: Record<'up' | 'down', SectionText | undefined> = { up: undefined, down: undefined };
  for (const [index, marker] of markers.entries()) {
    if (sections[marker.section]) {
      throw new MigrationLoadError(source, `has two '-- migrate:${marker.section}' sections`);
    }
    const next = markers[index + 1];
    sections[marker.section] = sectionText(normalized, marker, next ? next.lineStart - 1 : normalized.length);
  }

  const revision = header.get('revision');
  if (!revision) {
    throw new MigrationLoadError(
      source,
      "has no '-- revision: <id>' line in its header; add one (rds-migrate create writes it)",
    );
  }
  const up = sections.up;
  if (!up)
    throw new MigrationLoadError(source, "has no '-- migrate:up' line; put the migration's SQL under one");
  const irreversible = header.get('irreversible') || undefined;
  const down = sections.down;
  const downText = down?.sql ?? '';
  if (irreversible && downText !== '') {
    throw new MigrationLoadError(source, "is marked 'irreversible' but has a down step; keep one of the two");
  }
  const background = parseBoolean(source, 'background', header.get('background'), false);
  const upSql = up.sql;
  return {
    revision: validRevision(source, revision),
    downRevisions: parseParents(source, header.get('down_revision')),
    ...optionalNames('branchLabels', headerNames(source, 'branch_labels', header.get('branch_labels'))),
    ...optionalNames('dependsOn', headerNames(source, 'depends_on', header.get('depends_on'))),
    ...optionalNames('replaces', parseParents(source, header.get('replaces'))),
    ...backgroundFields(
      source,
      background,
      headerNames(source, 'requires_complete', header.get('requires_complete')),
    ),
    message: header.get('message') ?? messageFromFileName(source),
    transaction: backgroundTransaction(source, background, header.get('transaction')),
    timeouts: timeoutsFrom(header.get('lock_timeout'), header.get('statement_timeout')),
    ...lockRetriesFrom(source, header.get('lock_retries')),
    up: background ? sqlBatchStep(source, upSql, header) : { kind: 'sql', sql: upSql, line: up.line },
    // An empty down section is a down step that does nothing (a merge); no section is no down step.
    down: down && !irreversible ? { kind: 'sql', sql: downText, line: down.line } : undefined,
    irreversible,
    source,
    checksum: sha256Hex(normalized),
  };
}

/** A `-- migrate:up` or `-- migrate:down` line: where it starts, and where the line after it does. */
interface SectionMarker {
  readonly section: 'up' | 'down';
  readonly lineStart: number;
  readonly bodyStart: number;
}

/** A section's SQL, trimmed, and the file line where it begins. */
interface SectionText {
  readonly sql: string;
  readonly line: number;
}

/**
 * The section markers of a file, in order. Only a line with `migrate:` in it can be one, so the
 * SQL's other lines are never looked at one by one: a no-op `up` parses every file.
 */
function sectionMarkers(text: string): SectionMarker[] {
  const markers: SectionMarker[] = [];
  for (let at = text.indexOf('migrate:'); at !== -1; ) {
    const lineStart = text.lastIndexOf('\n', at) + 1;
    const newline = text.indexOf('\n', at);
    const lineEnd = newline === -1 ? text.length : newline;
    const marker = SECTION_MARKER.exec(text.slice(lineStart, lineEnd).trim());
    if (marker) markers.push({ section: marker[1] as 'up' | 'down', lineStart, bodyStart: lineEnd + 1 });
    at = newline === -1 ? -1 : text.indexOf('migrate:', newline);
  }
  return markers;
}

/** The header's known keys, from the lines before the first section. */
function parseHeader(source: string, text: string): Map<string, string> {
  const header = new Map<string, string>();
  for (const line of text.split('\n')) {
    const field = HEADER_LINE.exec(line.trim());
    if (!field) continue;
    const [, key = '', value = ''] = field;
    if (!KNOWN_HEADER_KEYS.has(key)) continue;
    if (header.has(key)) throw new MigrationLoadError(source, `names '${key}' twice in its header`);
    header.set(key, value);
  }
  return header;
}

/** The lines after `marker` up to `end` (the newline before the next marker, or the end of the file). */
function sectionText(text: string, marker: SectionMarker, end: number): SectionText {
  const body = text.slice(marker.bodyStart, end);
  const content = body.search(/\S/);
  const line =
    content === -1
      ? lineNumberAt(text, marker.lineStart) + 1
      : lineNumberAt(text, marker.bodyStart + content);
  return { sql: body.trim(), line };
}

/** The 1-based line of the character at `position`. */
function lineNumberAt(text: string, position: number): number {
  let line = 1;
  for (let at = text.indexOf('\n'); at !== -1 && at < position; at = text.indexOf('\n', at + 1)) line++;
  return line;
}

function parseParents(source: string, value: string | undefined): string[] {
  if (value === undefined || value === '' || value === 'none' || value === 'null') return [];
  return value.split(',').map((parent) => validRevision(source, parent.trim()));
}

/** `-- branch_labels: billing, payments` and `-- depends_on: 3f2a9c1b7d4e, billing`: a comma list. */
function headerNames(source: string, key: string, value: string | undefined): string[] {
  if (value === undefined || value === '' || value === 'none' || value === 'null') return [];
  return value.split(',').map((name) => validName(source, key, name.trim()));
}

function parseTransaction(source: string, value: string | undefined): boolean {
  return parseBoolean(source, 'transaction', value, true);
}

function parseBoolean(source: string, key: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new MigrationLoadError(source, `has '${key}: ${value}'; write true or false`);
}

/**
 * A background migration runs outside the plan's transaction (its batches commit one by one), so
 * `transaction: false` is implied; `transaction: true` contradicts it.
 */
export function backgroundTransaction(
  source: string,
  background: boolean,
  value: string | undefined,
): boolean {
  if (!background) return parseTransaction(source, value);
  if (value === 'true') {
    throw new MigrationLoadError(
      source,
      "is 'background: true' and 'transaction: true'; a background migration commits batch by batch: leave transaction out",
    );
  }
  return false;
}

/** `background` and `requiresComplete`, present only when set. */
export function backgroundFields(
  source: string,
  background: boolean,
  requiresComplete: readonly string[],
): { background?: true; requiresComplete?: readonly string[] } {
  if (background && requiresComplete.length > 0) {
    throw new MigrationLoadError(
      source,
      'is a background migration with requires_complete; put the wait on the migration that needs the data (the contract step)',
    );
  }
  return {
    ...(background ? { background: true as const } : {}),
    ...(requiresComplete.length > 0 ? { requiresComplete } : {}),
  };
}

/**
 * The up step of a SQL background migration: its one statement runs once per batch of
 * `batch_table` (walked by `batch_key`, `batch_size` rows at a time), with `$1` bound to the
 * batch's keys (`WHERE id = ANY($1::bigint[])`).
 */
function sqlBatchStep(source: string, text: string, header: ReadonlyMap<string, string>): MigrationStep {
  const table = header.get('batch_table');
  if (!table) {
    throw new MigrationLoadError(
      source,
      "is 'background: true' without '-- batch_table: <table>'; name the table its statement walks " +
        "(the statement gets the batch's keys as $1)",
    );
  }
  if (!text.includes('$1')) {
    throw new MigrationLoadError(
      source,
      'is a background migration whose up statement does not use $1, the keys of each batch: ' +
        'e.g. UPDATE t SET ... WHERE id = ANY($1::bigint[])',
    );
  }
  const key = header.get('batch_key') || 'id';
  const sizeText = header.get('batch_size');
  if (sizeText !== undefined && !/^[1-9]\d*$/.test(sizeText)) {
    throw new MigrationLoadError(
      source,
      `has 'batch_size: ${sizeText}'; write a whole number of rows, e.g. 1000`,
    );
  }
  const size = sizeText === undefined ? undefined : Number(sizeText);
  return {
    kind: 'code',
    run: async (ctx) => {
      await ctx.batch({
        table,
        key,
        ...(size === undefined ? {} : { size }),
        run: async (keys, sql) => {
          await sql.unsafe(text, [keys]);
        },
      });
    },
  };
}

export function lockRetriesFrom(source: string, value: string | undefined): { lockRetries?: number } {
  if (value === undefined) return {};
  if (!/^\d+$/.test(value)) {
    throw new MigrationLoadError(
      source,
      `has 'lock_retries: ${value}'; write a whole number (0: no retries)`,
    );
  }
  return { lockRetries: Number(value) };
}

export function timeoutsFrom(
  lockTimeout: string | undefined,
  statementTimeout: string | undefined,
): MigrationTimeouts {
  return {
    ...(lockTimeout ? { lockTimeout } : {}),
    ...(statementTimeout ? { statementTimeout } : {}),
  };
}
