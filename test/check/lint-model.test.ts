import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Node, parse } from 'libpg-query';
import { describe, expect, it } from 'vitest';
import { ALTER_TABLE_SUBCOMMANDS } from '../../lib/lint/model/alter-table-model.ts';
import { describeStatement, STATEMENT_MODELS } from '../../lib/lint/model/lock-model.ts';
import { conflicts, LOCK_MODES, type LockMode, trafficBlocked } from '../../lib/lint/model/lock-modes.ts';
import { SchemaKnowledge } from '../../lib/lint/model/schema-knowledge.ts';
import type { StatementEffect } from '../../lib/lint/model/statement-effect.ts';

/** The AST types of the libpg-query actually installed: a parser upgrade changes these files. */
function installedTypes(file: 'enums.d.ts' | 'types.d.ts'): string {
  const parser = createRequire(import.meta.url).resolve('libpg-query');
  const types = createRequire(parser).resolve('@pgsql/types/package.json');
  return readFileSync(join(dirname(types), file), 'utf8');
}

function alterTableTypesOfTheParser(): string[] {
  const union = /export type AlterTableType = ([^;]+);/.exec(installedTypes('enums.d.ts'))?.[1] ?? '';
  return union.split('|').map((member) => member.trim().replaceAll('"', ''));
}

function statementKindsOfTheParser(): string[] {
  const types = installedTypes('types.d.ts');
  const start = types.indexOf('export type Node =');
  const union = types.slice(start, types.indexOf('};', start));
  return [...union.matchAll(/^\s+(\w+Stmt):/gm)].map((match) => match[1] ?? '');
}

async function effectOf(
  sql: string,
  pgVersion = 16,
  schema = new SchemaKnowledge(),
): Promise<StatementEffect> {
  const [statement] = (await parse(sql)).stmts ?? [];
  return describeStatement(statement?.stmt as Node, { pgVersion, schema });
}

describe("the lock model's coverage", () => {
  it('has an entry for every ALTER TABLE subcommand the installed parser knows', () => {
    const subcommands = alterTableTypesOfTheParser();
    expect(subcommands.length).toBeGreaterThan(60);
    const missing = subcommands.filter((subtype) => !(subtype in ALTER_TABLE_SUBCOMMANDS));
    expect(missing).toEqual([]);
    for (const subtype of subcommands) {
      const entry = ALTER_TABLE_SUBCOMMANDS[subtype as keyof typeof ALTER_TABLE_SUBCOMMANDS];
      expect(entry.doc, subtype).toMatch(/PostgreSQL 18 docs|tablecmds\.c/);
      if (typeof entry.lock === 'string') expect(LOCK_MODES).toContain(entry.lock);
    }
  });

  it('has an entry for every statement kind the installed parser knows', () => {
    const kinds = statementKindsOfTheParser();
    expect(kinds.length).toBeGreaterThan(100);
    const missing = kinds.filter((kind) => !(kind in STATEMENT_MODELS));
    expect(missing).toEqual([]);
    for (const kind of kinds) {
      expect(STATEMENT_MODELS[kind as keyof typeof STATEMENT_MODELS].doc, kind).not.toBe('');
    }
  });
});

describe('the lock modes (13.3.1, Table 13.2)', () => {
  it('conflict symmetrically, ACCESS EXCLUSIVE with every mode, ACCESS SHARE with ACCESS EXCLUSIVE only', () => {
    for (const a of LOCK_MODES) for (const b of LOCK_MODES) expect(conflicts(a, b)).toBe(conflicts(b, a));
    expect(LOCK_MODES.filter((mode) => conflicts('ACCESS EXCLUSIVE', mode))).toEqual([...LOCK_MODES]);
    expect(LOCK_MODES.filter((mode) => conflicts('ACCESS SHARE', mode))).toEqual(['ACCESS EXCLUSIVE']);
  });

  it('block reads from ACCESS EXCLUSIVE, writes from SHARE, nothing below', () => {
    const blocked = Object.fromEntries(LOCK_MODES.map((mode) => [mode, trafficBlocked(mode)]));
    expect(blocked).toEqual({
      'ACCESS SHARE': 'nothing',
      'ROW SHARE': 'nothing',
      'ROW EXCLUSIVE': 'nothing',
      'SHARE UPDATE EXCLUSIVE': 'nothing',
      SHARE: 'writes',
      'SHARE ROW EXCLUSIVE': 'writes',
      EXCLUSIVE: 'writes',
      'ACCESS EXCLUSIVE': 'reads and writes',
    });
  });
});

describe('statements, as the model describes them', () => {
  const cases: [sql: string, mode: LockMode, work: string[]][] = [
    ['SELECT * FROM orders', 'ACCESS SHARE', []],
    ['SELECT * FROM orders WHERE id = 1 FOR UPDATE', 'ROW SHARE', []],
    ['UPDATE orders SET status = 1', 'ROW EXCLUSIVE', ['row locks']],
    ['UPDATE orders SET status = 1 WHERE id = 1', 'ROW EXCLUSIVE', []],
    ['VACUUM orders', 'SHARE UPDATE EXCLUSIVE', ['scan']],
    ['ANALYZE orders', 'SHARE UPDATE EXCLUSIVE', []],
    ['CREATE INDEX CONCURRENTLY i ON orders (a)', 'SHARE UPDATE EXCLUSIVE', ['index build']],
    ['CREATE STATISTICS s ON a, b FROM orders', 'SHARE UPDATE EXCLUSIVE', []],
    ['COMMENT ON TABLE orders IS $$x$$', 'SHARE UPDATE EXCLUSIVE', []],
    ['ALTER TABLE orders ALTER COLUMN a SET STATISTICS 500', 'SHARE UPDATE EXCLUSIVE', []],
    ['ALTER TABLE orders VALIDATE CONSTRAINT c', 'SHARE UPDATE EXCLUSIVE', ['scan']],
    ['ALTER TABLE orders SET (fillfactor = 70)', 'SHARE UPDATE EXCLUSIVE', []],
    ['CREATE INDEX i ON orders (a)', 'SHARE', ['index build']],
    ['CREATE TRIGGER t AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f()', 'SHARE ROW EXCLUSIVE', []],
    ['ALTER TABLE orders DISABLE TRIGGER t', 'SHARE ROW EXCLUSIVE', []],
    [
      'ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id)',
      'SHARE ROW EXCLUSIVE',
      ['scan'],
    ],
    ['ALTER SEQUENCE orders_id_seq RESTART', 'SHARE ROW EXCLUSIVE', []],
    ['REFRESH MATERIALIZED VIEW CONCURRENTLY daily', 'EXCLUSIVE', ['scan']],
    ['LOCK TABLE orders IN EXCLUSIVE MODE', 'EXCLUSIVE', []],
    ['REFRESH MATERIALIZED VIEW daily', 'ACCESS EXCLUSIVE', ['rewrite']],
    ['TRUNCATE orders', 'ACCESS EXCLUSIVE', []],
    ['LOCK TABLE orders', 'ACCESS EXCLUSIVE', []],
    ['DROP TABLE orders', 'ACCESS EXCLUSIVE', []],
    ['CLUSTER orders USING orders_pkey', 'ACCESS EXCLUSIVE', ['rewrite']],
    ['VACUUM FULL orders', 'ACCESS EXCLUSIVE', ['rewrite']],
    ['ALTER TABLE orders ADD COLUMN note text', 'ACCESS EXCLUSIVE', []],
    ['ALTER TABLE orders ADD COLUMN n int NOT NULL DEFAULT 0', 'ACCESS EXCLUSIVE', []],
    [
      'ALTER TABLE orders ADD COLUMN t timestamptz DEFAULT clock_timestamp()',
      'ACCESS EXCLUSIVE',
      ['rewrite'],
    ],
    ['ALTER TABLE orders ALTER COLUMN a DROP NOT NULL', 'ACCESS EXCLUSIVE', []],
    ['ALTER TABLE orders ALTER COLUMN a SET DEFAULT 0', 'ACCESS EXCLUSIVE', []],
    ['ALTER TABLE orders ALTER COLUMN a SET NOT NULL', 'ACCESS EXCLUSIVE', ['scan']],
    ['ALTER TABLE orders ADD CONSTRAINT c CHECK (a > 0)', 'ACCESS EXCLUSIVE', ['scan']],
    ['ALTER TABLE orders ADD CONSTRAINT c CHECK (a > 0) NOT VALID', 'ACCESS EXCLUSIVE', []],
    ['ALTER TABLE orders SET TABLESPACE slow', 'ACCESS EXCLUSIVE', ['rewrite']],
    ['ALTER TABLE orders SET UNLOGGED', 'ACCESS EXCLUSIVE', ['rewrite']],
    ['ALTER TABLE orders ADD COLUMN n int, VALIDATE CONSTRAINT c', 'ACCESS EXCLUSIVE', ['scan']],
    ['REINDEX INDEX orders_pkey', 'ACCESS EXCLUSIVE', ['index build']],
    ['DROP INDEX orders_a_idx', 'ACCESS EXCLUSIVE', []],
  ];

  it.each(cases)('%s takes %s, then %j', async (sql, mode, work) => {
    const effect = await effectOf(sql);
    const modes = effect.locks.map((lock) => lock.mode);
    expect(modes).toContain(mode);
    expect(LOCK_MODES.indexOf(mode)).toBe(Math.max(...modes.map((held) => LOCK_MODES.indexOf(held))));
    expect(effect.work.map((item) => item.kind)).toEqual(work);
  });

  it('locks the referenced table of a foreign key too', async () => {
    const effect = await effectOf(
      'ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id) NOT VALID',
    );
    expect(
      effect.locks.map((lock) => [lock.target.kind === 'group' ? '' : lock.target.name.name, lock.mode]),
    ).toEqual([
      ['orders', 'SHARE ROW EXCLUSIVE'],
      ['users', 'SHARE ROW EXCLUSIVE'],
    ]);
    expect(effect.work).toEqual([]);
  });

  it('holds the strongest lock of its subcommands for all of them, as one ALTER TABLE', async () => {
    const effect = await effectOf(
      'ALTER TABLE orders SET (fillfactor = 70), ALTER COLUMN a SET STATISTICS 10, DROP COLUMN b',
    );
    expect(effect.locks.map((lock) => lock.mode)).toContain('ACCESS EXCLUSIVE');
  });

  it('says which statements may not run in a transaction block', async () => {
    const refused = [
      'VACUUM',
      'VACUUM FULL orders',
      'CREATE INDEX CONCURRENTLY i ON orders (a)',
      'DROP INDEX CONCURRENTLY i',
      'REINDEX TABLE CONCURRENTLY orders',
      'REINDEX SCHEMA public',
      'ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY',
      'CLUSTER',
      'CREATE DATABASE reporting',
      'DROP DATABASE reporting',
      'CREATE TABLESPACE fast LOCATION $$/ssd$$',
      'DROP TABLESPACE fast',
      'ALTER SYSTEM SET work_mem = $$64MB$$',
      'DISCARD ALL',
    ];
    for (const sql of refused) expect((await effectOf(sql)).transactionBlock.allowed, sql).toBe(false);
    for (const sql of [
      'ANALYZE orders',
      'REINDEX INDEX i',
      'CLUSTER orders',
      'REFRESH MATERIALIZED VIEW CONCURRENTLY v',
    ]) {
      expect((await effectOf(sql)).transactionBlock.allowed, sql).toBe(true);
    }
  });

  it('follows the version where the documented rule changed', async () => {
    const addDefault = "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free'";
    expect((await effectOf(addDefault, 10)).work.map((item) => item.recipe)).toEqual([
      'add-column-default-rewrite',
    ]);
    expect((await effectOf(addDefault, 11)).work).toEqual([]);

    const addValue = "ALTER TYPE order_status ADD VALUE 'refunded'";
    expect((await effectOf(addValue, 11)).transactionBlock.allowed).toBe(false);
    expect((await effectOf(addValue, 12)).transactionBlock.allowed).toBe(true);

    const attach =
      "ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')";
    const parentLock = async (version: number) =>
      (await effectOf(attach, version)).locks.find(
        (lock) => lock.target.kind === 'table' && lock.target.name.name === 'events',
      )?.mode;
    expect(await parentLock(11)).toBe('ACCESS EXCLUSIVE');
    expect(await parentLock(12)).toBe('SHARE UPDATE EXCLUSIVE');

    const virtual = 'ALTER TABLE items ADD COLUMN total int GENERATED ALWAYS AS (quantity * price) VIRTUAL';
    expect((await effectOf(virtual, 18)).work).toEqual([]);

    const renameIndex = 'ALTER INDEX orders_a_idx RENAME TO orders_amount_idx';
    expect((await effectOf(renameIndex, 11)).locks[0]?.mode).toBe('ACCESS EXCLUSIVE');
    expect((await effectOf(renameIndex, 12)).locks[0]?.mode).toBe('SHARE UPDATE EXCLUSIVE');
  });

  it('judges a type change by the column type earlier statements showed', async () => {
    const schema = new SchemaKnowledge();
    for (const { stmt } of (await parse('CREATE TABLE users (email varchar(64), age int)')).stmts ?? []) {
      schema.learn(stmt as Node);
    }
    schema.beginMigration();
    expect(
      (await effectOf('ALTER TABLE users ALTER COLUMN email TYPE varchar(128)', 16, schema)).work,
    ).toEqual([]);
    expect((await effectOf('ALTER TABLE users ALTER COLUMN email TYPE text', 16, schema)).work).toEqual([]);
    expect(
      (await effectOf('ALTER TABLE users ALTER COLUMN age TYPE bigint', 16, schema)).work[0]?.message,
    ).toContain('int4 to int8 is not binary coercible');
    expect(
      (await effectOf('ALTER TABLE users ALTER COLUMN email TYPE text USING lower(email)', 16, schema)).work,
    ).toHaveLength(1);
  });

  it('cites the documentation for every lock it reports', async () => {
    const effect = await effectOf('CREATE INDEX i ON orders (a)');
    expect(effect.locks[0]?.doc).toContain('13.3.1 Table-Level Locks');
    expect(effect.work[0]?.doc).toContain('CREATE INDEX');
  });
});
