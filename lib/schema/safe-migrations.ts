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
 * Renames are decided before the diff (rename-decisions.ts) and come first (autogenerate.ts); a
 * drop a person confirmed is not a rename gets a comment saying so. Drops, type changes and
 * whatever else the linter flags get an allow line awaiting a person's reason (autogenerate.ts).
 */

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
}

export interface MigrationDraft {
  readonly role: DraftRole;
  readonly transactional: boolean;
  readonly statements: readonly DraftStatement[];
}

/** What the author must look at beside the allow lines: a drop that is not a rename, an enum recreated. */
export interface ReviewNote {
  readonly kind: 'not-a-rename' | 'enum-value-removed';
  readonly message: string;
}

export interface SafeMigrations {
  readonly drafts: readonly MigrationDraft[];
  readonly notes: readonly ReviewNote[];
  /** Which of our rules changed the library's statements (for the report and the corpus tests). */
  readonly rewrites: readonly Rewrite[];
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
  | 'enum-values-committed-first';

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
}

// The library's statement forms this rewrite handles (its own text, see @pgkit/migra changes.js).
const CREATE_TABLE = /^create (?:unlogged )?table (\S+)/i;
const CREATE_INDEX = /^CREATE (UNIQUE )?INDEX (\S+) ON (?:ONLY )?(\S+) ([\s\S]+);$/;
const ADD_CONSTRAINT_USING_INDEX =
  /^alter table (\S+) add constraint (\S+) (?:UNIQUE|PRIMARY KEY) using index (\S+);$/i;
const ADD_CONSTRAINT_NOT_VALID = /^alter table (\S+) add constraint (\S+) ([\s\S]+) not valid;$/i;
const FOREIGN_KEY_REFERENCES =
  /^FOREIGN KEY \([^)]*\) REFERENCES ((?:"(?:[^"]|"")*"|[^"(\s.])+(?:\.(?:"(?:[^"]|"")*"|[^"(\s.])+)?)\(/i;
const ADD_VALUE = /^alter type \S+ add value /i;
const VALIDATE = /^alter table (\S+) validate constraint (\S+);$/i;
const ADD_COLUMN = /^alter table (\S+) add column (\S+) ([\s\S]+);$/i;
const SET_NOT_NULL = /^alter table (\S+) alter column (\S+) set not null;$/i;
const SET_DATA_TYPE = /^alter table (\S+) alter column (\S+) set data type ([\s\S]+) using ([\s\S]+);$/i;
const DROP_TABLE = /^drop table (\S+);$/i;
const DROP_COLUMN = /^alter table (\S+) drop column (\S+);$/i;
const DROP_CONSTRAINT = /^alter table (\S+) drop constraint (\S+);$/i;
const DROP_INDEX = /^drop index if exists (\S+);$/i;
const CHECK_FUNCTION_BODIES = /^set check_function_bodies = off;$/i;
const ENUM_RENAME = /^alter type (\S+) rename to "?([^"\s;]+)__old_version_to_be_dropped"?;$/i;
const ENUM_CREATE = /^create type (\S+) as enum /i;
const ENUM_COLUMN = /^alter table \S+ alter column \S+ type (\S+) using \S+::text::\S+;$/i;
const ENUM_DROP_OLD = /^drop type (\S+)__old_version_to_be_dropped"?;$/i;

/** `"public"."users"` and `public.users` alike: `public.users`. */
export function plainName(quoted: string): string {
  return quoted
    .split('.')
    .map((part) => part.replace(/^"|"$/g, '').replace(/""/g, '"'))
    .join('.');
}

function quoted(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

function quotedQualified(plain: string): string {
  return plain.split('.').map(quoted).join('.');
}

export function planSafeMigrations(statements: readonly string[], facts: SchemaFacts): SafeMigrations {
  const schema: DraftStatement[] = [];
  const indexes: DraftStatement[] = [];
  const finish: DraftStatement[] = [];
  const laterForeignKeys: DraftStatement[] = [];
  const addedValues = new Set<DraftStatement>();
  const notes: ReviewNote[] = [];
  const created = new Set(statements.flatMap((sql) => capture(CREATE_TABLE, sql).map(plainName)));
  const droppedTables = new Set(statements.flatMap((sql) => capture(DROP_TABLE, sql).map(plainName)));
  const droppedConstraints = new Set(
    statements.flatMap((sql) => {
      const match = DROP_CONSTRAINT.exec(sql);
      return match ? [plainName(`${schemaOf(match[1] as string)}.${match[2]}`)] : [];
    }),
  );
  // Tables that gain a UNIQUE or PRIMARY KEY only in the finish migration (adopting an index
  // built concurrently): a foreign key to them cannot be added before then.
  const keyedLater = new Set(
    statements.flatMap((sql) => {
      const match = ADD_CONSTRAINT_USING_INDEX.exec(sql);
      return match && !created.has(plainName(match[1] as string)) ? [bareName(match[1] as string)] : [];
    }),
  );
  const deferredForeignKeys = new Set<string>();
  const rewrites = new Set<Rewrite>();
  const dropNote = (key: string) => {
    const note = facts.dropNotes?.get(key);
    return note === undefined ? [] : [note];
  };
  const enumRewrites = enumChanges(facts);

  const plain = (sql: string, extra: Partial<DraftStatement> = {}): DraftStatement => ({
    sql,
    notes: extra.notes ?? [],
    awaiting: extra.awaiting ?? [],
  });

  for (const sql of statements) {
    // Redundant with a DROP TABLE of the same diff: its constraints and indexes go with it.
    const onTable = tableOfAlter(sql);
    if (onTable && droppedTables.has(onTable) && DROP_CONSTRAINT.test(sql)) {
      rewrites.add('redundant-drops-left-out');
      continue;
    }
    const droppedIndex = DROP_INDEX.exec(sql);
    if (droppedIndex) {
      const index = plainName(droppedIndex[1] as string);
      // DROP CONSTRAINT already dropped the index behind it, and DROP TABLE every index.
      const table = facts.indexTablesBefore.get(index);
      if (droppedConstraints.has(index) || (table !== undefined && droppedTables.has(table))) {
        rewrites.add('redundant-drops-left-out');
        continue;
      }
      schema.push(plain(sql));
      continue;
    }

    const enumStatement = enumRewrites.rewrite(sql);
    if (enumStatement !== undefined) {
      for (const rewritten of enumStatement) {
        const statement = plain(rewritten);
        schema.push(statement);
        if (ADD_VALUE.test(rewritten)) addedValues.add(statement);
      }
      rewrites.add('enum-add-value');
      continue;
    }

    const index = CREATE_INDEX.exec(sql);
    if (index) {
      const table = plainName(index[3] as string);
      if (created.has(table)) {
        schema.push(plain(sql));
        continue;
      }
      rewrites.add('index-concurrently');
      indexes.push(
        plain(
          `CREATE ${index[1] ?? ''}INDEX CONCURRENTLY IF NOT EXISTS ${index[2]} ON ${index[3]} ${index[4]};`,
        ),
      );
      continue;
    }

    const usingIndex = ADD_CONSTRAINT_USING_INDEX.exec(sql);
    if (usingIndex && !created.has(plainName(usingIndex[1] as string))) {
      rewrites.add('constraint-adopts-index-later');
      finish.push(plain(sql));
      continue;
    }

    const validate = VALIDATE.exec(sql);
    if (validate && deferredForeignKeys.has(`${plainName(validate[1] as string)}.${validate[2]}`)) continue;
    if (validate) {
      // On a new table the constraint was checked as it was added (NOT VALID is dropped there).
      if (created.has(plainName(validate[1] as string))) continue;
      rewrites.add('validate-later');
      finish.push(plain(sql));
      continue;
    }

    const notValid = ADD_CONSTRAINT_NOT_VALID.exec(sql);
    const references = notValid ? FOREIGN_KEY_REFERENCES.exec(notValid[3] as string) : null;
    if (notValid && references && keyedLater.has(bareName(references[1] as string))) {
      // Added after the key it references, still NOT VALID, and validated after that.
      rewrites.add('foreign-key-after-its-key');
      deferredForeignKeys.add(`${plainName(notValid[1] as string)}.${notValid[2]}`);
      laterForeignKeys.push(
        plain(sql, {
          notes: [
            `After ${plainName(references[1] as string)} has the key it references (the statements above).`,
          ],
        }),
        plain(`alter table ${notValid[1]} validate constraint ${notValid[2]};`),
      );
      continue;
    }
    if (notValid && created.has(plainName(notValid[1] as string))) {
      rewrites.add('new-table-constraint-checked-at-once');
      schema.push(plain(`alter table ${notValid[1]} add constraint ${notValid[2]} ${notValid[3]};`));
      continue;
    }

    const addColumn = ADD_COLUMN.exec(sql);
    if (
      addColumn &&
      !created.has(plainName(addColumn[1] as string)) &&
      needsBackfill(addColumn[3] as string)
    ) {
      const table = addColumn[1] as string;
      const column = addColumn[2] as string;
      const nullable = (addColumn[3] as string).replace(/\s+not null\b/i, '');
      schema.push(
        plain(`alter table ${table} add column ${column} ${nullable};`, {
          notes: [
            `${plainName(table)}.${plainName(column)} is wanted NOT NULL without a default: it is added nullable here,`,
            'and made NOT NULL by the validate migration after its rows have a value (backfill them).',
          ],
        }),
      );
      rewrites.add('not-null-column-staged');
      finish.push(
        ...notNullRecipe(table, column, {
          backfill: true,
        }),
      );
      continue;
    }

    const setNotNull = SET_NOT_NULL.exec(sql);
    if (setNotNull && !created.has(plainName(setNotNull[1] as string))) {
      rewrites.add('not-null-staged');
      finish.push(...notNullRecipe(setNotNull[1] as string, setNotNull[2] as string, { backfill: false }));
      continue;
    }

    const setType = SET_DATA_TYPE.exec(sql);
    if (setType) {
      // USING "col"::type is what PostgreSQL does anyway; without it the linter can tell a
      // change that rewrites nothing (varchar widening) from one that rewrites the table.
      const using = (setType[4] as string).trim();
      const implicit = using === `${setType[2]}::${(setType[3] as string).trim()}`;
      if (implicit) rewrites.add('implicit-using-dropped');
      schema.push(
        plain(
          implicit
            ? `alter table ${setType[1]} alter column ${setType[2]} set data type ${(setType[3] as string).trim()};`
            : sql,
        ),
      );
      continue;
    }

    if (CHECK_FUNCTION_BODIES.test(sql)) {
      // Scoped to the transaction: the runner's session goes on to other migrations.
      rewrites.add('function-bodies-setting-local');
      schema.push(plain('SET LOCAL check_function_bodies = off;'));
      continue;
    }

    const dropColumn = DROP_COLUMN.exec(sql);
    if (dropColumn) {
      const column = `${plainName(dropColumn[1] as string)}.${plainName(dropColumn[2] as string)}`;
      schema.push(plain(sql, { notes: dropNote(column) }));
      continue;
    }
    const dropTable = DROP_TABLE.exec(sql);
    if (dropTable) {
      schema.push(plain(sql, { notes: dropNote(plainName(dropTable[1] as string)) }));
      continue;
    }
    schema.push(plain(sql));
  }

  notes.push(...enumRewrites.notes);
  finish.push(...laterForeignKeys);
  const drafts: MigrationDraft[] = [];
  // A value added by ALTER TYPE ... ADD VALUE cannot be used before its transaction commits: when
  // another statement names one, the values get a migration of their own, before the rest.
  const valueLiterals = enumRewrites.addedValues;
  const usesAddedValue = [...schema, ...indexes, ...finish].some(
    (statement) =>
      !addedValues.has(statement) && valueLiterals.some((literal) => statement.sql.includes(literal)),
  );
  if (addedValues.size > 0 && usesAddedValue) {
    rewrites.add('enum-values-committed-first');
    // Outside a transaction (a plan runs its transactional migrations in one): each value
    // commits as it is added, and IF NOT EXISTS lets an interrupted run be repeated.
    drafts.push({
      role: 'enum-values',
      transactional: false,
      statements: [...addedValues].map((statement) => ({
        ...statement,
        sql: statement.sql.replace(/ add value /i, ' add value if not exists '),
      })),
    });
    for (let index = schema.length - 1; index >= 0; index--) {
      if (addedValues.has(schema[index] as DraftStatement)) schema.splice(index, 1);
    }
  }
  if (schema.some((statement) => !/^SET LOCAL /i.test(statement.sql)))
    drafts.push({ role: 'schema', transactional: true, statements: schema });
  if (indexes.length > 0) drafts.push({ role: 'indexes', transactional: false, statements: indexes });
  if (finish.length > 0) drafts.push({ role: 'finish', transactional: false, statements: finish });
  return { drafts, notes, rewrites: [...rewrites] };
}

/** A table's name without its schema: a foreign key names the table it references unqualified when on the search path. */
function bareName(quoted: string): string {
  return plainName(quoted).split('.').pop() as string;
}

function capture(pattern: RegExp, sql: string): string[] {
  const match = pattern.exec(sql);
  return match?.[1] ? [match[1]] : [];
}

function schemaOf(qualified: string): string {
  const parts = qualified.split('.');
  return parts.length > 1 ? (parts[0] as string) : 'public';
}

function tableOfAlter(sql: string): string | undefined {
  const match = /^alter table (\S+) /i.exec(sql);
  return match ? plainName(match[1] as string) : undefined;
}

/** `integer not null` with no DEFAULT, no identity and no generation: rows need a value. */
function needsBackfill(definition: string): boolean {
  return (
    /\bnot null\b/i.test(definition) && !/\bdefault\b/i.test(definition) && !/\bgenerated\b/i.test(definition)
  );
}

/**
 * SET NOT NULL without a scan under ACCESS EXCLUSIVE: a CHECK added NOT VALID, validated
 * (reads without blocking writes), then SET NOT NULL uses it, then the CHECK goes. Each statement
 * commits alone in the `transaction: false` finish migration.
 */
function notNullRecipe(table: string, column: string, options: { backfill: boolean }): DraftStatement[] {
  const tableName = plainName(table).split('.').at(-1) as string;
  const check = quoted(`${tableName}_${plainName(column)}_not_null`.slice(0, 63));
  const backfill = options.backfill
    ? {
        notes: [
          `TODO: rows of ${plainName(table)} that existed before this change have no ${plainName(column)}: backfill them`,
          'before this migration (rds-migrate create --ts, with ctx.batch for a large table), then say so as the reason below.',
        ],
        awaiting: ['add-column-not-null-without-default'],
      }
    : { notes: [], awaiting: [] };
  return [
    {
      sql: `alter table ${table} add constraint ${check} check (${column} is not null) not valid;`,
      ...backfill,
    },
    { sql: `alter table ${table} validate constraint ${check};`, notes: [], awaiting: [] },
    { sql: `alter table ${table} alter column ${column} set not null;`, notes: [], awaiting: [] },
    { sql: `alter table ${table} drop constraint ${check};`, notes: [], awaiting: [] },
  ];
}

// ---------------------------------------------------------------------------------------------
// Enums: the library recreates a type whose values changed (rename, create, convert each column,
// drop), which rewrites every table using it. Values only added, in order, are ADD VALUE instead.

interface EnumRewrites {
  /** The replacement for a statement of an enum's recreation ([] to drop it), or undefined. */
  rewrite(sql: string): string[] | undefined;
  readonly notes: readonly ReviewNote[];
  /** The values added, as the literals a statement using them would hold (`'meh'`). */
  readonly addedValues: readonly string[];
}

function enumChanges(facts: SchemaFacts): EnumRewrites {
  const addable = new Map<string, string[]>();
  const addedValues: string[] = [];
  const notes: ReviewNote[] = [];
  for (const [name, after] of facts.enumsAfter) {
    const before = facts.enumsBefore.get(name);
    if (!before || sameValues(before, after)) continue;
    const kept = after.filter((value) => before.includes(value));
    if (!sameValues(kept, before)) {
      notes.push({
        kind: 'enum-value-removed',
        message:
          `enum ${name} loses or reorders values (${before.join(', ')} → ${after.join(', ')}): PostgreSQL cannot drop a ` +
          'value, so the type is recreated and every column using it converted (a table rewrite); make sure no row holds a removed value',
      });
      continue;
    }
    addable.set(name, addValueStatements(name, before, after));
    for (const value of after) if (!before.includes(value)) addedValues.push(enumLiteral(value));
  }
  const enumOf = (quotedName: string) => plainName(quotedName);
  return {
    notes,
    addedValues,
    rewrite(sql) {
      const renamed = ENUM_RENAME.exec(sql);
      if (renamed) {
        const statements = addable.get(enumOf(renamed[1] as string));
        return statements ? statements : undefined;
      }
      for (const pattern of [ENUM_CREATE, ENUM_COLUMN]) {
        const match = pattern.exec(sql);
        if (match && addable.has(enumOf(match[1] as string))) return [];
      }
      const dropped = ENUM_DROP_OLD.exec(sql);
      if (dropped && addable.has(enumOf(`${dropped[1]}"`))) return [];
      return undefined;
    },
  };
}

function enumLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

function addValueStatements(name: string, before: readonly string[], after: readonly string[]): string[] {
  const statements: string[] = [];
  const literal = enumLiteral;
  let previous: string | undefined;
  for (const value of after) {
    if (!before.includes(value)) {
      const where =
        previous === undefined ? `before ${literal(before[0] as string)}` : `after ${literal(previous)}`;
      statements.push(`alter type ${quotedQualified(name)} add value ${literal(value)} ${where};`);
    }
    previous = value;
  }
  return statements;
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
