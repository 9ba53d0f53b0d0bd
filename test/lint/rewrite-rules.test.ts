/**
 * The rewrite rules (lib/lint/model/rewrite-rules.ts) list by list and explanation by explanation:
 * each binary-coercible pair and widening type, each volatile function and serial type name, the
 * version edges, and the words `check` prints for each case. Parse trees come from the real parser
 * (libpg-query); no database. Milliseconds.
 */
import { type ColumnDef, type Node, parse } from 'libpg-query';
import { describe, expect, it } from 'vitest';
import {
  ALTER_TABLE_NOTES,
  addedColumnRewrite,
  type ColumnType,
  columnConstraints,
  columnType,
  formatType,
  functionNames,
  isSerial,
  typeChange,
} from '../../lib/lint/model/rewrite-rules.ts';

interface AlterCmd {
  readonly AlterTableCmd: { readonly def?: { readonly ColumnDef?: ColumnDef } };
}

async function columnDef(clause: string): Promise<ColumnDef> {
  const tree = await parse(`ALTER TABLE t ${clause}`);
  const statement = tree.stmts?.[0]?.stmt as { AlterTableStmt: { cmds: AlterCmd[] } };
  const column = statement.AlterTableStmt.cmds[0]?.AlterTableCmd.def?.ColumnDef;
  if (!column) throw new Error(`no column in ${clause}`);
  return column;
}

async function typeOf(type: string): Promise<ColumnType> {
  const found = columnType((await columnDef(`ADD COLUMN c ${type}`)).typeName);
  if (!found) throw new Error(`no type in ${type}`);
  return found;
}

/** typeChange for `ALTER COLUMN c TYPE <to> [USING ...]` from a column of type `from`. */
async function change(
  from: string | undefined,
  to: string,
  options: { using?: string; collate?: boolean } = {},
) {
  const column = await columnDef(
    `ALTER COLUMN c TYPE ${to}${options.using ? ` USING ${options.using}` : ''}`,
  );
  const target = columnType(column.typeName) as ColumnType;
  return typeChange(
    'c',
    from ? await typeOf(from) : undefined,
    target,
    column.raw_default as Node | undefined,
    options.collate ?? false,
  );
}

async function added(definition: string, version = 18) {
  return addedColumnRewrite(await columnDef(`ADD COLUMN c ${definition}`), version);
}

describe('column types as the parser spells them', () => {
  it('reads the name, the modifiers and whether it is an array', async () => {
    expect(await typeOf('pg_catalog.varchar(20)')).toEqual({
      name: 'varchar',
      modifiers: [20],
      array: false,
    });
    expect(await typeOf('numeric(10, 2)[]')).toEqual({ name: 'numeric', modifiers: [10, 2], array: true });
    expect(await typeOf('numeric(10, 0)')).toEqual({ name: 'numeric', modifiers: [10, 0], array: false });
    expect(await typeOf('integer')).toEqual({ name: 'int4', modifiers: [], array: false });
    expect(columnType(undefined)).toBeUndefined();
    expect(columnType({ names: [] })).toBeUndefined();
  });

  it("keeps only a type's numeric modifiers", async () => {
    expect(await typeOf("citext_like('abc')")).toEqual({ name: 'citext_like', modifiers: [], array: false });
  });

  it('writes them back as a reader of a finding expects', () => {
    expect(formatType({ name: 'varchar', modifiers: [20], array: false })).toBe('varchar(20)');
    expect(formatType({ name: 'numeric', modifiers: [10, 2], array: true })).toBe('numeric(10,2)[]');
    expect(formatType({ name: 'text', modifiers: [], array: false })).toBe('text');
  });

  it('names the documentation the rules come from', () => {
    expect(ALTER_TABLE_NOTES).toBe('PostgreSQL 18 docs, ALTER TABLE, Notes');
  });
});

describe('a column type change', () => {
  it('rewrites when USING computes the values, or reads another column', async () => {
    const why = 'USING computes new values, so every row is rewritten';
    expect(await change('text', 'text', { using: 'lower(c)' })).toEqual({ rewrite: true, why });
    expect(await change('text', 'text', { using: 'd' })).toEqual({ rewrite: true, why });
    expect(await change('text', 'text', { using: 'd::text' })).toEqual({ rewrite: true, why });
    expect(await change('text', 'text', { using: '1' })).toEqual({ rewrite: true, why });
  });

  it('judges USING c and USING c::type by the types alone', async () => {
    expect(await change('varchar(20)', 'varchar(40)', { using: 'c' })).toMatchObject({ rewrite: false });
    expect(await change('varchar(20)', 'varchar(40)', { using: 'c::varchar(40)' })).toMatchObject({
      rewrite: false,
    });
    expect(await change('varchar(20)', 'varchar(40)', { using: 't.c' })).toMatchObject({ rewrite: false });
  });

  it('says it may rewrite when no earlier migration shows the type', async () => {
    expect(await change(undefined, 'varchar(40)')).toEqual({
      rewrite: 'unknown',
      why: "no earlier migration shows the column's type, so a change to varchar(40) may rewrite the table",
    });
  });

  it('rebuilds indexes for a new collation, and converts every value to or from an array', async () => {
    expect(await change('varchar(20)', 'varchar(40)', { collate: true })).toEqual({
      rewrite: true,
      why: "varchar(20) to varchar(40) with a new collation rebuilds the column's indexes",
    });
    expect(await change('text', 'text[]')).toEqual({
      rewrite: true,
      why: 'text to text[] converts every value',
    });
    expect(await change('text[]', 'text')).toEqual({
      rewrite: true,
      why: 'text[] to text converts every value',
    });
  });

  it('keeps the table when a type that only checks a length grows or loses the limit', async () => {
    const kept = (fromTo: string) => ({
      rewrite: false,
      why: `${fromTo} keeps every stored value valid (no rewrite, no index rebuild)`,
    });
    expect(await change('varchar(20)', 'varchar(40)')).toEqual(kept('varchar(20) to varchar(40)'));
    expect(await change('varchar(20)', 'varchar(20)')).toEqual(kept('varchar(20) to varchar(20)'));
    expect(await change('varchar(20)', 'varchar')).toEqual(kept('varchar(20) to varchar'));
    expect(await change('varbit(8)', 'varbit(16)')).toEqual(kept('varbit(8) to varbit(16)'));
    expect(await change('numeric(10,2)', 'numeric(12,2)')).toEqual(kept('numeric(10,2) to numeric(12,2)'));
    expect(await change('numeric(10,2)', 'numeric(10,2)')).toEqual(kept('numeric(10,2) to numeric(10,2)'));
    expect(await change('numeric(10,0)', 'numeric(12,0)')).toEqual(kept('numeric(10,0) to numeric(12,0)'));
    expect(await change('numeric(10,2)', 'numeric')).toEqual(kept('numeric(10,2) to numeric'));
    expect(await change('timestamp(3)', 'timestamp(6)')).toEqual(kept('timestamp(3) to timestamp(6)'));
    expect(await change('timestamptz(3)', 'timestamptz(6)')).toEqual(
      kept('timestamptz(3) to timestamptz(6)'),
    );
    expect(await change('timestamptz(3)', 'timestamptz')).toEqual(kept('timestamptz(3) to timestamptz'));
    expect(await change('integer', 'integer')).toEqual(kept('int4 to int4'));
  });

  it('rewrites when a length shrinks, a scale moves, or the type is not one PostgreSQL 9.2 let grow', async () => {
    const rewritten = (fromTo: string) => ({
      rewrite: true,
      why: `${fromTo} is not binary coercible, so every row is rewritten`,
    });
    expect(await change('varchar(40)', 'varchar(20)')).toEqual(rewritten('varchar(40) to varchar(20)'));
    expect(await change('varbit(16)', 'varbit(8)')).toEqual(rewritten('varbit(16) to varbit(8)'));
    expect(await change('numeric(10,2)', 'numeric(12,3)')).toEqual(
      rewritten('numeric(10,2) to numeric(12,3)'),
    );
    expect(await change('numeric(12,2)', 'numeric(10,2)')).toEqual(
      rewritten('numeric(12,2) to numeric(10,2)'),
    );
    expect(await change('timestamp(6)', 'timestamp(3)')).toEqual(rewritten('timestamp(6) to timestamp(3)'));
    expect(await change('interval(3)', 'interval(6)')).toMatchObject({ rewrite: true });
    expect(await change('bit(8)', 'bit(16)')).toEqual(rewritten('bit(8) to bit(16)'));
    expect(await change('char(10)', 'char(20)')).toEqual(rewritten('bpchar(10) to bpchar(20)'));
    expect(await change('char(10)', 'text')).toEqual(rewritten('bpchar(10) to text'));
    expect(await change('text', 'varchar(10)')).toEqual(rewritten('text to varchar(10)'));
    expect(await change('varchar', 'varchar(10)')).toEqual(rewritten('varchar to varchar(10)'));
    expect(await change('integer', 'bigint')).toEqual(rewritten('int4 to int8'));
    expect(await change('inet', 'cidr')).toEqual(rewritten('inet to cidr'));
  });

  it('tells same-type changes apart by their modifiers, all of them, whatever the type', async () => {
    expect(await change('char(10)', 'char(10)')).toMatchObject({ rewrite: false });
    expect(await change('interval(3)', 'interval(3)')).toMatchObject({ rewrite: false });
    expect(await change('interval(3)', 'interval')).toMatchObject({ rewrite: false });
    expect(await change('char(10)', 'char')).toMatchObject({ rewrite: true });
  });

  it('rewrites for USING a whole row', async () => {
    expect(await change('text', 'text', { using: 't.*' })).toMatchObject({ rewrite: true });
  });

  it('keeps the table for the binary-coercible pairs pg_cast lists', async () => {
    const coercible = (fromTo: string) => ({
      rewrite: false,
      why: `${fromTo} is binary coercible (no rewrite)`,
    });
    expect(await change('varchar(20)', 'text')).toEqual(coercible('varchar(20) to text'));
    expect(await change('text', 'varchar')).toEqual(coercible('text to varchar'));
    expect(await change('cidr', 'inet')).toEqual(coercible('cidr to inet'));
  });
});

describe('an added column', () => {
  it.each(['smallserial', 'serial', 'bigserial', 'serial2', 'serial4', 'serial8'])(
    'rewrites the table for %s, whose default is nextval()',
    async (type) => {
      expect(await added(type)).toEqual({ cause: 'volatile', what: 'a serial type (a nextval() default)' });
      expect(isSerial(await columnDef(`ADD COLUMN c ${type}`))).toBe(true);
    },
  );

  it('takes a schema-qualified serial for the type of that name, not the shorthand', async () => {
    expect(isSerial(await columnDef('ADD COLUMN c public.serial'))).toBe(false);
    expect(isSerial(await columnDef('ADD COLUMN c integer'))).toBe(false);
    expect(await added('public.serial')).toBeUndefined();
  });

  it.each([
    'random',
    'random_normal',
    'setseed',
    'gen_random_uuid',
    'gen_random_bytes',
    'uuidv4',
    'uuidv7',
    'uuid_generate_v1',
    'uuid_generate_v1mc',
    'uuid_generate_v4',
    'clock_timestamp',
    'timeofday',
    'nextval',
    'txid_current',
    'pg_current_xact_id',
  ])('rewrites the table for a default calling the volatile %s()', async (name) => {
    expect(await added(`text DEFAULT (${name}())::text`)).toEqual({
      cause: 'volatile',
      what: `volatile default ${name}()`,
    });
  });

  it('finds a volatile call however deep in the default, schema-qualified or not', async () => {
    expect(await added('int DEFAULT floor(public.random() * 10)::int')).toEqual({
      cause: 'volatile',
      what: 'volatile default random()',
    });
  });

  it('rewrites for an identity and a stored generated column', async () => {
    expect(await added('int GENERATED ALWAYS AS IDENTITY')).toEqual({
      cause: 'volatile',
      what: 'an identity',
    });
    expect(await added('int GENERATED BY DEFAULT AS IDENTITY', 11)).toEqual({
      cause: 'volatile',
      what: 'an identity',
    });
    const stored = { cause: 'stored-generated', what: 'a stored generated column' };
    expect(await added('int GENERATED ALWAYS AS (id * 2) STORED')).toEqual(stored);
    expect(await added('int GENERATED ALWAYS AS (id * 2) STORED', 12)).toEqual(stored);
  });

  it('keeps the table for a virtual generated column from PostgreSQL 18, the default kind there', async () => {
    expect(await added('int GENERATED ALWAYS AS (id * 2) VIRTUAL', 18)).toBeUndefined();
    expect(await added('int GENERATED ALWAYS AS (id * 2)', 18)).toBeUndefined();
    expect(await added('int GENERATED ALWAYS AS (id * 2)', 17)).toEqual({
      cause: 'stored-generated',
      what: 'a stored generated column',
    });
  });

  it('keeps the table for a constant or stable default from 11 on, not before', async () => {
    expect(await added('timestamptz DEFAULT now()', 11)).toBeUndefined();
    expect(await added("text NOT NULL DEFAULT 'x'", 11)).toBeUndefined();
    expect(await added("text DEFAULT 'x'", 10)).toEqual({ cause: 'default-before-11', what: 'a DEFAULT' });
    expect(await added('timestamptz DEFAULT now()', 10)).toEqual({
      cause: 'default-before-11',
      what: 'a DEFAULT',
    });
  });

  it('finds the DEFAULT among other constraints before 11', async () => {
    expect(await added("text NOT NULL DEFAULT 'x'", 10)).toEqual({
      cause: 'default-before-11',
      what: 'a DEFAULT',
    });
  });

  it('keeps the table for no default and for DEFAULT NULL, whatever the version', async () => {
    expect(await added('text', 10)).toBeUndefined();
    expect(await added('text DEFAULT NULL', 10)).toBeUndefined();
    expect(await added('text NOT NULL', 10)).toBeUndefined();
  });

  it("lists a column's constraints, and nothing for a column without any", async () => {
    const column = await columnDef("ADD COLUMN c text NOT NULL DEFAULT 'x'");
    expect(columnConstraints(column).map((constraint) => constraint.contype)).toEqual([
      'CONSTR_NOTNULL',
      'CONSTR_DEFAULT',
    ]);
    expect(columnConstraints(await columnDef('ADD COLUMN c text'))).toEqual([]);
  });
});

describe('the functions an expression calls', () => {
  it('names each call, outer before inner, by its last name', async () => {
    const column = await columnDef("ADD COLUMN c text DEFAULT coalesce(public.f(lower('a')), g())");
    const tree = columnConstraints(column)[0]?.raw_expr;
    // COALESCE is an expression of its own (CoalesceExpr), not a function call.
    expect(functionNames(tree)).toEqual(['f', 'lower', 'g']);
    expect(functionNames([tree, null, 'text', 3])).toEqual(['f', 'lower', 'g']);
  });
});
