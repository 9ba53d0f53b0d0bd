/**
 * The format of the history schema (the tables rds-migrate keeps in the database), and the one
 * place that brings an older format up to the current one, step by step.
 *
 * THE RULE: format changes are additive only. A new format may add tables, add columns that are
 * nullable or have a default, and add new values to existing columns. It never renames or drops
 * a table or column, never adds a NOT NULL column without a default, and never tightens a
 * constraint an older release writes through. A stack rollback runs the previous release's
 * function against the history this release has just written: that release must still read it,
 * write its log rows into it, and revert from the down steps stored in it. The reading code of
 * every release lists its columns by name and ignores rows it does not understand.
 *
 * The steps run inside the run's first transaction (with its first change), so a failed first
 * run leaves the history as it found it.
 */
import { escapeLiteral } from './sql-quote.ts';
import { RELEASE } from './version.ts';

interface FormatStep {
  /** The format this step produces from the one before it. */
  readonly version: number;
  /** What the step adds, for the CHANGELOG and `status`. */
  readonly summary: string;
  /** SQL that turns format `version - 1` into `version`; `schema` is quoted already. */
  sql(schema: string): string;
}

export const FORMAT_STEPS: readonly FormatStep[] = [
  {
    version: 1,
    summary: 'heads, log (with each revision’s down step), in_progress, checkpoints (rds-migrate 0.1.0)',
    // Not CREATE SCHEMA IF NOT EXISTS: it needs CREATE on the database even when the schema exists,
    // so a role given a history schema of its own (and no more) could not run.
    sql: (q) => `DO $rds_migrate$ BEGIN
  IF to_regnamespace(${escapeLiteral(q)}) IS NULL THEN CREATE SCHEMA ${q}; END IF;
END $rds_migrate$;
CREATE TABLE IF NOT EXISTS ${q}.heads (
  revision text PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS ${q}.log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  revision text NOT NULL,
  parents text[] NOT NULL,
  direction text NOT NULL CHECK (direction IN ('up', 'down', 'stamp-up', 'stamp-down')),
  message text NOT NULL,
  checksum text NOT NULL,
  source text NOT NULL,
  transactional boolean NOT NULL,
  down_kind text CHECK (down_kind IN ('sql', 'module')),
  down_text text,
  started_at timestamptz NOT NULL,
  duration_ms double precision NOT NULL,
  run_id text NOT NULL,
  actor text NOT NULL,
  note text
);
CREATE INDEX IF NOT EXISTS log_revision_idx ON ${q}.log (revision, id);
CREATE TABLE IF NOT EXISTS ${q}.in_progress (
  revision text PRIMARY KEY,
  direction text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL
);
CREATE TABLE IF NOT EXISTS ${q}.checkpoints (
  revision text NOT NULL,
  name text NOT NULL,
  last_key jsonb,
  rows bigint NOT NULL DEFAULT 0,
  batches integer NOT NULL DEFAULT 0,
  estimated_total bigint,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (revision, name)
);`,
  },
  {
    version: 2,
    summary: 'the format table (this record of versions); log.release, the release that wrote each row',
    sql: (q) => `CREATE TABLE IF NOT EXISTS ${q}.format (
  version integer PRIMARY KEY,
  release text,
  upgraded_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ${q}.log ADD COLUMN IF NOT EXISTS release text;`,
  },
  {
    version: 3,
    summary:
      'deploys (one row per deploy request: its plan, snapshot and state); run_lease joins the format; ' +
      'log.request_id; checkpoints.completed; in_progress.statements_done',
    sql: (q) => `CREATE TABLE IF NOT EXISTS ${q}.run_lease (
  name text PRIMARY KEY,
  token text NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ${q}.deploys (
  request_id text PRIMARY KEY,
  stack text NOT NULL,
  target text NOT NULL,
  from_heads text[] NOT NULL,
  plan text[] NOT NULL,
  phase text NOT NULL,
  snapshot_id text,
  snapshot_attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  waiting_for text,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
ALTER TABLE ${q}.log ADD COLUMN IF NOT EXISTS request_id text;
CREATE INDEX IF NOT EXISTS log_request_idx ON ${q}.log (request_id) WHERE request_id IS NOT NULL;
ALTER TABLE ${q}.checkpoints ADD COLUMN IF NOT EXISTS completed boolean NOT NULL DEFAULT false;
ALTER TABLE ${q}.in_progress ADD COLUMN IF NOT EXISTS statements_done integer NOT NULL DEFAULT 0;`,
  },
  {
    version: 4,
    summary:
      'deploys: the snapshot policy and why a snapshot was or was not taken, the restore point, the ' +
      "database's backup retention, and the snapshot's progress",
    sql: (q) => `ALTER TABLE ${q}.deploys ADD COLUMN IF NOT EXISTS snapshot_policy text;
ALTER TABLE ${q}.deploys ADD COLUMN IF NOT EXISTS snapshot_reason text;
ALTER TABLE ${q}.deploys ADD COLUMN IF NOT EXISTS restore_point_at timestamptz;
ALTER TABLE ${q}.deploys ADD COLUMN IF NOT EXISTS backup_retention_days integer;
ALTER TABLE ${q}.deploys ADD COLUMN IF NOT EXISTS snapshot_progress jsonb;`,
  },
  {
    version: 5,
    summary:
      'schema_fingerprints: a fingerprint of the schema after every run (and of each object), so status ' +
      'sees changes made outside migrations',
    sql: (q) => `CREATE TABLE IF NOT EXISTS ${q}.schema_fingerprints (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id text NOT NULL,
  heads text[] NOT NULL,
  fingerprint text NOT NULL,
  objects jsonb NOT NULL DEFAULT '{}'::jsonb,
  log_id bigint,
  changed_outside jsonb,
  actor text,
  recorded_at timestamptz NOT NULL DEFAULT now()
);`,
  },
  {
    version: 6,
    summary:
      'log.depends_on: the revisions a migration depends on (depends_on), so code without it reverts it ' +
      'before what it depends on',
    sql: (q) => `ALTER TABLE ${q}.log ADD COLUMN IF NOT EXISTS depends_on text[];`,
  },
  {
    version: 7,
    summary:
      'background_runs: one row per background migration (its table, key, key ranges, state, the ' +
      'execution running it, errors, completion); its progress is in checkpoints, one per range',
    sql: (q) => `CREATE TABLE IF NOT EXISTS ${q}.background_runs (
  revision text PRIMARY KEY,
  state text NOT NULL DEFAULT 'pending',
  table_name text NOT NULL,
  key_column text NOT NULL,
  batch_size integer NOT NULL,
  ranges jsonb,
  estimated_total bigint,
  execution text,
  request_id text,
  actor text NOT NULL,
  errors integer NOT NULL DEFAULT 0,
  last_error text,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  completed_by text
);`,
  },
  {
    version: 8,
    summary:
      'schema_fingerprints.catalog_stamp: what the catalog looked like when the fingerprint was taken, so a ' +
      'run or status that finds it unchanged does not deparse the schema again',
    sql: (q) => `ALTER TABLE ${q}.schema_fingerprints ADD COLUMN IF NOT EXISTS catalog_stamp text;`,
  },
  {
    version: 9,
    summary:
      'schema_fingerprints.fingerprint_format and .release: the format a fingerprint was taken in and the release ' +
      'that took it, so one of another format reads as stale (cannot be compared), never as a change to every object',
    sql: (q) => `ALTER TABLE ${q}.schema_fingerprints ADD COLUMN IF NOT EXISTS fingerprint_format integer;
ALTER TABLE ${q}.schema_fingerprints ADD COLUMN IF NOT EXISTS release text;`,
  },
];

/** The format this release writes: the last step's. Add a step at the end, and name it in CHANGELOG.md. */
export const CURRENT_FORMAT: number = FORMAT_STEPS[FORMAT_STEPS.length - 1]?.version ?? 0;

/**
 * SQL that brings a history of format `from` (0: none yet) to CURRENT_FORMAT and records each
 * version it reached; empty when there is nothing to do (current, or newer than this release).
 */
export function upgradeSql(schema: string, from: number): string {
  const steps = FORMAT_STEPS.filter((step) => step.version > from);
  if (steps.length === 0) return '';
  const recorded = steps
    .filter((step) => step.version >= 2)
    .map((step) => `(${step.version}, ${escapeLiteral(RELEASE)})`);
  return [
    ...steps.map((step) => step.sql(schema)),
    `INSERT INTO ${schema}.format (version, release) VALUES ${recorded.join(', ')} ON CONFLICT (version) DO NOTHING;`,
  ].join('\n');
}
