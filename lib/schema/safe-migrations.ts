/**
 * The diff library's statements, rewritten to our safety rules (the linter's), as up to four
 * migrations in order:
 * 0. `enum-values` (`transaction: false`), only when the change uses an enum value it adds:
 *    the ADD VALUEs, each committed before anything names the value (PostgreSQL refuses a value
 *    in the transaction that added it);
 * 1. `schema` (in the plan's transaction): everything that is quick or catalog-only, constraints
 *    added NOT VALID, a NOT NULL column on an existing table added nullable first, enum values
 *    added with ADD VALUE rather than by recreating the type;
 * 2. `indexes` (`transaction: false`): CREATE INDEX on an existing table, CONCURRENTLY;
 * 3. `finish` (`transaction: false`, after both have committed): VALIDATE CONSTRAINT, SET NOT
 *    NULL through a validated CHECK, UNIQUE / PRIMARY KEY ... USING INDEX the concurrent builds,
 *    and after those, foreign keys to the keys they give (NOT VALID, then VALIDATE).
 * Each statement is read through PostgreSQL's parser (diff-statements.ts) as a kind of change, and
 * each kind has its planner here.
 * Renames are decided before the diff (rename-decisions.ts) and come first (autogenerate.ts); a
 * drop a person confirmed is not a rename gets a comment saying so. Drops, type changes and
 * whatever else the linter flags get an allow line awaiting a person's reason (autogenerate.ts).
 */

import { createHash } from 'node:crypto';
import { type DiffStatement, type DiffStatementKind, readDiffStatements } from './diff-statements.ts';
import { type EnumRewrites, enumChanges } from './enum-changes.ts';
import { backfillSql, type Fills, type ValueNeeded } from './not-null-fill.ts';
import { libraryQuoted, plainName, quoted } from './sql-names.ts';

/** Which generated migration a statement goes to; they run in this order. */
export type DraftRole = 'enum-values' | 'schema' | 'indexes' | 'finish';

export interface DraftStatement {
  readonly sql: string;
  /** Comment lines written directly above the statement (without `-- `). */
  readonly notes: readonly string[];
  /** Rules the statement needs a person's decision on: an allow line awaiting a reason each. */
  readonly awaiting: readonly string[];
  /** The statement that undoes it, when the diff back cannot see it (a rename looks like a drop and an add). */
  readonly undo?: string;
  /** Rules whose findings on it stay, with no allow line (a rename: deployed code uses the old name). */
  readonly kept?: readonly string[];
  /**
   * Reasons, by rule, our code gives for a statement it wrote whole (the `--fill` backfill): when
   * the linter flags it for one, its allow line carries the reason instead of awaiting one.
   */
  readonly vouched?: Readonly<Record<string, string>>;
  /** The vouched rules the linter flagged: allow lines written with our reason. */
  readonly allowed?: readonly string[];
}

export interface MigrationDraft {
  readonly role: DraftRole;
  readonly transactional: boolean;
  readonly statements: readonly DraftStatement[];
}

/** What the author must look at beside the allow lines: a drop that is not a rename, an enum recreated. */
export interface ReviewNote {
  readonly kind: 'not-a-rename' | 'enum-value-removed' | 'not-null-unchecked';
  readonly message: string;
}

export interface SafeMigrations {
  readonly drafts: readonly MigrationDraft[];
  readonly notes: readonly ReviewNote[];
  /** Which of our rules changed the library's statements (for the report and the corpus tests). */
  readonly rewrites: readonly Rewrite[];
  /** Columns made NOT NULL with no default and no `--fill`: rows may need a value (not-null-fill.ts). */
  readonly valuesNeeded: readonly ValueNeeded[];
  /** `schema.table.column` of the `--fill`s the plan used. */
  readonly filled: ReadonlySet<string>;
}

export type Rewrite =
  | 'index-concurrently'
  | 'validate-later'
  | 'constraint-adopts-index-later'
  | 'not-null-staged'
  | 'not-null-column-staged'
  | 'enum-add-value'
  | 'implicit-using-dropped'
  | 'redundant-drops-left-out'
  | 'new-table-constraint-checked-at-once'
  | 'function-bodies-setting-local'
  | 'foreign-key-after-its-key'
  | 'enum-values-committed-first'
  | 'identity-starts-after-existing-values'
  | 'not-null-backfilled';

/** What the rewrite needs to know of both schemas besides the statements. */
export interface SchemaFacts {
  /** `schema.enum` → values in order, before and after. */
  readonly enumsBefore: ReadonlyMap<string, readonly string[]>;
  readonly enumsAfter: ReadonlyMap<string, readonly string[]>;
  /** `schema.index` → `schema.table`, before: which dropped indexes go with a dropped table. */
  readonly indexTablesBefore: ReadonlyMap<string, string>;
  /**
   * Comments above the DROP of a table (`schema.table`) or column (`schema.table.column`) that a
   * person said is not a rename. @default none
   */
  readonly dropNotes?: ReadonlyMap<string, string>;
  /** `schema.table.column` → the value its rows without one get (`--fill`). @default none */
  readonly fills?: Fills;
}

/** What the planners share: the facts read once from all statements, and the drafts they fill. */
interface Planning {
  readonly facts: SchemaFacts;
  /** Tables the change creates: their indexes and constraints need none of our staging. */
  readonly created: ReadonlySet<string>;
  readonly droppedTables: ReadonlySet<string>;
  /** `schema.constraint` of each dropped constraint: the index behind it goes with it. */
  readonly droppedConstraints: ReadonlySet<string>;
  /**
   * Tables (unqualified) that gain a UNIQUE or PRIMARY KEY only in the finish migration (adopting
   * an index built concurrently): a foreign key to them cannot be added before then.
   */
  readonly keyedLater: ReadonlySet<string>;
  /** `schema.table.constraint` of foreign keys moved after their key, validated there too. */
  readonly deferredForeignKeys: Set<string>;
  readonly enums: EnumRewrites;
  readonly schema: DraftStatement[];
  readonly indexes: DraftStatement[];
  readonly finish: DraftStatement[];
  readonly laterForeignKeys: DraftStatement[];
  /** The ADD VALUE statements among `schema`, each with its form when committed first. */
  readonly addedValues: Map<DraftStatement, string>;
  readonly rewrites: Set<Rewrite>;
  readonly valuesNeeded: ValueNeeded[];
  readonly filled: Set<string>;
}

/** The statements of one kind. */
type Of<Kind extends DiffStatementKind> = Extract<DiffStatement, { kind: Kind }>;

type Planner<Kind extends DiffStatementKind> = (statement: Of<Kind>, planning: Planning) => void;

function plain(sql: string, extra: Partial<DraftStatement> = {}): DraftStatement {
  return { sql, notes: extra.notes ?? [], awaiting: extra.awaiting ?? [] };
}

/** One planner per kind of change: where the statement goes, and how our rules rewrite it. */
const PLANNERS: { readonly [Kind in DiffStatementKind]: Planner<Kind> } = {
  'create-table': keepInSchema,
  'drop-table': planDropTable,
  'create-index': planCreateIndex,
  'drop-index': planDropIndex,
  'add-column': planAddColumn,
  'set-not-null': planSetNotNull,
  'add-identity': planAddIdentity,
  'set-data-type': planSetDataType,
  'drop-column': planDropColumn,
  'adopt-index': planAdoptIndex,
  'add-constraint-not-valid': planAddConstraintNotValid,
  'validate-constraint': planValidateConstraint,
  'drop-constraint': planDropConstraint,
  'validate-domain-constraint': planValidateDomainConstraint,
  'comment-on-index': planCommentOnIndex,
  'function-bodies-unchecked': planFunctionBodiesUnchecked,
  'enum-set-aside': planEnumRecreation,
  'enum-created': planEnumRecreation,
  'enum-set-aside-dropped': planEnumRecreation,
  other: keepInSchema,
};

export async function planSafeMigrations(
  statements: readonly string[],
  facts: SchemaFacts,
): Promise<SafeMigrations> {
  const read = await readDiffStatements(statements);
  const planning = startPlanning(read, facts);
  for (const statement of read) {
    (PLANNERS[statement.kind] as Planner<typeof statement.kind>)(statement as never, planning);
  }
  return finishPlanning(planning);
}

function startPlanning(read: readonly DiffStatement[], facts: SchemaFacts): Planning {
  const tables = (kind: 'create-table' | 'drop-table') =>
    new Set(read.flatMap((statement) => (statement.kind === kind ? [statement.table] : [])));
  const created = tables('create-table');
  return {
    facts,
    created,
    droppedTables: tables('drop-table'),
    droppedConstraints: new Set(
      read.flatMap((statement) =>
        statement.kind === 'drop-constraint' ? [`${schemaOf(statement.table)}.${statement.constraint}`] : [],
      ),
    ),
    keyedLater: new Set(
      read.flatMap((statement) =>
        statement.kind === 'adopt-index' && !created.has(statement.table) ? [bareName(statement.table)] : [],
      ),
    ),
    deferredForeignKeys: new Set(),
    enums: enumChanges(facts),
    schema: [],
    indexes: [],
    finish: [],
    laterForeignKeys: [],
    addedValues: new Map(),
    rewrites: new Set(),
    valuesNeeded: [],
    filled: new Set(),
  };
}

function keepInSchema(statement: DiffStatement, planning: Planning): void {
  planning.schema.push(plain(statement.sql));
}

function dropNote(planning: Planning, key: string): string[] {
  const note = planning.facts.dropNotes?.get(key);
  return note === undefined ? [] : [note];
}

function planDropTable(statement: Of<'drop-table'>, planning: Planning): void {
  planning.schema.push(plain(statement.sql, { notes: dropNote(planning, statement.table) }));
}

function planDropColumn(statement: Of<'drop-column'>, planning: Planning): void {
  const column = `${statement.table}.${statement.column}`;
  planning.schema.push(plain(statement.sql, { notes: dropNote(planning, column) }));
}

/** Redundant with a DROP TABLE of the same diff: its constraints go with it. */
function planDropConstraint(statement: Of<'drop-constraint'>, planning: Planning): void {
  if (planning.droppedTables.has(statement.table)) {
    planning.rewrites.add('redundant-drops-left-out');
    return;
  }
  keepInSchema(statement, planning);
}

/** DROP CONSTRAINT already dropped the index behind it, and DROP TABLE every index. */
function planDropIndex(statement: Of<'drop-index'>, planning: Planning): void {
  const table = planning.facts.indexTablesBefore.get(statement.index);
  if (
    planning.droppedConstraints.has(statement.index) ||
    (table !== undefined && planning.droppedTables.has(table))
  ) {
    planning.rewrites.add('redundant-drops-left-out');
    return;
  }
  // A plain DROP INDEX waits for ACCESS EXCLUSIVE on the table, queueing its traffic; CONCURRENTLY does not.
  const concurrent = dropIndexConcurrently(statement.sql);
  if (!concurrent) {
    keepInSchema(statement, planning);
    return;
  }
  planning.rewrites.add('index-concurrently');
  planning.indexes.push(plain(concurrent));
}

/** The diff library's `drop index if exists X;` made CONCURRENTLY; undefined for any other form. */
export function dropIndexConcurrently(sql: string): string | undefined {
  const drop = /^drop index if exists (\S+);$/i.exec(sql);
  return drop ? `DROP INDEX CONCURRENTLY IF EXISTS ${drop[1]};` : undefined;
}

/** On an existing table, CONCURRENTLY (and IF NOT EXISTS, so an interrupted run can be repeated). */
function planCreateIndex(statement: Of<'create-index'>, planning: Planning): void {
  const prefix = `CREATE ${statement.unique ? 'UNIQUE ' : ''}INDEX `;
  if (planning.created.has(statement.table) || !statement.sql.toUpperCase().startsWith(prefix)) {
    keepInSchema(statement, planning);
    return;
  }
  planning.rewrites.add('index-concurrently');
  const rest = statement.sql.slice(prefix.length);
  // CONCURRENTLY cannot build on ONLY a partitioned table: the index goes on the table itself.
  const target = statement.only ? rest.replace(' ON ONLY ', ' ON ') : rest;
  planning.indexes.push(plain(`${prefix}CONCURRENTLY IF NOT EXISTS ${target}`));
}

function planAdoptIndex(statement: Of<'adopt-index'>, planning: Planning): void {
  if (planning.created.has(statement.table)) {
    keepInSchema(statement, planning);
    return;
  }
  planning.rewrites.add('constraint-adopts-index-later');
  planning.finish.push(plain(statement.sql));
}

function planValidateConstraint(statement: Of<'validate-constraint'>, planning: Planning): void {
  if (planning.deferredForeignKeys.has(`${statement.table}.${statement.constraint}`)) return;
  // On a new table the constraint was checked as it was added (NOT VALID is dropped there).
  if (planning.created.has(statement.table)) return;
  planning.rewrites.add('validate-later');
  planning.finish.push(plain(statement.sql));
}

/** A domain's CHECK, added NOT VALID (domain-changes.ts), is validated after that has committed, as a table's. */
function planValidateDomainConstraint(statement: Of<'validate-domain-constraint'>, planning: Planning): void {
  planning.rewrites.add('validate-later');
  planning.finish.push(plain(statement.sql));
}

/** A comment on an index built CONCURRENTLY (in the indexes migration) waits until the index is there. */
function planCommentOnIndex(statement: Of<'comment-on-index'>, planning: Planning): void {
  const name = bareName(statement.index);
  const built = planning.indexes.some((index) => {
    const created = /^CREATE (?:UNIQUE )?INDEX CONCURRENTLY IF NOT EXISTS (\S+) ON /.exec(index.sql);
    return created !== null && plainName(created[1] as string) === name;
  });
  (built ? planning.finish : planning.schema).push(plain(statement.sql));
}

function planAddConstraintNotValid(statement: Of<'add-constraint-not-valid'>, planning: Planning): void {
  const { table, constraint, references } = statement;
  if (references !== undefined && planning.keyedLater.has(bareName(references))) {
    // Added after the key it references, still NOT VALID, and validated after that.
    planning.rewrites.add('foreign-key-after-its-key');
    planning.deferredForeignKeys.add(`${table}.${constraint}`);
    planning.laterForeignKeys.push(
      plain(statement.sql, {
        notes: [`After ${references} has the key it references (the statements above).`],
      }),
      plain(`alter table ${libraryQuoted(table)} validate constraint ${libraryQuoted(constraint)};`),
    );
    return;
  }
  if (planning.created.has(table)) {
    planning.rewrites.add('new-table-constraint-checked-at-once');
    planning.schema.push(plain(statement.checkedAtOnce));
    return;
  }
  keepInSchema(statement, planning);
}

/** A NOT NULL column without a value for existing rows: added nullable, made NOT NULL in finish. */
function planAddColumn(statement: Of<'add-column'>, planning: Planning): void {
  if (!statement.notNull?.needsBackfill || planning.created.has(statement.table)) {
    keepInSchema(statement, planning);
    return;
  }
  const { table, column } = statement;
  const filled = fillOf(planning, table, column);
  planning.schema.push(
    plain(statement.notNull.withoutNotNull, {
      notes: [
        `${table}.${column} is wanted NOT NULL without a default: it is added nullable here,`,
        filled.length > 0
          ? 'and made NOT NULL by the validate migration after its rows get the value given with --fill.'
          : 'and made NOT NULL by the validate migration after its rows have a value (backfill them).',
      ],
    }),
  );
  planning.rewrites.add('not-null-column-staged');
  if (filled.length === 0) planning.valuesNeeded.push({ table, column, kind: 'added' });
  planning.finish.push(...filled, ...notNullRecipe(table, column, { backfill: filled.length === 0 }));
}

function planSetNotNull(statement: Of<'set-not-null'>, planning: Planning): void {
  if (planning.created.has(statement.table)) {
    keepInSchema(statement, planning);
    return;
  }
  const { table, column } = statement;
  const filled = fillOf(planning, table, column);
  if (filled.length === 0) planning.valuesNeeded.push({ table, column, kind: 'existing' });
  planning.rewrites.add('not-null-staged');
  planning.finish.push(...filled, ...notNullRecipe(table, column, { backfill: false }));
}

/** The batched backfill of the value `--fill` gives the column, or none. */
function fillOf(planning: Planning, table: string, column: string): DraftStatement[] {
  const key = `${table}.${column}`;
  const expression = planning.facts.fills?.get(key);
  if (expression === undefined) return [];
  planning.filled.add(key);
  planning.rewrites.add('not-null-backfilled');
  return [
    {
      ...plain(backfillSql(table, column, expression), {
        notes: [
          `The rows of ${table} without a ${column} get ${expression} (--fill), 1,000 pages at a time, each batch`,
          'committed; then the NOT NULL below is checked without blocking writes.',
        ],
      }),
      vouched: {
        'opaque-statement': `written by create --autogenerate --fill: it only UPDATEs ${table}.${column} where NULL, in committed batches`,
      },
    },
  ];
}

/**
 * An identity on a column that has values starts at its START all the same: the first insert that
 * takes the next value would collide with a row's. The identity's sequence moves past the largest
 * value, in the same transaction.
 */
function planAddIdentity(statement: Of<'add-identity'>, planning: Planning): void {
  keepInSchema(statement, planning);
  if (planning.created.has(statement.table)) return;
  planning.rewrites.add('identity-starts-after-existing-values');
  const sequence = `pg_get_serial_sequence(${sqlLiteral(libraryQuoted(statement.table))}, ${sqlLiteral(statement.column)})`;
  planning.schema.push(
    plain(
      `select setval(${sequence}, greatest(seqstart, coalesce(largest + 1, seqstart)), false)\n` +
        `from pg_sequence, (select max(${libraryQuoted(statement.column)}) as largest from ${libraryQuoted(statement.table)}) existing\n` +
        `where seqrelid = ${sequence}::regclass;`,
      {
        notes: [
          `The rows of ${statement.table} have ${statement.column} values already: the identity's next value`,
          'comes after the largest, or the first insert that takes one would collide with a row.',
        ],
      },
    ),
  );
}

function sqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * USING "col"::type is what PostgreSQL does anyway; without it the linter can tell a change that
 * rewrites nothing (varchar widening) from one that rewrites the table.
 */
function planSetDataType(statement: Of<'set-data-type'>, planning: Planning): void {
  if (statement.viaTextTo !== undefined && planning.enums.addsValuesTo(statement.viaTextTo)) {
    planEnumRecreation(statement, planning);
    return;
  }
  if (statement.withoutUsing !== undefined) planning.rewrites.add('implicit-using-dropped');
  planning.schema.push(plain(statement.withoutUsing ?? statement.sql));
}

/** Scoped to the transaction: the runner's session goes on to other migrations. */
function planFunctionBodiesUnchecked(_statement: Of<'function-bodies-unchecked'>, planning: Planning): void {
  planning.rewrites.add('function-bodies-setting-local');
  planning.schema.push(plain(SET_LOCAL_FUNCTION_BODIES));
}

const SET_LOCAL_FUNCTION_BODIES = 'SET LOCAL check_function_bodies = off;';

/** A statement of an enum's recreation: ADD VALUE instead when values are only added. */
function planEnumRecreation(
  statement: Of<'enum-set-aside' | 'enum-created' | 'enum-set-aside-dropped' | 'set-data-type'>,
  planning: Planning,
): void {
  const type = statement.kind === 'set-data-type' ? (statement.viaTextTo as string) : statement.type;
  if (!planning.enums.addsValuesTo(type)) {
    keepInSchema(statement, planning);
    return;
  }
  planning.rewrites.add('enum-add-value');
  if (statement.kind !== 'enum-set-aside') return;
  for (const value of planning.enums.addValues(type)) {
    const added = plain(value.sql);
    planning.schema.push(added);
    planning.addedValues.set(added, value.committedFirst);
  }
}

/**
 * `statements` with each enum the diff library recreates only to gain values given those values
 * with ADD VALUE IF NOT EXISTS instead: for SQL run statement by statement (`diff`'s), where a
 * recreation fails on a type a view's column uses, and rewrites every table that uses it.
 */
export async function withEnumValuesAdded(
  statements: readonly string[],
  enums: Pick<SchemaFacts, 'enumsBefore' | 'enumsAfter'>,
): Promise<string[]> {
  const changes = enumChanges(enums);
  return (await readDiffStatements(statements)).flatMap((statement) => {
    const type = recreatedEnum(statement);
    if (type === undefined || !changes.addsValuesTo(type)) return [statement.sql];
    if (statement.kind !== 'enum-set-aside') return [];
    return changes.addValues(type).map((value) => value.committedFirst);
  });
}

/** The enum a statement of a recreation is about (a column converted to it through text, too). */
function recreatedEnum(statement: DiffStatement): string | undefined {
  if (statement.kind === 'set-data-type') return statement.viaTextTo;
  const recreation = ['enum-set-aside', 'enum-created', 'enum-set-aside-dropped'] as const;
  return (recreation as readonly string[]).includes(statement.kind)
    ? (statement as Of<(typeof recreation)[number]>).type
    : undefined;
}

function finishPlanning(planning: Planning): SafeMigrations {
  const { schema, indexes, finish, addedValues, rewrites } = planning;
  finish.push(...planning.laterForeignKeys);
  const drafts: MigrationDraft[] = [];
  // A value added by ALTER TYPE ... ADD VALUE cannot be used before its transaction commits: when
  // another statement names one, the values get a migration of their own, before the rest.
  const valueLiterals = planning.enums.addedValues;
  const usesAddedValue = [...schema, ...indexes, ...finish].some(
    (statement) =>
      !addedValues.has(statement) && valueLiterals.some((literal) => statement.sql.includes(literal)),
  );
  let transactional = schema;
  if (addedValues.size > 0 && usesAddedValue) {
    rewrites.add('enum-values-committed-first');
    // Outside a transaction (a plan runs its transactional migrations in one): each value
    // commits as it is added, and IF NOT EXISTS lets an interrupted run be repeated.
    drafts.push({
      role: 'enum-values',
      transactional: false,
      statements: [...addedValues.values()].map((sql) => plain(sql)),
    });
    transactional = schema.filter((statement) => !addedValues.has(statement));
  }
  if (transactional.some((statement) => statement.sql !== SET_LOCAL_FUNCTION_BODIES))
    drafts.push({ role: 'schema', transactional: true, statements: transactional });
  if (indexes.length > 0) drafts.push({ role: 'indexes', transactional: false, statements: indexes });
  if (finish.length > 0) drafts.push({ role: 'finish', transactional: false, statements: finish });
  return {
    drafts,
    notes: [...planning.enums.notes],
    rewrites: [...rewrites],
    valuesNeeded: planning.valuesNeeded,
    filled: planning.filled,
  };
}

/** A table's name without its schema: a foreign key names the table it references unqualified when on the search path. */
function bareName(table: string): string {
  return table.split('.').pop() as string;
}

function schemaOf(qualified: string): string {
  const parts = qualified.split('.');
  return parts.length > 1 ? (parts[0] as string) : 'public';
}

/**
 * SET NOT NULL without a scan under ACCESS EXCLUSIVE: a CHECK added NOT VALID, validated
 * (reads without blocking writes), then SET NOT NULL uses it, then the CHECK goes. Each statement
 * commits alone in the `transaction: false` finish migration.
 */
function notNullRecipe(table: string, column: string, options: { backfill: boolean }): DraftStatement[] {
  const check = quoted(stagedCheckName(table, column));
  const [quotedTable, quotedColumn] = [libraryQuoted(table), libraryQuoted(column)];
  const backfill = options.backfill
    ? {
        notes: [
          `TODO: rows of ${table} that existed before this change have no ${column}: backfill them`,
          'before this migration (rds-migrate create --ts, with ctx.batch for a large table), then say so as the reason below.',
        ],
        awaiting: ['add-column-not-null-without-default'],
      }
    : { notes: [], awaiting: [] };
  return [
    {
      sql: `alter table ${quotedTable} add constraint ${check} check (${quotedColumn} is not null) not valid;`,
      ...backfill,
    },
    { sql: `alter table ${quotedTable} validate constraint ${check};`, notes: [], awaiting: [] },
    { sql: `alter table ${quotedTable} alter column ${quotedColumn} set not null;`, notes: [], awaiting: [] },
    { sql: `alter table ${quotedTable} drop constraint ${check};`, notes: [], awaiting: [] },
  ];
}

/**
 * The staged CHECK's name: never `<table>_<column>_not_null`, which PostgreSQL 18 gives the NOT
 * NULL constraint itself (taken by the CHECK, the NOT NULL would end as `..._not_null1`), nor any
 * name PostgreSQL makes up (they end in `_not_null`, `_check`, `_key`, ... and a number). A name
 * too long is cut, with a hash of the whole so that two columns never share one.
 */
function stagedCheckName(table: string, column: string): string {
  const suffix = '_not_null_staged';
  const stem = `${table.split('.').at(-1) as string}_${column}`;
  if (stem.length + suffix.length <= 63) return `${stem}${suffix}`;
  const hash = createHash('sha256').update(`${table}.${column}`).digest('hex').slice(0, 8);
  return `${stem.slice(0, 63 - suffix.length - hash.length - 1)}_${hash}${suffix}`;
}

/**
 * The plan with `renames` first in its `schema` migration (one is made when it has none): what
 * follows was diffed from the renamed schema, so it names the new names.
 */
export function withRenamesFirst(plan: SafeMigrations, renames: readonly DraftStatement[]): SafeMigrations {
  if (renames.length === 0) return plan;
  const drafts = [...plan.drafts];
  const at = drafts.findIndex((draft) => draft.role === 'schema');
  const existing = drafts[at];
  if (existing) drafts[at] = { ...existing, statements: [...renames, ...existing.statements] };
  else
    drafts.splice(drafts[0]?.role === 'enum-values' ? 1 : 0, 0, {
      role: 'schema',
      transactional: true,
      statements: renames,
    });
  return { ...plan, drafts };
}
