/**
 * The round trip's schema snapshots (catalog.ts), kept current from the DDL each step runs
 * instead of read whole after every step: event triggers on the scratch database note what each
 * command created, altered or dropped, and only those objects, and the ones that name them, are
 * read again. A snapshot read whole costs the whole schema's deparsing (40 ms at 500 tables);
 * most steps change one table. Without the privilege to create event triggers (superuser), every
 * snapshot is read whole, as before.
 */

import { catalogQuery } from '../engine/catalog.ts';
import type { Database } from '../engine/database.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import { escapeIdentifier, escapeLiteral } from '../engine/sql-quote.ts';

/** One object's part of a snapshot (lines sorted), shared by every snapshot it did not change in. */
interface ObjectLines {
  /** What catalog.ts calls the object, e.g. `table public.users`. */
  readonly object: string;
  readonly lines: readonly string[];
  /** Oids of the indexes, constraints, triggers and defaults its lines describe. */
  readonly parts: readonly number[];
}

/** The schema at one moment: each object's lines, by owner (`c<oid>` a relation, `t<oid>` a type, ...). */
export interface TrackedSnapshot {
  readonly objects: ReadonlyMap<string, ObjectLines>;
}

/** The tracking disagreed with the catalog: a bug, never a verdict on the migrations. */
class SchemaTrackingError extends RdsMigrateError {
  override readonly name = 'SchemaTrackingError';
}

interface CatalogRow {
  owner: string;
  object: string;
  line: string;
  part: number;
}

interface ChangeRow {
  search_path: string;
  lost: string;
  /** How many of the two event triggers still fire whatever the session's replication role. */
  listening: string;
  dropped: boolean | null;
  catalog: string | null;
  objid: string | null;
  objsubid: number | null;
  identity: string | null;
  owner: string | null;
}

/** Catalogs whose rows a tracked object is made of: a change there names the object to read again. */
const TRACKED = new Set([
  'pg_class',
  'pg_type',
  'pg_proc',
  'pg_constraint',
  'pg_trigger',
  'pg_rewrite',
  'pg_attrdef',
  'pg_policy',
]);
/** Catalogs no snapshot line shows. Any other (schemas, extensions, operators, collations, ...): read whole. */
const NOT_SHOWN = new Set([
  'pg_statistic_ext',
  'pg_publication',
  'pg_publication_rel',
  'pg_publication_namespace',
  'pg_default_acl',
  'pg_event_trigger',
  'pg_largeobject_metadata',
]);
/** A whole read now and then, so that a tracking bug fails loudly instead of passing a check. */
const VERIFY_EVERY = 64;
const LOST = 'rds_migrate.round_trip_tracking';

export class SchemaTracker {
  private current = new Map<string, ObjectLines>();
  private readonly partOwners = new Map<number, string>();
  private searchPath = '';
  private sinceVerified = 0;
  private started = false;
  private reads = 0;

  private constructor(
    private readonly db: Database,
    private readonly historySchema: string,
    /** False when the event triggers could not be created: every snapshot is read whole. */
    readonly tracking: boolean,
  ) {}

  /** Prepares the queries and, when allowed, the event triggers; no snapshot is read yet. */
  static async start(db: Database, historySchema: string): Promise<SchemaTracker> {
    const tracking = await db.query(installSql(historySchema)).then(
      () => true,
      () => false,
    );
    const tracker = new SchemaTracker(db, historySchema, tracking);
    await tracker.prepare();
    return tracker;
  }

  /** Removes the prepared queries, the event triggers and what they write to. */
  async stop(): Promise<void> {
    const q = escapeIdentifier(this.historySchema);
    await this.deallocate().catch(() => undefined);
    if (!this.tracking) return;
    await this.db
      .query(
        `DROP EVENT TRIGGER IF EXISTS rds_migrate_round_trip_ddl; DROP EVENT TRIGGER IF EXISTS rds_migrate_round_trip_drop;
DROP FUNCTION IF EXISTS ${q}.round_trip_ddl(); DROP FUNCTION IF EXISTS ${q}.round_trip_drop();
DROP FUNCTION IF EXISTS ${q}.round_trip_lines(text[]);
DROP TABLE IF EXISTS ${q}.round_trip_changes;`,
      )
      .catch(() => undefined);
  }

  /** The schema now: read whole the first time, then only what the DDL since changed. */
  async snapshot(): Promise<TrackedSnapshot> {
    if (!this.tracking || !this.started) return this.wholeSnapshot();
    const changes = this.changesIn(await this.execute<ChangeRow>('EXECUTE rds_migrate_changes'));
    if (changes === 'whole') return this.wholeSnapshot();
    for (const owner of changes.gone) this.replace(owner, undefined);
    const affected = [...changes.affected].filter((owner) => !changes.gone.has(owner));
    if (affected.length > 0) await this.reread(affected);
    if (affected.some((owner) => owner.startsWith('c'))) await this.forgetVanishedSequences();
    this.sinceVerified += 1;
    if (this.sinceVerified >= VERIFY_EVERY) await this.verify();
    return { objects: new Map(this.current) };
  }

  /** How many snapshots were read whole. */
  get wholeReads(): number {
    return this.reads;
  }

  /** Reads the whole schema and starts tracking from it. */
  async wholeSnapshot(): Promise<TrackedSnapshot> {
    this.reads += 1;
    const clear = this.tracking
      ? `DELETE FROM ${escapeIdentifier(this.historySchema)}.round_trip_changes;\n`
      : '';
    const rows = await this.execute<{ search_path: string }>(
      `${clear}SELECT current_setting('search_path') AS search_path;`,
    );
    this.searchPath = rows[0]?.search_path ?? '';
    this.current = group(await this.execute('EXECUTE rds_migrate_whole'));
    this.partOwners.clear();
    for (const [owner, lines] of this.current)
      for (const part of lines.parts) this.partOwners.set(part, owner);
    this.sinceVerified = 0;
    this.started = true;
    return { objects: new Map(this.current) };
  }

  /** Compares what tracking holds with the schema read whole; a difference is a bug, and fails loudly. */
  async verify(): Promise<void> {
    this.sinceVerified = 0;
    if (!this.tracking) return;
    const tracked = linesOf({ objects: this.current });
    const whole = linesOf({ objects: group(await this.execute('EXECUTE rds_migrate_whole')) });
    const { extra, missing } = lineDifference(whole, tracked);
    if (extra.length === 0 && missing.length === 0) return;
    throw new SchemaTrackingError(
      `the round trip's schema tracking disagrees with the catalog (tracked but not there: ${extra.slice(0, 3).join('; ') || 'none'}; ` +
        `there but not tracked: ${missing.slice(0, 3).join('; ') || 'none'}); this is a bug in rds-migrate: please report it ` +
        'with the migrations involved, and run check --skip-round-trip meanwhile',
    );
  }

  /**
   * What these changes did: objects that are gone (dropped whole), and objects to read again (and
   * with them, whatever names them); 'whole' when tracking cannot say.
   */
  private changesIn(rows: readonly ChangeRow[]): { gone: Set<string>; affected: Set<string> } | 'whole' {
    const gone = new Set<string>();
    const affected = new Set<string>();
    for (const row of rows) {
      if (row.lost === 'lost' || row.listening !== '2' || row.search_path !== this.searchPath) return 'whole';
      if (row.catalog === null || NOT_SHOWN.has(row.catalog)) continue;
      if (row.catalog === 'pg_namespace' && this.isHistorySchema(row.identity)) continue;
      if (!TRACKED.has(row.catalog)) return 'whole';
      if (!row.dropped) {
        if (row.owner) affected.add(row.owner);
        continue;
      }
      const dropped = this.droppedOwner(row);
      if (dropped?.whole) gone.add(dropped.owner);
      else if (dropped) affected.add(dropped.owner);
      // A relation that was also part of another's lines (a partition, of its parent's).
      const partOf = this.partOwners.get(Number(row.objid));
      if (dropped?.whole && partOf !== undefined && partOf !== dropped.owner) affected.add(partOf);
    }
    return { gone, affected };
  }

  /** Whether a schema's identity (quoted only when it must be) names the history schema. */
  private isHistorySchema(identity: string | null): boolean {
    return identity === this.historySchema || identity === escapeIdentifier(this.historySchema);
  }

  /**
   * Whose lines a dropped object was in: itself (a relation, type or function, gone whole), the
   * relation of a column, or the object an index, constraint, trigger or default was part of. One
   * that no line showed (a table's row type, an internal trigger) leaves every line as it was.
   * Whatever named a dropped object was dropped with it, or changed, and has changes of its own.
   */
  private droppedOwner(row: ChangeRow): { owner: string; whole: boolean } | undefined {
    const oid = Number(row.objid);
    const kind = { pg_class: 'c', pg_type: 't', pg_proc: 'p' }[row.catalog as string];
    const own = `${kind}${oid}`;
    if (kind === 'c' && (row.objsubid ?? 0) > 0) return { owner: own, whole: false };
    if (kind && this.current.has(own)) return { owner: own, whole: true };
    const owner = this.partOwners.get(oid);
    return owner ? { owner, whole: false } : undefined;
  }

  /** Reads the lines of `owners` and of the objects that name them, and puts them in place. */
  private async reread(owners: readonly string[]): Promise<void> {
    const literal = `ARRAY[${owners.map((owner) => escapeLiteral(owner)).join(', ')}]::text[]`;
    const q = escapeIdentifier(this.historySchema);
    const fresh = group(await this.execute(`SELECT * FROM ${q}.round_trip_lines(${literal})`));
    for (const owner of owners) if (!fresh.has(owner)) this.replace(owner, undefined);
    for (const [owner, lines] of fresh) this.replace(owner, lines);
  }

  /**
   * ALTER TABLE ... DROP IDENTITY drops the column's sequence with no sql_drop event: after a
   * relation changed, the tracked sequences that are no longer there go.
   */
  private async forgetVanishedSequences(): Promise<void> {
    const sequences = [...this.current].flatMap(([owner, lines]) =>
      lines.object.startsWith('sequence ') ? [owner] : [],
    );
    if (sequences.length === 0) return;
    const vanished = await this.db.query<{ owner: string }>(
      `SELECT owner FROM unnest($1::text[]) AS owner
       WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = substr(owner, 2)::oid)`,
      [sequences],
    );
    for (const { owner } of vanished.rows) this.replace(owner, undefined);
  }

  private replace(owner: string, lines: ObjectLines | undefined): void {
    for (const part of this.current.get(owner)?.parts ?? []) this.partOwners.delete(part);
    if (!lines) {
      this.current.delete(owner);
      return;
    }
    this.current.set(owner, lines);
    for (const part of lines.parts) this.partOwners.set(part, owner);
  }

  /** Runs `sql`; a migration that deallocated the prepared queries (DISCARD ALL) gets them back. */
  private async execute<T = CatalogRow>(sql: string): Promise<T[]> {
    try {
      return (await this.db.query<T>(sql)).rows;
    } catch (error) {
      if ((error as { code?: string }).code !== '26000') throw error;
      await this.prepare();
      return (await this.db.query<T>(sql)).rows;
    }
  }

  private async deallocate(): Promise<void> {
    const prepared = await this.db.query<{ name: string }>(
      "SELECT name FROM pg_prepared_statements WHERE name IN ('rds_migrate_whole', 'rds_migrate_changes')",
    );
    for (const { name } of prepared.rows) await this.db.query(`DEALLOCATE ${name}`);
  }

  private async prepare(): Promise<void> {
    await this.deallocate();
    const whole = `PREPARE rds_migrate_whole AS ${catalogQuery(this.historySchema, { owners: true })}`;
    const changes = this.tracking
      ? `;\nPREPARE rds_migrate_changes AS ${changesSql(this.historySchema)}`
      : '';
    await this.db.query(`${whole}${changes}`);
  }
}

/** Every line of a snapshot, sorted as catalog.ts sorts them. */
export function linesOf(snapshot: TrackedSnapshot): string[] {
  const lines: string[] = [];
  for (const object of snapshot.objects.values()) lines.push(...object.lines);
  return lines.sort(byLine);
}

/**
 * Lines of `actual` not in `expected` (extra), and of `expected` not in `actual` (missing).
 * Objects both hold unchanged are skipped first: most comparisons end there.
 */
export function snapshotDifference(
  expected: TrackedSnapshot,
  actual: TrackedSnapshot,
): { extra: string[]; missing: string[] } {
  if (sameObjects(expected, actual)) return { extra: [], missing: [] };
  return lineDifference(linesOf(expected), linesOf(actual));
}

function lineDifference(
  expected: readonly string[],
  actual: readonly string[],
): { extra: string[]; missing: string[] } {
  const want = new Set(expected);
  const have = new Set(actual);
  return {
    extra: actual.filter((line) => !want.has(line)),
    missing: expected.filter((line) => !have.has(line)),
  };
}

function sameObjects(a: TrackedSnapshot, b: TrackedSnapshot): boolean {
  if (a.objects.size !== b.objects.size) return false;
  for (const [owner, lines] of a.objects) {
    const other = b.objects.get(owner);
    if (other === lines) continue;
    if (!other || other.lines.length !== lines.lines.length) return false;
    if (other.lines.some((line, index) => line !== lines.lines[index])) return false;
  }
  return true;
}

function group(rows: readonly CatalogRow[]): Map<string, ObjectLines> {
  const building = new Map<string, { object: string; lines: string[]; parts: number[] }>();
  for (const row of rows) {
    let entry = building.get(row.owner);
    if (!entry) {
      entry = { object: row.object, lines: [], parts: [] };
      building.set(row.owner, entry);
    }
    entry.lines.push(row.line);
    const part = Number(row.part);
    if (part !== 0) entry.parts.push(part);
  }
  const grouped = new Map<string, ObjectLines>();
  for (const [owner, entry] of building) grouped.set(owner, { ...entry, lines: entry.lines.sort(byLine) });
  return grouped;
}

function byLine(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The object a catalog row belongs to, as catalog.ts's owner column names it, from the catalog
 * as it is now: an index, constraint, trigger, rule, default or policy belongs to its relation (or, for a
 * domain's constraint, its type), a table's row type to the table.
 */
function ownerOf(classid: string, objid: string): string {
  return `CASE ${classid}
    WHEN 'pg_class'::regclass THEN (SELECT CASE WHEN r.relkind IN ('i', 'I')
        THEN (SELECT 'c' || i.indrelid FROM pg_index i WHERE i.indexrelid = r.oid) ELSE 'c' || r.oid END
      FROM pg_class r WHERE r.oid = ${objid})
    WHEN 'pg_type'::regclass THEN (SELECT CASE WHEN t.typrelid <> 0 THEN 'c' || t.typrelid ELSE 't' || t.oid END
      FROM pg_type t WHERE t.oid = ${objid})
    WHEN 'pg_proc'::regclass THEN 'p' || ${objid}
    WHEN 'pg_constraint'::regclass THEN (SELECT coalesce('c' || nullif(k.conrelid, 0), 't' || nullif(k.contypid, 0), 'k' || k.oid)
      FROM pg_constraint k WHERE k.oid = ${objid})
    WHEN 'pg_trigger'::regclass THEN (SELECT 'c' || g.tgrelid FROM pg_trigger g WHERE g.oid = ${objid})
    WHEN 'pg_rewrite'::regclass THEN (SELECT 'c' || w.ev_class FROM pg_rewrite w WHERE w.oid = ${objid})
    WHEN 'pg_attrdef'::regclass THEN (SELECT 'c' || ad.adrelid FROM pg_attrdef ad WHERE ad.oid = ${objid})
    WHEN 'pg_policy'::regclass THEN (SELECT 'c' || pl.polrelid FROM pg_policy pl WHERE pl.oid = ${objid})
  END`;
}

/**
 * The event triggers and their log, in the history schema (which no snapshot shows). SECURITY
 * DEFINER: a migration that switches role still has its DDL noted; a note that cannot be written
 * marks the tracking lost (the next snapshot is read whole) rather than failing the migration.
 */
function installSql(historySchema: string): string {
  const q = escapeIdentifier(historySchema);
  const noting = (
    name: string,
    rows: string,
  ) => `CREATE OR REPLACE FUNCTION ${q}.${name}() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $rds_migrate$
BEGIN
  INSERT INTO ${q}.round_trip_changes (dropped, classid, objid, objsubid, identity) ${rows};
EXCEPTION WHEN OTHERS THEN
  PERFORM set_config('${LOST}', 'lost', false);
END
$rds_migrate$;`;
  // One query, so one implicit transaction: without the privilege, nothing of it stays.
  return `CREATE SCHEMA IF NOT EXISTS ${q};
CREATE TABLE IF NOT EXISTS ${q}.round_trip_changes (dropped boolean NOT NULL, classid oid NOT NULL, objid oid NOT NULL,
  objsubid integer NOT NULL, identity text);
${noting('round_trip_ddl', 'SELECT false, classid, objid, objsubid, object_identity FROM pg_event_trigger_ddl_commands()')}
${noting('round_trip_drop', 'SELECT true, classid, objid, objsubid, object_identity FROM pg_event_trigger_dropped_objects()')}
CREATE OR REPLACE FUNCTION ${q}.round_trip_lines(owners_in text[])
  RETURNS TABLE (object text, line text, owner text, part oid)
  LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
  AS $rds_migrate$ #variable_conflict use_column
BEGIN RETURN QUERY ${trackedSql(historySchema)}; END $rds_migrate$;
CREATE EVENT TRIGGER rds_migrate_round_trip_ddl ON ddl_command_end EXECUTE FUNCTION ${q}.round_trip_ddl();
CREATE EVENT TRIGGER rds_migrate_round_trip_drop ON sql_drop EXECUTE FUNCTION ${q}.round_trip_drop();
ALTER EVENT TRIGGER rds_migrate_round_trip_ddl ENABLE ALWAYS;
ALTER EVENT TRIGGER rds_migrate_round_trip_drop ENABLE ALWAYS;`;
}

/** The DDL noted since the last snapshot (taken off the log), with the settings that decide the lines. */
function changesSql(historySchema: string): string {
  const q = escapeIdentifier(historySchema);
  return `WITH changes AS (DELETE FROM ${q}.round_trip_changes RETURNING dropped, classid, objid, objsubid, identity)
SELECT current_setting('search_path') AS search_path, coalesce(current_setting('${LOST}', true), '') AS lost,
       (SELECT count(*) FROM pg_event_trigger
        WHERE evtname IN ('rds_migrate_round_trip_ddl', 'rds_migrate_round_trip_drop') AND evtenabled = 'A') AS listening,
       c.dropped, c.classid::regclass::text AS catalog, c.objid::text AS objid, c.objsubid, c.identity,
       CASE WHEN NOT c.dropped THEN ${ownerOf('c.classid', 'c.objid')} END AS owner
FROM (SELECT 1) one LEFT JOIN changes c ON true`;
}

/**
 * The lines of the owners in $1 and of every object that names one of them (pg_depend: a foreign
 * key's table, a view, a default's sequence, a column's type, an array of a type): their lines
 * print the names a rename changes. And a partition's parent, whose lines list its partitions.
 */
function trackedSql(historySchema: string): string {
  const oidsOf = (kind: string) =>
    `ARRAY(SELECT substr(owner, 2)::oid FROM owners WHERE left(owner, 1) = '${kind}')`;
  const dependents = `SELECT ${ownerOf('d.classid', 'd.objid')} AS owner FROM pg_depend d WHERE`;
  return `WITH changed AS (SELECT DISTINCT unnest(owners_in) AS owner),
relations AS (SELECT substr(owner, 2)::oid AS oid FROM changed WHERE left(owner, 1) = 'c'),
types AS (
  SELECT substr(owner, 2)::oid AS oid FROM changed WHERE left(owner, 1) = 't'
  UNION SELECT reltype FROM pg_class WHERE oid IN (SELECT oid FROM relations) AND reltype <> 0),
types_and_arrays AS (
  SELECT oid FROM types UNION SELECT typarray FROM pg_type WHERE oid IN (SELECT oid FROM types) AND typarray <> 0),
functions AS (SELECT substr(owner, 2)::oid AS oid FROM changed WHERE left(owner, 1) = 'p'),
owners AS (
  SELECT owner FROM changed
  UNION SELECT 'c' || inhparent FROM pg_inherits WHERE inhrelid IN (SELECT oid FROM relations)
  UNION ${dependents} d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM relations)
  UNION ${dependents} d.refclassid = 'pg_type'::regclass AND d.refobjid IN (SELECT oid FROM types_and_arrays)
  UNION ${dependents} d.refclassid = 'pg_proc'::regclass AND d.refobjid IN (SELECT oid FROM functions))
${catalogQuery(historySchema, {
  owners: true,
  only: {
    relations: oidsOf('c'),
    types: oidsOf('t'),
    functions: oidsOf('p'),
    schemas: oidsOf('n'),
    extensions: oidsOf('x'),
    constraints: oidsOf('k'),
  },
})}`;
}
