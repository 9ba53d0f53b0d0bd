/**
 * Drift in production: after every run the runner records a fingerprint of the schema (a hash
 * of the catalog snapshot the round trip compares, and one short hash per object), so `status`,
 * `doctor` and the deployed function can tell when the schema was changed outside migrations
 * since, and name the objects that changed. Before a run it also compares, so a hand edit the
 * run would otherwise absorb is written down in the run's own fingerprint.
 */
import { createHash } from 'node:crypto';
import { type CatalogEntry, catalogQuery, FINGERPRINT_FORMAT } from './catalog.ts';
import { catalogStampSql, catalogUnchangedSql, SNAPSHOT_HORIZON_SQL } from './catalog-stamp.ts';
import type { Database } from './database.ts';
import type { History } from './history.ts';
import type { Revision } from './migration.ts';
import { escapeIdentifier, escapeLiteral } from './sql-quote.ts';
import { RELEASE } from './version.ts';

interface SchemaFingerprint {
  /** sha256 of every line of the snapshot. */
  readonly fingerprint: string;
  /** Object (`table public.users`, `function public.f(integer)`) → a short hash of its lines. */
  readonly objects: Readonly<Record<string, string>>;
}

/** Objects that differ between a recorded fingerprint and the schema now. */
export interface ObjectChanges {
  readonly changed: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

export interface RecordedFingerprint {
  readonly runId: string;
  readonly heads: readonly Revision[];
  readonly recordedAt: Date;
  readonly actor?: string;
  /** The fingerprint format it was taken in (catalog.ts); absent: taken before fingerprints carried theirs. */
  readonly format?: number;
  /** The release that took it (for a fingerprint older than history format 9: the release of its run's last log row). */
  readonly release?: string;
}

/**
 * How the schema compares with the fingerprint of the last run:
 * - `matches`: unchanged since;
 * - `changed`: changed outside migrations since that run (`objects` says which);
 * - `not-recorded`: no run recorded one yet (a history older than format 5, or no run yet);
 * - `stale`: no comparison can be made (`staleBecause` says why): runs since recorded none, or it is of another format.
 */
export type SchemaDriftState = 'matches' | 'changed' | 'not-recorded' | 'stale';

/**
 * Why a fingerprint cannot be compared: `runs-without-fingerprint`, runs since it were made by a
 * release that records none; `fingerprint-format`, it was taken in another format than the reader
 * compares (a build whose catalog said other things, or named objects otherwise).
 */
export type StaleReason = 'runs-without-fingerprint' | 'fingerprint-format';

export interface SchemaDrift {
  readonly state: SchemaDriftState;
  /** The run whose fingerprint the schema is compared with. */
  readonly since?: RecordedFingerprint;
  /** With `stale`: why there is no comparison. */
  readonly staleBecause?: StaleReason;
  /** With `stale` by `fingerprint-format`: the format the reader compares (the record's is `since.format`). */
  readonly comparedFormat?: number;
  readonly objects?: ObjectChanges;
  /** A change outside migrations that the last run found before it ran, and recorded as it found it. */
  readonly foundBeforeRun?: ObjectChanges & { readonly since?: RecordedFingerprint };
}

const TABLE = 'schema_fingerprints';

export function fingerprintOf(entries: readonly CatalogEntry[]): SchemaFingerprint {
  const whole = createHash('sha256');
  const byObject = new Map<string, ReturnType<typeof createHash>>();
  for (const { object, line } of entries) {
    whole.update(`${line}\n`);
    let hash = byObject.get(object);
    if (!hash) {
      hash = createHash('sha256');
      byObject.set(object, hash);
    }
    hash.update(`${line}\n`);
  }
  const objects: Record<string, string> = {};
  for (const object of [...byObject.keys()].sort()) {
    objects[object] = (byObject.get(object) as ReturnType<typeof createHash>).digest('hex').slice(0, 16);
  }
  return { fingerprint: whole.digest('hex'), objects };
}

export function compareObjects(
  recorded: Readonly<Record<string, string>>,
  now: Readonly<Record<string, string>>,
): ObjectChanges {
  const changed: string[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  for (const [object, hash] of Object.entries(now)) {
    if (!(object in recorded)) added.push(object);
    else if (recorded[object] !== hash) changed.push(object);
  }
  for (const object of Object.keys(recorded)) if (!(object in now)) removed.push(object);
  return { changed: changed.sort(), added: added.sort(), removed: removed.sort() };
}

/**
 * Lines in the order the server's "C" collation sorts them: by their UTF-8 bytes (code point
 * order), not by JavaScript's UTF-16 units, which differ for names that mix characters above
 * U+FFFF with ones from U+E000 to U+FFFF. Fingerprints hashed on the server (before this release)
 * sorted the same way, so they compare equal to these.
 */
function sortedByBytes(entries: readonly CatalogEntry[]): CatalogEntry[] {
  return entries
    .map((entry) => ({ entry, bytes: Buffer.from(entry.line, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ entry }) => entry);
}

type Extras<K extends string> = { readonly [name in K]: string | null };

/**
 * The schema's fingerprint, hashed here from its lines, with `extras`: text columns (name → SQL
 * expression) computed by the same statement, so under the same snapshot as the lines (the catalog
 * stamp of the fingerprint it records). Hashing the lines here instead of on the server (which
 * sorted them twice, joined them into one string and grouped them by object) gives the same result
 * for less: a deploy's record about 14 ms less at 500 tables and 4 at 100 (alone, on a new session:
 * 60 of 200 ms at 500 tables, 26 of 85 at 100), for one more round trip.
 */
async function readFingerprint<K extends string>(
  db: Database,
  historySchema: string,
  extras: Readonly<Record<K, string>>,
): Promise<{ readonly fingerprint: SchemaFingerprint; readonly extras: Extras<K> }> {
  const names = Object.keys(extras) as K[];
  const computed = names.map((name) => `, (${extras[name]})::text AS ${name}`).join('');
  const empty = names.map((name) => `, NULL::text AS ${name}`).join('');
  // The extras' row first, told apart by `extra`, not by a null object a line could have.
  const result = await db.query<CatalogEntry & { extra: boolean } & Record<K, string | null>>(
    `SELECT true AS extra, NULL::text AS object, NULL::text AS line${computed}
     UNION ALL
     SELECT false, lines.object, lines.line${empty} FROM (${catalogQuery(historySchema)}) lines`,
  );
  const row = result.rows.find((candidate) => candidate.extra);
  const lines = result.rows.filter((candidate) => !candidate.extra);
  const values = Object.fromEntries(names.map((name) => [name, row?.[name] ?? null])) as Extras<K>;
  return { fingerprint: fingerprintOf(sortedByBytes(lines)), extras: values };
}

export async function currentFingerprint(db: Database, history: History): Promise<SchemaFingerprint> {
  return (await readFingerprint(db, history.schema, {})).fingerprint;
}

interface RecordRow {
  /** The record's id. */
  id: string;
  /** Null when no run recorded one yet. */
  run_id: string | null;
  heads: string[];
  fingerprint: string;
  objects: Record<string, string> | null;
  log_id: string | null;
  newest_log_id: string | null;
  changed_outside:
    | (ObjectChanges & { since?: { runId: string; heads: string[]; recordedAt: string } })
    | null;
  actor: string | null;
  recorded_at: Date;
  /** Null: taken before fingerprints carried their format (history format 9). */
  fingerprint_format: number | null;
  release: string | null;
  /** Its format is the reader's, and runs since all recorded one. */
  comparable: boolean;
  /** The catalog stamp recorded with it says no catalog row changed since. */
  unchanged: boolean;
}

interface FingerprintRow extends RecordRow {
  /** The schema now; absent when the record cannot be compared. */
  readonly now?: SchemaFingerprint;
}

/** The history format that added the fingerprints table (history-format.ts): at or above it, it exists. */
const FINGERPRINTS_FORMAT = 5;
/** The format that added schema_fingerprints.catalog_stamp (catalog-stamp.ts). */
const STAMP_FORMAT = 8;
/** The format that added schema_fingerprints.fingerprint_format and .release. */
const VERSIONED_FORMAT = 9;
/** How many times the schema is read again when a run records a fingerprint while status reads one. */
const READ_ATTEMPTS = 3;

/**
 * The last recorded fingerprint and the schema's now. One round trip reads the record and compares
 * its catalog stamp (catalog-stamp.ts); the schema is deparsed, in a second, only when the record
 * can be compared and a catalog row changed since. Not one statement: the server plans all of a
 * statement, and planning the deparse alone costs about what the stamp does, on every run and
 * status, for nothing when there is no record, none to compare, or no change. (One more when the
 * table may be missing.) With nothing recorded, there is nothing to compare and no row.
 */
async function lastRecorded(
  db: Database,
  history: History,
  tableKnown: boolean,
  attempts = READ_ATTEMPTS,
): Promise<FingerprintRow | undefined | null> {
  const q = escapeIdentifier(history.schema);
  if (!tableKnown && !(await tableExists(db, history))) return null;
  // Columns of later formats through to_jsonb: an older history has no such column. A record
  // older than format 9 names its release through its run's last log row.
  const result = await db.query<RecordRow>(
    `WITH last AS MATERIALIZED (
       SELECT id::text, run_id, heads, fingerprint, objects, log_id, changed_outside, actor, recorded_at,
              (SELECT max(id) FROM ${q}.log)::text AS newest_log_id, to_jsonb(f) ->> 'catalog_stamp' AS stamp,
              (to_jsonb(f) ->> 'fingerprint_format')::integer AS fingerprint_format,
              coalesce(to_jsonb(f) ->> 'release', (SELECT l.release FROM ${q}.log l WHERE l.id = f.log_id)) AS release
       FROM ${q}.${TABLE} f ORDER BY id DESC LIMIT 1),
     comparable AS MATERIALIZED (
       SELECT last.*, coalesce(last.fingerprint_format = ${FINGERPRINT_FORMAT}
                               AND coalesce(last.newest_log_id::bigint <= last.log_id, last.newest_log_id IS NULL), false) AS comparable
       FROM last)
     SELECT comparable.*, CASE WHEN comparable.comparable THEN ${catalogUnchangedSql('comparable.stamp')} ELSE false END AS unchanged
     FROM comparable`,
  );
  const row = result.rows[0];
  if (!row?.comparable) return row;
  if (row.unchanged) return { ...row, now: { fingerprint: row.fingerprint, objects: row.objects ?? {} } };
  const now = await readFingerprint(db, history.schema, { last_id: `SELECT max(id) FROM ${q}.${TABLE}` });
  // A run recorded another fingerprint in between: compare with that one instead.
  if (now.extras.last_id !== row.id && attempts > 1) return lastRecorded(db, history, true, attempts - 1);
  return { ...row, now: now.fingerprint };
}

async function tableExists(db: Database, history: History): Promise<boolean> {
  const exists = await db.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
    `${escapeIdentifier(history.schema)}.${TABLE}`,
  ]);
  return Boolean(exists.rows[0]?.found);
}

/**
 * How the schema now compares with the fingerprint the last run recorded. `historyFormat`, when
 * the caller has read it, spares asking whether the fingerprints table exists.
 */
export async function readSchemaDrift(
  db: Database,
  history: History,
  options: { readonly historyFormat?: number } = {},
): Promise<SchemaDrift> {
  const format = options.historyFormat;
  if (format !== undefined && format < FINGERPRINTS_FORMAT) return { state: 'not-recorded' };
  const row = await lastRecorded(db, history, format !== undefined);
  if (!row?.run_id) return { state: 'not-recorded' };
  const since: RecordedFingerprint = {
    runId: row.run_id,
    heads: row.heads,
    recordedAt: row.recorded_at,
    ...(row.actor ? { actor: row.actor } : {}),
    ...(row.fingerprint_format === null ? {} : { format: row.fingerprint_format }),
    ...(row.release ? { release: row.release } : {}),
  };
  if (row.fingerprint_format !== FINGERPRINT_FORMAT) {
    // Not even what it found before its run: that may be this very confusion (an older build
    // comparing a fingerprint of a newer format would find every object changed).
    return { state: 'stale', since, staleBecause: 'fingerprint-format', comparedFormat: FINGERPRINT_FORMAT };
  }
  const foundBeforeRun = row.changed_outside ? beforeRunOf(row.changed_outside) : undefined;
  const extra = foundBeforeRun ? { foundBeforeRun } : {};
  if (row.newest_log_id !== null && (row.log_id === null || Number(row.newest_log_id) > Number(row.log_id))) {
    return { state: 'stale', since, staleBecause: 'runs-without-fingerprint', ...extra };
  }
  if (!row.now || row.now.fingerprint === row.fingerprint) return { state: 'matches', since, ...extra };
  return { state: 'changed', since, objects: compareObjects(row.objects ?? {}, row.now.objects), ...extra };
}

function beforeRunOf(
  stored: NonNullable<FingerprintRow['changed_outside']>,
): NonNullable<SchemaDrift['foundBeforeRun']> {
  return {
    changed: stored.changed ?? [],
    added: stored.added ?? [],
    removed: stored.removed ?? [],
    ...(stored.since
      ? {
          since: {
            runId: stored.since.runId,
            heads: stored.since.heads,
            recordedAt: new Date(stored.since.recordedAt),
          },
        }
      : {}),
  };
}

/**
 * What a run does around its work: `before` (under the run's lock, before the first change)
 * notes whether the schema already differs from the last fingerprint; `after` records the
 * schema the run leaves, with the heads and the newest log row. Neither ever fails the run: a
 * fingerprint that cannot be read or written leaves status saying so, not a failed migration.
 */
export class FingerprintRecorder {
  private outside: SchemaDrift | undefined;

  constructor(
    private readonly db: Database,
    private readonly history: History,
    private readonly enabled = true,
    /** The history's format when the run began, when known. */
    private readonly historyFormat?: number,
  ) {}

  async before(): Promise<void> {
    if (!this.enabled) return;
    try {
      this.outside = await readSchemaDrift(this.db, this.history, { historyFormat: this.historyFormat });
    } catch {
      this.outside = undefined;
    }
  }

  /**
   * Records the schema the run leaves: its lines and catalog stamp in one statement, the row in a second.
   * `historyFormat`: the history's format now (the run may have upgraded it), when known.
   */
  async after(run: {
    readonly runId: string;
    readonly actor: string;
    readonly historyFormat?: number;
  }): Promise<void> {
    if (!this.enabled) return;
    try {
      const format = run.historyFormat ?? this.historyFormat;
      const known = format !== undefined && format >= FINGERPRINTS_FORMAT;
      if (!known && !(await tableExists(this.db, this.history))) return;
      const q = escapeIdentifier(this.history.schema);
      const outside = this.outside?.state === 'changed' ? this.outside : undefined;
      const changedOutside = outside
        ? escapeLiteral(
            JSON.stringify({
              ...outside.objects,
              since: outside.since
                ? {
                    runId: outside.since.runId,
                    heads: outside.since.heads,
                    recordedAt: outside.since.recordedAt.toISOString(),
                  }
                : undefined,
            }),
          )
        : 'NULL';
      // The catalog stamp in the statement that reads the lines, so under the same snapshot: the
      // next run and status compare it instead of deparsing the schema again when nothing changed
      // (catalog-stamp.ts). Never after the lines: a change in between would be in the stamp and
      // not in the fingerprint, and no later comparison would see it.
      const stamped = format !== undefined && format >= STAMP_FORMAT;
      const extras: Record<string, string> = stamped ? { stamp: catalogStampSql(SNAPSHOT_HORIZON_SQL) } : {};
      const now = await readFingerprint(this.db, this.history.schema, extras);
      const stamp = now.extras.stamp ?? null;
      const stampColumn = stamped ? ', catalog_stamp' : '';
      const stampValue = stamped ? `, ${stamp === null ? 'NULL' : escapeLiteral(stamp)}` : '';
      // Its format, so that a reader of another never compares it (format 9 onward).
      const versioned = format !== undefined && format >= VERSIONED_FORMAT;
      const versionColumns = versioned ? ', fingerprint_format, release' : '';
      const version = versioned ? `, ${FINGERPRINT_FORMAT}, ${escapeLiteral(RELEASE)}` : '';
      await this.db.query(
        `INSERT INTO ${q}.${TABLE} (run_id, heads, fingerprint, objects, log_id, changed_outside, actor${stampColumn}${versionColumns})
         SELECT ${escapeLiteral(run.runId)},
                coalesce((SELECT array_agg(revision ORDER BY revision) FROM ${q}.heads), '{}'),
                ${escapeLiteral(now.fingerprint.fingerprint)}, ${escapeLiteral(JSON.stringify(now.fingerprint.objects))}::jsonb,
                (SELECT max(id) FROM ${q}.log), ${changedOutside}::jsonb, ${escapeLiteral(run.actor)}${stampValue}${version}`,
      );
    } catch {
      // A lost connection or a read-only history: status reports the fingerprint as missing or stale.
    }
  }
}

const OBJECTS_NAMED = 8;

/**
 * One sentence for status, doctor and the deployed function's answer: "the schema was changed
 * outside migrations since run …", naming the objects; undefined when there is nothing to say.
 */
export function describeSchemaDrift(drift: SchemaDrift | undefined): string | undefined {
  if (!drift) return undefined;
  if (drift.state === 'changed') {
    return `the schema was changed outside migrations since run ${describeRun(drift.since)}: ${describeObjects(drift.objects)}`;
  }
  if (drift.foundBeforeRun) {
    return (
      `run ${describeRun(drift.since)} found the schema changed outside migrations before it ran ` +
      `(since run ${describeRun(drift.foundBeforeRun.since)}): ${describeObjects(drift.foundBeforeRun)}`
    );
  }
  if (drift.state === 'stale' && drift.staleBecause === 'fingerprint-format') {
    return (
      `the last fingerprint of the schema (run ${describeRun(drift.since)}) was taken by ` +
      `${drift.since?.release ? `rds-migrate ${drift.since.release}` : 'an earlier release'} in ` +
      `${describeFormat(drift.since?.format, drift.comparedFormat)}: changes outside migrations cannot be told ` +
      'until the next up or deploy records a current one (to record one now without migrating: rds-migrate diff ' +
      'to see that the schema is its revision’s, then rds-migrate stamp <the current revision>)'
    );
  }
  if (drift.state === 'stale') {
    return `runs since run ${describeRun(drift.since)} recorded no fingerprint (an older release ran them): changes outside migrations cannot be told`;
  }
  return undefined;
}

function describeFormat(recorded: number | undefined, compared: number | undefined): string {
  const taken =
    recorded === undefined
      ? 'an unnumbered fingerprint format (from before fingerprints carried theirs)'
      : `fingerprint format ${recorded}`;
  return `${taken}, not format ${compared ?? FINGERPRINT_FORMAT} that this release compares`;
}

function describeRun(run: RecordedFingerprint | undefined): string {
  if (!run) return '(unknown)';
  // A deployed function's answer arrives as JSON: its dates are strings.
  const at = new Date(run.recordedAt).toISOString();
  return `${run.runId.slice(0, 8)} (${at}, at ${run.heads.join(', ') || 'base'})`;
}

function describeObjects(objects: ObjectChanges | undefined): string {
  if (!objects) return 'objects unknown';
  const named = [
    ...objects.changed.map((object) => `changed ${object}`),
    ...objects.added.map((object) => `added ${object}`),
    ...objects.removed.map((object) => `removed ${object}`),
  ];
  if (named.length === 0) return 'objects unknown';
  const more = named.length > OBJECTS_NAMED ? `, and ${named.length - OBJECTS_NAMED} more` : '';
  return `${named.slice(0, OBJECTS_NAMED).join(', ')}${more}`;
}
