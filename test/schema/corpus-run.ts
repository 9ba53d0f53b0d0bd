/**
 * One corpus case, end to end: the "before" schema generated from an empty folder, then the
 * "after" schema generated on top. The linter then finds nothing but allow lines awaiting a
 * reason and the findings kept for a person (a rename's), and nothing else once the allow
 * lines have one. On a database with rows in the before schema's tables the migrations then
 * apply through the runner, as `up` does, and must: leave the wanted schema as the independent
 * catalog reading sees it (lib/schema/catalog-proof.ts), rewrite no table the case does not
 * list, and keep the rows (counts, and the values of the columns still there).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { type Connection, connect } from '../../lib/engine/connection.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { loadMigrations } from '../../lib/engine/loader.ts';
import { migrate } from '../../lib/engine/runner.ts';
import type { AutogenerateReport } from '../../lib/schema/autogenerate.ts';
import {
  type CatalogProof,
  catalogDifferences,
  formatCatalogDifferences,
  readCatalogProof,
  rewrittenTables,
} from '../../lib/schema/catalog-proof.ts';
import { inspectSchema } from '../../lib/schema/schema-diff.ts';
import type { CorpusCase } from '../fixtures/autogen/corpus.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { AutogenProject, problemsBesidesAwaitingReasons } from './autogen-harness.ts';
import { madeUpRows, rowsLost, type TableRows, tableRows } from './corpus-rows.ts';

const EXCLUDE = { excludeSchemas: ['rds_migrate'] };

/** A case's time: a few autogenerate runs and databases, slow when the machine is loaded. */
export const CORPUS_CASE_TIMEOUT = 120_000;

/**
 * The "before" schema of a test file, prepared once and shared by the cases that start from it:
 * its migrations (the same input gives the same migration but for its revision id, and a
 * generation costs seconds), and a database at it with rows, which each case copies
 * (CREATE DATABASE ... TEMPLATE) instead of running the migrations again.
 */
interface Before {
  readonly migrations: ReadonlyMap<string, string>;
  /** The template database: at the before schema, with the rows. */
  readonly template: string;
  readonly rows: TableRows;
  readonly catalog: CatalogProof;
}

const befores = new Map<string, Promise<Before>>();

async function prepareBefore(corpusCase: CorpusCase): Promise<Before> {
  const starter = await AutogenProject.create();
  const database = await freshDatabase();
  try {
    if (corpusCase.beforeByHand) {
      const migration = `-- revision: 0b0f0e0a0c01\n-- down_revision: none\n-- message: before\n-- irreversible: the corpus's before schema, written by hand\n\n-- migrate:up\n${corpusCase.before}\n`;
      await starter.writeMigrations(new Map([['202512310000_before.sql', migration]]));
    } else {
      await starter.wantSql(corpusCase.before);
      expect((await starter.autogenerate('before')).status).toBe('written');
    }
    const connection = await database.connect();
    await up(connection.db, starter.migrationsDir);
    const rows = corpusCase.rows ?? (await madeUpRows(connection.db)).join(';\n');
    if (rows) await connection.db.query(rows);
    const before = {
      migrations: await starter.migrationFiles(),
      template: `t_before_${randomBytes(6).toString('hex')}`,
      rows: await tableRows(connection.db),
      catalog: await readCatalogProof(connection.db, EXCLUDE),
    };
    await connection.close();
    await withAdmin((admin) => admin.query(`CREATE DATABASE ${before.template} TEMPLATE ${database.name}`));
    return before;
  } finally {
    await Promise.all([starter.remove(), database.drop()]);
  }
}

/** The before schema of `corpusCase` (rows included: a case with its own rows has its own). */
function beforeOf(corpusCase: CorpusCase): Promise<Before> {
  const key = `${corpusCase.before}\n-- rows:\n${corpusCase.rows ?? ''}\n-- by hand: ${corpusCase.beforeByHand}`;
  let before = befores.get(key);
  if (!before) {
    before = prepareBefore(corpusCase);
    befores.set(key, before);
  }
  return before;
}

/** Drops the template databases of this file's cases (afterAll). */
export async function dropBeforeTemplates(): Promise<void> {
  const templates = await Promise.all([...befores.values()].map((before) => before.catch(() => undefined)));
  befores.clear();
  await withAdmin(async (admin) => {
    for (const before of templates) {
      if (before) await admin.query(`DROP DATABASE IF EXISTS ${before.template} WITH (FORCE)`);
    }
  });
}

async function withAdmin<T>(body: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: inject('postgresAdminUrl') });
  await admin.connect();
  try {
    return await body(admin);
  } finally {
    await admin.end();
  }
}

/** A new database copied from the before template: the before schema with its rows. */
async function copyOf(before: Before): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE ${before.template}`));
  const url = inject('postgresAdminUrl').replace(/\/postgres$/, `/${name}`);
  const open: Connection[] = [];
  return {
    name,
    url,
    connect: async () => {
      const connection = await connect({ connectionString: url });
      open.push(connection);
      return connection;
    },
    drop: async () => {
      await Promise.all(open.map((connection) => connection.close()));
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** The schema `sql` builds on an empty database, read by the independent proof. */
async function wantedCatalog(sql: string): Promise<CatalogProof> {
  const database = await freshDatabase();
  try {
    const connection = await database.connect();
    await connection.db.query(sql);
    return await readCatalogProof(connection.db, EXCLUDE);
  } finally {
    await database.drop();
  }
}

/** The migrations of `dir` applied through the runner, as `up` applies them. */
async function up(db: Parameters<typeof migrate>[0], dir: string): Promise<void> {
  await migrate(
    db,
    RevisionGraph.from(await loadMigrations(dir)),
    { action: 'upgrade', target: 'heads' },
    { actor: 'test', history: new History() },
  );
}

/** What a case's generated migrations did, each stage's result; nothing asserted. */
export interface CorpusOutcome {
  /** Absent when autogenerate refused (`failed.stage` is then `generate`). */
  readonly report?: AutogenerateReport;
  readonly failed?: { readonly stage: 'generate' | 'apply'; readonly message: string };
  /**
   * Linter problems besides allow lines awaiting a reason and kept findings, and what is left
   * once the allow lines have a reason but for the kept findings.
   */
  readonly lint: readonly string[];
  /** The rules of the kept findings the linter reported (a rename's). */
  readonly kept: readonly string[];
  /** Independent catalog differences from the wanted schema (`+`/`-` lines). */
  readonly differences: readonly string[];
  readonly rewritten: readonly string[];
  readonly lost: readonly string[];
}

/**
 * Runs `corpusCase` through autogenerate and applies what it wrote to a copy of the before
 * database with rows. `inspect` sees the project after generating (the case's own assertions).
 */
export async function exerciseCorpusCase(
  corpusCase: CorpusCase,
  inspect: (project: AutogenProject, report: AutogenerateReport) => Promise<void> = async () => undefined,
): Promise<CorpusOutcome> {
  const before = await beforeOf(corpusCase);
  const project = await AutogenProject.create();
  let withRows: TestDatabase | undefined;
  const none = { lint: [], kept: [], differences: [], rewritten: [], lost: [] };
  try {
    await project.writeMigrations(before.migrations);
    await project.wantSql(corpusCase.after);
    const [copy, wanted, generated] = await Promise.all([
      copyOf(before),
      wantedCatalog(corpusCase.after),
      project
        .autogenerate(corpusCase.name, undefined, { renames: corpusCase.renames }, corpusCase.fills)
        .then(
          (report) => ({ report }),
          (error: Error) => ({ error }),
        ),
    ]);
    withRows = copy;
    if ('error' in generated)
      return { ...none, failed: { stage: 'generate', message: generated.error.message } };
    const report = generated.report;
    await inspect(project, report);
    const kept = corpusCase.findings ?? [];
    const awaiting = report.review.flatMap((item) =>
      item.kind === 'allow-line' && item.rule ? [item.rule] : [],
    );
    const check = await project.check(undefined, { static: true });
    const lint = problemsBesidesAwaitingReasons(check, awaiting, kept);
    const keptRules = check.problems.flatMap((problem) =>
      problem.kind === 'lint' && kept.includes(problem.rule) ? [problem.rule] : [],
    );
    // `up` on the database with rows, the allow lines decided: only the kept findings stay.
    const decided = await project.checkWithReasons();
    for (const problem of decided.problems)
      if (!kept.includes(problem.rule))
        lint.push(`once decided, ${problem.kind} ${problem.rule}: ${problem.message}`);
    const connection = await withRows.connect();
    try {
      try {
        await up(connection.db, project.migrationsDir);
      } catch (error) {
        return {
          ...none,
          report,
          lint,
          kept: keptRules,
          failed: { stage: 'apply', message: (error as Error).message },
        };
      }
      const after = await readCatalogProof(connection.db, EXCLUDE);
      return {
        report,
        lint,
        kept: keptRules,
        differences: formatCatalogDifferences(catalogDifferences(after, wanted)),
        rewritten: rewrittenTables(before.catalog, after),
        lost: rowsLost(before.rows, await tableRows(connection.db), corpusCase.renames),
      };
    } finally {
      await connection.close();
    }
  } finally {
    await Promise.all([project.remove(), withRows?.drop()]);
  }
}

/** The case run and asserted: what it must generate, and what the migrations must do to rows. */
export async function runCorpusCase(corpusCase: CorpusCase): Promise<CorpusOutcome> {
  const outcome = await exerciseCorpusCase(corpusCase, (project, report) =>
    expectGenerated(corpusCase, project, report),
  );
  const gap = corpusCase.gap;
  if (gap) {
    // A known bug: it must still show where and as the case says (remove the gap once fixed).
    const shown =
      gap.stage === 'result'
        ? [...outcome.differences, ...outcome.lost].join('\n')
        : outcome.failed?.stage === gap.stage
          ? outcome.failed.message
          : '';
    expect(shown, `the known gap (${gap.stage})`).toMatch(gap.match);
    return outcome;
  }
  expect(outcome.failed).toBeUndefined();
  expect(outcome.lint, 'lint, besides allow lines awaiting a reason').toEqual([]);
  expect([...outcome.kept].sort(), 'the kept findings').toEqual([...(corpusCase.findings ?? [])].sort());
  expect(
    outcome.differences,
    'the independent catalog reading: + there but not wanted, - wanted but not there',
  ).toEqual([]);
  expect(outcome.rewritten, 'tables rewritten').toEqual([...(corpusCase.rewrites ?? [])].sort());
  expect(outcome.lost, 'rows lost').toEqual([]);
  return outcome;
}

async function expectGenerated(corpusCase: CorpusCase, project: AutogenProject, report: AutogenerateReport) {
  expect(report.status).toBe('written');
  expect(report.files.map((file) => file.role)).toEqual(corpusCase.roles);
  const rules = (kind: string) =>
    report.review.flatMap((item) => (item.kind === kind && item.rule ? [item.rule] : [])).sort();
  expect(rules('allow-line')).toEqual([...(corpusCase.awaiting ?? [])].sort());
  const kept = corpusCase.findings ?? [];
  expect(rules('finding')).toEqual([...kept].sort());
  const text = (await Promise.all(report.files.map((file) => project.text(file.file)))).join('\n');
  for (const fragment of corpusCase.contains ?? []) expect(text).toContain(fragment);
  for (const fragment of corpusCase.lacks ?? [])
    expect(text.toLowerCase()).not.toContain(fragment.toLowerCase());
  for (const file of report.files) {
    // A down step says each thing once (a repair must not repeat what the diff back has).
    const down = (await project.text(file.file)).split('-- migrate:down')[1] ?? '';
    const statements = down
      .split(';')
      .map((sql) => sql.trim())
      .filter(Boolean);
    expect(statements, `${file.file}'s down step`).toEqual([...new Set(statements)]);
  }
  if (corpusCase.review)
    expect(report.review.map((item) => item.message).join('\n')).toMatch(corpusCase.review);
}

/**
 * The same case through the diff library alone, for the tally (test/schema/corpus-tally.test.ts):
 * `@pgkit/migra`'s statements from the before schema to the wanted one, as one migration, applied
 * in one transaction to a copy of the before database with rows, and linted.
 */
export async function exerciseRawDiff(corpusCase: CorpusCase): Promise<CorpusOutcome> {
  const { Migration } = await import('@pgkit/migra');
  const before = await beforeOf(corpusCase);
  const none = { lint: [], kept: [], differences: [], rewritten: [], lost: [] };
  const [withRows, wantedDatabase, project] = await Promise.all([
    copyOf(before),
    freshDatabase(),
    AutogenProject.create(),
  ]);
  try {
    const [connection, wantedConnection] = await Promise.all([withRows.connect(), wantedDatabase.connect()]);
    await wantedConnection.db.query(corpusCase.after);
    const wanted = await readCatalogProof(wantedConnection.db, EXCLUDE);
    let statements: string[];
    try {
      const diff = await Migration.create(
        (await inspectSchema(connection.db, EXCLUDE)).inspector,
        (await inspectSchema(wantedConnection.db, EXCLUDE)).inspector,
        {},
      );
      diff.set_safety(false);
      diff.add_all_changes();
      // The library ends some statements (a domain's) without a semicolon.
      statements = [...diff.statements]
        .map((sql) => sql.trim())
        .filter(Boolean)
        .map((sql) => (sql.endsWith(';') ? sql : `${sql};`));
    } catch (error) {
      return { ...none, failed: { stage: 'generate', message: (error as Error).message } };
    }
    if (statements.length === 0) return { ...none, failed: { stage: 'generate', message: 'no statements' } };
    await project.writeMigrations(before.migrations);
    const parent = RevisionGraph.from(await loadMigrations(project.migrationsDir)).singleHead();
    const source = '209912310000_raw_diff.sql';
    await project.writeMigrations(
      new Map([
        [
          source,
          `-- revision: 0e0d0f0a0b02\n-- down_revision: ${parent}\n-- message: raw diff\n\n-- migrate:up\n${statements.join('\n')}\n`,
        ],
      ]),
    );
    const check = await project.check(undefined, { static: true });
    const lint = check.problems
      .filter((problem) => problem.kind === 'lint' && (problem.file ?? '').includes(source))
      .map((problem) => `${problem.rule}: ${problem.message}`);
    try {
      await connection.db.query(`BEGIN;\n${statements.join('\n')}\nCOMMIT;`);
    } catch (error) {
      await connection.db.query('ROLLBACK').catch(() => undefined);
      return { ...none, lint, failed: { stage: 'apply', message: (error as Error).message } };
    }
    const after = await readCatalogProof(connection.db, EXCLUDE);
    return {
      lint,
      kept: [],
      differences: formatCatalogDifferences(catalogDifferences(after, wanted)),
      rewritten: rewrittenTables(before.catalog, after),
      lost: rowsLost(before.rows, await tableRows(connection.db), corpusCase.renames),
    };
  } finally {
    await Promise.all([project.remove(), withRows.drop(), wantedDatabase.drop()]);
  }
}

/**
 * A test per case of `cases`, sharing the file's before schemas. AUTOGEN_MATRIX=1 prints which
 * cases the diff library handled alone and which our rules rewrote.
 */
export function describeCorpus(title: string, cases: readonly CorpusCase[]): void {
  describe(title, () => {
    const matrix: string[] = [];
    afterAll(async () => {
      if (process.env.AUTOGEN_MATRIX) process.stdout.write(`${matrix.join('\n')}\n`);
      await dropBeforeTemplates();
    });
    for (const corpusCase of cases) {
      it(
        corpusCase.name,
        async () => {
          const { report } = await runCorpusCase(corpusCase);
          matrix.push(`${corpusCase.name}: ${report?.rewrites.join(', ') || 'the diff library alone'}`);
        },
        CORPUS_CASE_TIMEOUT,
      );
    }
  });
}
