/**
 * A cheap witness that the schema cannot have changed since a fingerprint was recorded, so the
 * deparse of every object (schema-fingerprint.ts: tens of milliseconds at a hundred tables, most
 * of what a deploy's run pays besides its own SQL) runs only when something could have changed.
 *
 * Every change to a catalog row writes a new row version whose xmin is the changing
 * transaction's id, and any transaction that was running or started after a snapshot has an id
 * at or above that snapshot's xmin (the horizon). So the stamp, recorded in the statement that
 * records the fingerprint, is: the horizon; per catalog the snapshot reads (and those its deparse
 * depends on), the number of rows (a drop leaves no new row) and a hash of the rows at or above
 * the horizon (few: the run's own changes); the settings that change how the deparse prints;
 * and the names of the roles that policies name (roles are the server's, not the database's).
 * The same stamp computed later against the recorded horizon is equal only when no row of those
 * catalogs was written or removed since: then the recorded fingerprint is the schema's. Any doubt
 * (another stamp, a horizon too old to compare, a catalog stamped differently by another release)
 * compares unequal, and the fingerprint is computed as before: never a weaker check, only a
 * skipped one when its answer is known.
 */

/**
 * The catalogs whose rows the schema snapshot (catalog.ts) reads or its deparse functions look up
 * (pg_get_viewdef: pg_rewrite; index and constraint definitions: operator classes, collations and
 * operators; sequences), each with the key of a row. A catalog the snapshot starts to read must be
 * added here: test/engine/catalog-stamp.test.ts compares this list with catalog.ts's query.
 */
export const STAMPED_CATALOGS: Readonly<Record<string, string>> = {
  pg_namespace: 'oid',
  pg_class: 'oid',
  pg_attribute: 'attrelid::bigint * 4096 + attnum',
  pg_attrdef: 'oid',
  pg_index: 'indexrelid',
  pg_constraint: 'oid',
  pg_proc: 'oid',
  pg_type: 'oid',
  pg_enum: 'oid',
  pg_extension: 'oid',
  pg_depend: 'objid::bigint * 4096 + objsubid',
  pg_policy: 'oid',
  pg_trigger: 'oid',
  pg_rewrite: 'oid',
  pg_sequence: 'seqrelid',
  pg_inherits: 'inhrelid',
  pg_opclass: 'oid',
  pg_collation: 'oid',
  pg_operator: 'oid',
  pg_description: 'objoid::bigint * 4096 + objsubid',
  // Expressions name them: to_tsvector('english'::regconfig, body) in an index or a default.
  pg_ts_config: 'oid',
  pg_ts_dict: 'oid',
};

/**
 * The rows of a catalog the snapshot can show, where they are a few of many, read through its
 * index: pg_description holds thousands of the system's own comments, and the snapshot shows only
 * those on objects made after the system's (catalog.ts: the first oid given to users, 16384) and
 * on the public schema, the one schema made before them that users comment on (oid 2200).
 */
const STAMPED_ROWS: Readonly<Record<string, string>> = {
  pg_description: 'objoid >= 16384 OR objoid = 2200',
};

/**
 * What the lines name from the server's catalogs, shared by its databases: a policy's line names
 * its roles, and a role renamed writes pg_authid, which no database's own catalog sees (nor can
 * every role read it). The names themselves, then: policies are few.
 */
const POLICY_ROLES = `(SELECT coalesce(string_agg(pol.oid || '=' || pg_get_userbyid(role.oid), ',' ORDER BY pol.oid, role.oid), '')
    FROM pg_catalog.pg_policy pol, unnest(pol.polroles) role (oid))`;

/** Settings the deparse's output depends on (qualified names, constants in defaults), and the server's version. */
const SETTINGS = [
  'server_version_num',
  'search_path',
  'DateStyle',
  'IntervalStyle',
  'TimeZone',
  'extra_float_digits',
  'bytea_output',
  'quote_all_identifiers',
  'standard_conforming_strings',
];

/**
 * How far behind the current transaction id a horizon may be and still be compared: 32-bit
 * transaction ids compare only within 2^31 of each other.
 */
const COMPARABLE_XIDS = 1_000_000_000;

/**
 * The stamp as a SQL expression (text: `<horizon> <hash>`), computed against `horizon`, a SQL
 * expression of a 64-bit transaction id as text. Reads each catalog once; hashes only its rows
 * written at or after the horizon.
 */
export function catalogStampSql(horizon: string): string {
  // age() compares 32-bit ids modulo 2^32 from the current one: a row written at or after the
  // horizon is no older than it. The horizon's age is computed once, not per row.
  const catalogs = Object.entries(STAMPED_CATALOGS).map(
    ([catalog, key]) =>
      `(SELECT count(*)::text || ':' || coalesce(sum(hashtextextended(xmin::text, (${key})::bigint)) ` +
      `FILTER (WHERE age(xmin) <= stamp_horizon.age), 0)::text FROM pg_catalog.${catalog}` +
      `${STAMPED_ROWS[catalog] ? ` WHERE ${STAMPED_ROWS[catalog]}` : ''})`,
  );
  const settings = SETTINGS.map((name) => `current_setting('${name}')`);
  return `(SELECT stamp_horizon.id || ' ' || md5(concat_ws('|', ${[...settings, ...catalogs, POLICY_ROLES].join(',\n  ')}))
  FROM (SELECT id, age((id::bigint % 4294967296)::text::xid) AS age FROM (SELECT (${horizon}) AS id) given) stamp_horizon)`;
}

/**
 * The horizon of the statement's snapshot: every transaction below it had ended when it was taken.
 * (The txid_ functions, not pg_snapshot_xmin: they exist on every supported PostgreSQL.)
 */
export const SNAPSHOT_HORIZON_SQL = 'txid_snapshot_xmin(txid_current_snapshot())::text';

/**
 * SQL (boolean) that is true when `recorded` (a SQL expression: a stamp as recorded, or NULL)
 * equals the stamp now, computed against its own horizon; false when there is none, or its
 * horizon is too far behind to compare.
 */
export function catalogUnchangedSql(recorded: string): string {
  const horizon = `split_part(${recorded}, ' ', 1)`;
  // CASE, not AND: only CASE fixes the order, and the casts must not see a malformed stamp.
  return `(CASE WHEN ${recorded} IS NULL OR ${horizon} !~ '^[0-9]{1,19}$' THEN false
    WHEN txid_snapshot_xmax(txid_current_snapshot()) - ${horizon}::bigint >= ${COMPARABLE_XIDS} THEN false
    ELSE ${recorded} = ${catalogStampSql(horizon)} END)`;
}
