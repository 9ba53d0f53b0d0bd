/**
 * What the diff library does not see, read from the catalog and written by our code: a
 * sequence's parameters (it creates every sequence bare, and never alters one), and whether a
 * generated column is STORED or VIRTUAL (it writes every one STORED, and cannot tell the two
 * apart). schema-diff.ts reads these facts with each schema and mends the library's statements.
 */
import type { Database } from '../engine/database.ts';

/** A sequence's parameters as pg_sequence holds them (numbers as text: they are bigints). */
interface SequenceParameters {
  /** `bigint`, `integer` or `smallint`. */
  readonly type: string;
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
}

/** `s` STORED, `v` VIRTUAL (PostgreSQL 18). */
type GeneratedKind = 's' | 'v';

export interface DiffGapFacts {
  /** `schema.sequence` → its parameters; identity sequences are left out (their column owns them). */
  readonly sequences: ReadonlyMap<string, SequenceParameters>;
  /** `schema.table.column` → its kind, for each generated column. */
  readonly generated: ReadonlyMap<string, GeneratedKind>;
  /**
   * PostgreSQL 18's NOT NULL constraints (none before 18), which the library does not list: a
   * renamed table's or column's keep the old name unless renamed with it, and a partition's are
   * named after its parent's (partition-changes.ts).
   */
  readonly notNullConstraints: readonly NotNullConstraint[];
  /** Identity columns' sequences, which the library does not list either: a rename keeps their old name. */
  readonly identitySequences: readonly OnTable[];
}

/** An object named on a table. */
interface OnTable {
  readonly schema: string;
  readonly table: string;
  readonly name: string;
}

/** A NOT NULL constraint, with the column it holds. */
export interface NotNullConstraint extends OnTable {
  readonly column: string;
}

/** Reads the facts of every schema but `excludeSchemas` and the system ones. */
export async function readDiffGapFacts(
  db: Database,
  excludeSchemas: readonly string[],
): Promise<DiffGapFacts> {
  const user = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    AND NOT n.nspname = ANY ($1::text[])`;
  const sequences = await db.query<SequenceParameters & { schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, format_type(s.seqtypid, NULL) AS type,
            s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS min,
            s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${user}
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                       AND (d.deptype = 'i' OR d.deptype = 'e'))`,
    [excludeSchemas],
  );
  // to_jsonb: attgenerated is there from PostgreSQL 12 on, and the query must not fail before.
  const generated = await db.query<{ schema: string; table: string; column: string; kind: GeneratedKind }>(
    `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, to_jsonb(a) ->> 'attgenerated' AS kind
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
       AND coalesce(to_jsonb(a) ->> 'attgenerated', '') <> '' AND ${user}`,
    [excludeSchemas],
  );
  const notNull = await db.query<NotNullConstraint>(
    `SELECT n.nspname AS schema, c.relname AS table, con.conname AS name, a.attname AS column
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
     WHERE con.contype = 'n' AND ${user}`,
    [excludeSchemas],
  );
  const identity = await db.query<OnTable>(
    `SELECT n.nspname AS schema, t.relname AS table, c.relname AS name
     FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S'
       JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i' AND ${user}`,
    [excludeSchemas],
  );
  return {
    notNullConstraints: notNull.rows,
    identitySequences: identity.rows,
    sequences: new Map(
      sequences.rows.map(({ schema, name, ...parameters }) => [`${schema}.${name}`, parameters]),
    ),
    generated: new Map(generated.rows.map((row) => [`${row.schema}.${row.table}.${row.column}`, row.kind])),
  };
}

/** A column of the library's inspection, as far as its creation clause goes. */
interface LibraryColumn {
  readonly name: string;
  readonly is_generated?: boolean;
  readonly creation_clause: string;
  readonly add_column_clause: string;
  readonly drop_column_clause: string;
}

interface LibraryTable {
  readonly schema: string;
  readonly name: string;
  readonly quoted_full_name: string;
  readonly columns: Readonly<Record<string, LibraryColumn>>;
}

/** One side of the comparison: the library's tables and our facts. */
export interface GapSide {
  readonly tables: Readonly<Record<string, LibraryTable>>;
  readonly facts: DiffGapFacts;
}

/**
 * The library's statements from `from` to `to`, mended: a VIRTUAL column created VIRTUAL, a
 * column whose generated kind changes dropped and added again (PostgreSQL cannot convert one),
 * a new sequence created with its parameters, and a changed one altered.
 */
export function mendDiff(statements: readonly string[], from: GapSide, to: GapSide): string[] {
  const mended = statements.map((sql) => virtualClauses(sql, to));
  const kindChanges = generatedKindChanges(from, to);
  const sequences = sequenceChanges(mended, from.facts.sequences, to.facts.sequences);
  return [...sequences.rewritten, ...kindChanges, ...sequences.altered];
}

/** The STORED clause the library writes for each VIRTUAL column of `to`, made VIRTUAL. */
function virtualClauses(sql: string, to: GapSide): string {
  if (!/ stored\b/.test(sql)) return sql;
  let result = sql;
  for (const [key, kind] of to.facts.generated) {
    if (kind !== 'v') continue;
    const column = columnOf(to, key);
    if (column && result.includes(column.creation_clause))
      result = result.replace(column.creation_clause, virtual(column.creation_clause));
  }
  return result;
}

function virtual(clause: string): string {
  return clause.replace(/ stored$/, ' virtual');
}

function columnOf(side: GapSide, key: string): LibraryColumn | undefined {
  const [schema, table, ...rest] = key.split('.');
  const found = Object.values(side.tables).find(
    (candidate) => candidate.schema === schema && candidate.name === table,
  );
  return found?.columns[rest.join('.')];
}

function tableOf(side: GapSide, key: string): LibraryTable | undefined {
  const [schema, table] = key.split('.');
  return Object.values(side.tables).find(
    (candidate) => candidate.schema === schema && candidate.name === table,
  );
}

/** Columns generated on both sides but of another kind: the library sees no change. */
function generatedKindChanges(from: GapSide, to: GapSide): string[] {
  const statements: string[] = [];
  for (const [key, kind] of to.facts.generated) {
    const before = from.facts.generated.get(key);
    if (before === undefined || before === kind) continue;
    const table = tableOf(to, key);
    const column = columnOf(to, key);
    if (!table || !column) continue;
    const clause = kind === 'v' ? virtual(column.add_column_clause) : column.add_column_clause;
    statements.push(
      `alter table ${table.quoted_full_name} ${column.drop_column_clause};`,
      `alter table ${table.quoted_full_name} ${clause};`,
    );
  }
  return statements;
}

/** The library's bare CREATE SEQUENCEs given their parameters, and ALTER SEQUENCE for the changed ones. */
function sequenceChanges(
  statements: readonly string[],
  from: ReadonlyMap<string, SequenceParameters>,
  to: ReadonlyMap<string, SequenceParameters>,
): { rewritten: string[]; altered: string[] } {
  const rewritten = statements.map((sql) => {
    const created = /^create sequence ("(?:[^"]|"")+"\."(?:[^"]|"")+")( owned by [^;]+)?;$/.exec(sql);
    if (!created) return sql;
    const parameters = to.get(unquoted(created[1] as string));
    if (!parameters) return sql;
    const type = parameters.type === 'bigint' ? '' : ` as ${parameters.type}`;
    const clauses = sequenceClauses(defaultsFor(parameters.type, parameters.increment), parameters);
    return `create sequence ${created[1]}${type}${clauses}${created[2] ?? ''};`;
  });
  const altered: string[] = [];
  for (const [name, parameters] of to) {
    const before = from.get(name);
    if (!before) continue;
    const clauses = sequenceClauses(before, parameters);
    if (clauses !== '') altered.push(`alter sequence ${quotedName(name)}${clauses};`);
  }
  return { rewritten, altered };
}

/**
 * The clauses that take a sequence from `before` to `after`, each only when it differs. A new
 * type moves the bounds that were the old type's, so those are always written with it.
 */
function sequenceClauses(before: SequenceParameters, after: SequenceParameters): string {
  const typeChanges = before.type !== after.type;
  const clauses: string[] = [];
  if (typeChanges) clauses.push(`as ${after.type}`);
  if (before.increment !== after.increment) clauses.push(`increment by ${after.increment}`);
  if (typeChanges || before.min !== after.min) clauses.push(`minvalue ${after.min}`);
  if (typeChanges || before.max !== after.max) clauses.push(`maxvalue ${after.max}`);
  if (before.start !== after.start) clauses.push(`start with ${after.start}`);
  if (before.cache !== after.cache) clauses.push(`cache ${after.cache}`);
  if (before.cycle !== after.cycle) clauses.push(after.cycle ? 'cycle' : 'no cycle');
  return clauses.map((clause) => ` ${clause}`).join('');
}

const TYPE_BOUNDS: Readonly<Record<string, readonly [bigint, bigint]>> = {
  smallint: [-32768n, 32767n],
  integer: [-2147483648n, 2147483647n],
  bigint: [-9223372036854775808n, 9223372036854775807n],
};

/** What CREATE SEQUENCE AS `type` gives a sequence of `increment` when it is told nothing else. */
function defaultsFor(type: string, increment: string): SequenceParameters {
  const [lowest, highest] = TYPE_BOUNDS[type] ?? (TYPE_BOUNDS.bigint as readonly [bigint, bigint]);
  const ascending = BigInt(increment) > 0n;
  const min = ascending ? '1' : lowest.toString();
  const max = ascending ? highest.toString() : '-1';
  return { type, start: ascending ? min : max, increment: '1', min, max, cache: '1', cycle: false };
}

function unquoted(quoted: string): string {
  return quoted
    .split('"."')
    .map((part) => part.replace(/^"|"$/g, '').replace(/""/g, '"'))
    .join('.');
}

function quotedName(plain: string): string {
  const [schema, ...name] = plain.split('.');
  return [schema as string, name.join('.')].map((part) => `"${part.replace(/"/g, '""')}"`).join('.');
}
