/**
 * `rds-migrate create --autogenerate "message"`: the migrations that take head's schema to the
 * schema the app wants. On shadow databases of the server (never the user's database) it builds
 * the wanted schema, and head's schema by running the migrations; the diff library gives the
 * statements between them, safe-migrations.ts rewrites them to our safety rules, and the down
 * step of each migration is the diff back from the schema it leaves to the one before it.
 * A table or column that disappears while one of its shape appears is a rename or a drop and an
 * add: a person decides (rename-decisions.ts) before anything is diffed, and the renames come
 * first, written as RENAME with a down step that renames back (rename-statements.ts).
 * Before anything is written, the migrations must: apply to head's schema and leave exactly the
 * wanted schema (the diff is then empty); go down step by step to head's schema and up again
 * (the round trip); and pass the linter, but for allow lines that await a person's reason.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { newRevisionId } from '../engine/authoring.ts';
import { schemaSnapshot } from '../engine/catalog.ts';
import { counted } from '../engine/counted.ts';
import type { Database } from '../engine/database.ts';
import { GraphError, RdsMigrateError, UsageError } from '../engine/errors.ts';
import { RevisionGraph } from '../engine/graph.ts';
import type { History } from '../engine/history.ts';
import { parseSqlMigration } from '../engine/loader.ts';
import type { Migration, Revision } from '../engine/migration.ts';
import { type Intent, migrate } from '../engine/runner.ts';
import { lintAll } from '../lint/folder-lint.ts';
import { type PgVersion, versionFromServerNum } from '../lint/model/pg-version.ts';
import type { Server } from '../local/server.ts';
import { type GeneratedMigrationText, renderMigration, slugOf, withReasons } from './generated-migration.ts';
import {
  type AskRename,
  decideRenames,
  nameOf,
  type RenameDecisions,
  type RenameRequests,
} from './rename-decisions.ts';
import { type RenameStatement, renameStatements } from './rename-statements.ts';
import {
  type DraftRole,
  type DraftStatement,
  type MigrationDraft,
  plainName,
  planSafeMigrations,
  type ReviewNote,
  type SafeMigrations,
  type SchemaFacts,
  withRenamesFirst,
} from './safe-migrations.ts';
import {
  differences,
  diffSchemas,
  enumsOf,
  indexTablesOf,
  inspectSchema,
  inspectSchemaAfter,
  namedObjectsOf,
  type SchemaInspection,
  tablesOf,
} from './schema-diff.ts';
import { buildMigratedSchema, withShadowDatabase } from './shadow-schema.ts';
import { buildWantedSchema, type WantedSchema, wantedSchemaSql } from './wanted-schema.ts';

export interface AutogenerateOptions {
  /** Where the shadow databases are made (the configured server, or the embedded one). */
  readonly server: Server;
  readonly graph: RevisionGraph;
  readonly migrationsDir: string;
  /** Files are named relative to it. */
  readonly cwd: string;
  readonly message: string;
  readonly wanted: WantedSchema;
  /** The parent when the folder has several heads. @default the single head */
  readonly head?: string;
  readonly history: History;
  /** Context arguments for the migrations that build head's schema. @default {} */
  readonly args?: Readonly<Record<string, string>>;
  readonly actor: string;
  /** Lock rules the linter applies. @default the server's version */
  readonly pgVersion?: PgVersion;
  /** The time in the file names. @default now */
  readonly now?: Date;
  /**
   * What the person said of tables and columns that disappear while others appear:
   * `old=new` pairs that are renames (`--rename`) or a drop and an add (`--drop-add`). @default none
   */
  readonly renames?: RenameRequests;
  /**
   * Asks the person about a candidate the requests leave open. Absent (no terminal): such a
   * candidate refuses the run (`RenameUndecidedError`), before anything is written.
   */
  readonly askRename?: AskRename;
}

export interface GeneratedFile {
  /** Relative to the working directory. */
  readonly file: string;
  readonly revision: Revision;
  readonly parent: Revision | null;
  readonly message: string;
  readonly role: DraftRole;
  readonly transactional: boolean;
  readonly statements: number;
}

/** Something a person must decide before `check` passes or before `up`. */
export interface ReviewItem {
  /**
   * `allow-line`: an allow line awaits its reason (`up` refuses it until then); `finding`: the
   * linter's finding, kept with no allow line (a rename: deployed code uses the old name);
   * `note`: something to look at.
   */
  readonly kind: 'allow-line' | 'finding' | 'note';
  readonly file?: string;
  /** The line of the allow comment awaiting a reason, or of the statement. */
  readonly line?: number;
  readonly rule?: string;
  readonly message: string;
}

export interface AutogenerateReport {
  readonly status: 'written' | 'nothing-to-generate';
  /** The wanted schema, as the user names it (`schema/`, `drizzle:src/db/schema.ts`). */
  readonly wanted: string;
  /** The revision the migrations build on (head); null on an empty folder. */
  readonly parent: Revision | null;
  readonly files: readonly GeneratedFile[];
  /** Tables and columns written as renames (`schema.table`, `schema.table.column`). */
  readonly renamed: readonly {
    readonly kind: 'table' | 'column';
    readonly from: string;
    readonly to: string;
  }[];
  readonly review: readonly ReviewItem[];
  /** Our rules that rewrote the diff library's statements (safe-migrations.ts), and the down steps' repairs. */
  readonly rewrites: readonly string[];
  /** What was proved before writing, one line each. */
  readonly verified: readonly string[];
  readonly timingsMs: { readonly shadows: number; readonly generate: number; readonly verify: number };
}

/** The generated migrations failed a proof: nothing was written, and the message says what to do. */
export class AutogenerateError extends RdsMigrateError {
  override readonly name = 'AutogenerateError';
}

const ABOUT_ROLE: Readonly<Record<DraftRole, readonly string[]>> = {
  'enum-values': [
    'ALTER TYPE ... ADD VALUE: a value added in a transaction cannot be used until it commits,',
    'so the values are added outside one (transaction: false), before the migration that uses them.',
  ],
  schema: ['In the plan\u2019s transaction: quick and catalog-only changes; constraints NOT VALID.'],
  indexes: [
    'CREATE INDEX CONCURRENTLY builds without blocking writes, and cannot run in a transaction block:',
    'hence transaction: false. IF NOT EXISTS lets an interrupted run be repeated.',
  ],
  finish: [
    'After the migrations before it have committed: VALIDATE scans without blocking writes,',
    'SET NOT NULL uses a validated CHECK, constraints adopt the indexes built CONCURRENTLY.',
  ],
};

const MESSAGE_SUFFIX: Readonly<Record<DraftRole, string>> = {
  'enum-values': ' (enum values)',
  schema: '',
  indexes: ' (indexes)',
  finish: ' (validate)',
};
const FILE_SUFFIX: Readonly<Record<DraftRole, string>> = {
  'enum-values': '_enum_values',
  schema: '',
  indexes: '_indexes',
  finish: '_validate',
};
const REASON_PLACEHOLDER = 'autogenerate placeholder';

export async function autogenerate(options: AutogenerateOptions): Promise<AutogenerateReport> {
  const started = performance.now();
  const parent = parentOf(options.graph, options.head);
  const pieces = await wantedSchemaSql(options.wanted.source, options.cwd);
  const exclude = { excludeSchemas: [options.history.schema] };
  const purpose = 'create --autogenerate';
  const wantedSchema = () =>
    withShadowDatabase(options.server, purpose, async (shadow) => {
      await buildWantedSchema(shadow.db, pieces);
      return inspectSchema(shadow.db, exclude);
    });
  return withShadowDatabase(options.server, purpose, async (shadow) => {
    // Both shadows are built at once; head's stays for the proofs.
    const headSchema = async () => {
      await buildMigratedSchema(shadow.db, options.graph, {
        heads: parent ? [parent] : [],
        history: options.history,
        args: options.args,
        actor: options.actor,
      });
      return inspectSchema(shadow.db, exclude);
    };
    const [wanted, head] = await Promise.all([wantedSchema(), headSchema()]);
    const shadowsMs = performance.now() - started;
    const decisions = await decideRenames(
      { head: tablesOf(head), wanted: tablesOf(wanted) },
      options.renames ?? {},
      options.askRename,
    );
    const renames = renameStatements(decisions.renames, {
      head: namedObjectsOf(head),
      wanted: namedObjectsOf(wanted),
    });
    // The rest of the change is diffed from head's schema as the renames leave it.
    const renamed = renames.length === 0 ? head : await renamedSchema(shadow.db, renames, exclude);
    const forward = await diffSchemas(renamed, wanted);
    const report = (partial: Partial<AutogenerateReport>): AutogenerateReport => ({
      status: 'nothing-to-generate',
      wanted: options.wanted.label,
      parent: parent ?? null,
      files: [],
      renamed: [],
      review: [],
      rewrites: [],
      verified: [],
      timingsMs: { shadows: Math.round(shadowsMs), generate: 0, verify: 0 },
      ...partial,
    });
    if (renames.length === 0 && (forward.length === 0 || (await differences(head, wanted)).length === 0))
      return report({});
    const generator = new Generator(shadow.db, options, parent, head, wanted, renamed);
    const safe = planSafeMigrations(forward, factsOf(renamed, wanted, decisions));
    const plan = {
      ...withRenamesFirst(safe, renames.map(renameDraft)),
      notes: [...dropAddNotes(decisions), ...safe.notes],
    };
    const generated = await generator.generate(plan);
    const generateMs = performance.now() - started - shadowsMs;
    const verified = await generator.verify(generated);
    const files = await writeMigrations(options, generated);
    return report({
      status: 'written',
      files,
      renamed: decisions.renames.map((pair) => ({
        kind: pair.kind,
        from: pair.kind === 'table' ? pair.from : `${pair.fromTable}.${pair.from}`,
        to: pair.kind === 'table' ? pair.to : `${pair.toTable}.${pair.to}`,
      })),
      review: generated.review,
      rewrites: [...plan.rewrites, ...generated.repairs],
      verified,
      timingsMs: {
        shadows: Math.round(shadowsMs),
        generate: Math.round(generateMs),
        verify: Math.round(performance.now() - started - shadowsMs - generateMs),
      },
    });
  });
}

function parentOf(graph: RevisionGraph, head: string | undefined): Revision | undefined {
  if (graph.size === 0) return undefined;
  if (head !== undefined) return graph.resolve(head);
  if (graph.heads.length > 1) {
    throw new GraphError(
      'multiple-heads',
      `the folder has ${graph.heads.length} heads (${graph.heads.join(', ')}): name the parent with --head <rev>, ` +
        'or join them first with rds-migrate merge -m "merge heads"',
      graph.heads,
    );
  }
  return graph.singleHead();
}

function factsOf(head: SchemaInspection, wanted: SchemaInspection, decisions: RenameDecisions): SchemaFacts {
  const dropNotes = new Map<string, string>();
  for (const pair of decisions.dropAdds) {
    // The diff runs on the renamed schema: a column's DROP names its table's new name.
    const dropped = pair.kind === 'table' ? pair.from : `${pair.toTable}.${pair.from}`;
    dropNotes.set(
      dropped,
      `Not a rename of ${nameOf(pair, 'from')} to ${nameOf(pair, 'to')}, as decided: this DROP loses its data.`,
    );
  }
  return {
    enumsBefore: enumsOf(head),
    enumsAfter: enumsOf(wanted),
    indexTablesBefore: indexTablesOf(head),
    dropNotes,
  };
}

/** Head's schema as `renames` leave it, read on its shadow database without leaving it renamed. */
async function renamedSchema(
  db: Database,
  renames: readonly RenameStatement[],
  exclude: { readonly excludeSchemas: readonly string[] },
): Promise<SchemaInspection> {
  const statements = renames.map((rename) => rename.sql);
  try {
    return await inspectSchemaAfter(db, statements, exclude);
  } catch (error) {
    if (error instanceof RdsMigrateError) throw error;
    throw new AutogenerateError(
      `the renames fail on head\u2019s schema: ${(error as Error).message}\n  ${statements.join('\n  ')}\n` +
        'nothing was written; write this change by hand (rds-migrate create), and report the case',
    );
  }
}

function renameDraft(rename: RenameStatement): DraftStatement {
  return { sql: rename.sql, notes: rename.notes, awaiting: [], undo: rename.undo, kept: rename.kept };
}

/** The candidates a person confirmed as a drop and an add, for the review list. */
function dropAddNotes(decisions: RenameDecisions): ReviewNote[] {
  return decisions.dropAdds.map((pair) => ({
    kind: 'not-a-rename',
    message:
      `${nameOf(pair, 'from')} is dropped and ${nameOf(pair, 'to')} ${pair.kind === 'table' ? 'created' : 'added'}, ` +
      `as decided (not a rename): the data of ${nameOf(pair, 'from')} is lost once the drop runs`,
  }));
}

interface GeneratedMigration {
  readonly draft: MigrationDraft;
  readonly revision: Revision;
  readonly parent: Revision | undefined;
  readonly message: string;
  readonly source: string;
  readonly text: string;
  readonly upLines: readonly number[];
  readonly down: readonly string[] | undefined;
  readonly migration: Migration;
}

interface Generated {
  readonly migrations: readonly GeneratedMigration[];
  /** What our code added to the library's down steps. */
  readonly repairs: readonly string[];
  readonly review: readonly ReviewItem[];
  /** The catalog snapshot before each migration, and after the last. */
  readonly snapshots: readonly (readonly string[])[];
}

/** The work on head's shadow database: apply the drafts, read the downs, lint, then the round trip. */
class Generator {
  private readonly base: readonly Migration[];
  private readonly stamp: string;

  constructor(
    private readonly db: Database,
    private readonly options: AutogenerateOptions,
    private readonly parent: Revision | undefined,
    private readonly head: SchemaInspection,
    private readonly wanted: SchemaInspection,
    /** Head's schema as the decided renames leave it (head's when there are none). */
    private readonly renamedHead: SchemaInspection,
  ) {
    const graph = options.graph;
    this.base = parent ? graph.sorted(graph.ancestors([parent])).map((revision) => graph.get(revision)) : [];
    this.stamp = (options.now ?? new Date()).toISOString().replace(/[-:T]/g, '').slice(0, 12);
  }

  async generate(plan: SafeMigrations): Promise<Generated> {
    const inspections: SchemaInspection[] = [this.head];
    const snapshots: string[][] = [await this.snapshot()];
    const applied: GeneratedMigration[] = [];
    // Before a migration that renames: the schema its renames alone leave, which its down step
    // goes back to by the diff before renaming back (the diff would drop and add instead).
    const renamedBefore = new Map<number, SchemaInspection>();
    let parent = this.parent;
    for (const [index, draft] of plan.drafts.entries()) {
      const revision = newRevisionId();
      const message = `${this.options.message}${MESSAGE_SUFFIX[draft.role]}`;
      const renames = draft.statements.flatMap((statement) => (statement.undo ? [statement.sql] : []));
      if (renames.length > 0) {
        renamedBefore.set(
          index,
          index === 0
            ? this.renamedHead
            : await inspectSchemaAfter(this.db, renames, { excludeSchemas: [this.options.history.schema] }),
        );
      }
      const pending = this.build({ draft, revision, parent, message }, draft.statements, undefined);
      await this.run(pending, { action: 'upgrade', target: revision }, [...applied, pending], 'up');
      applied.push(pending);
      inspections.push(await inspectSchema(this.db, { excludeSchemas: [this.options.history.schema] }));
      snapshots.push(await this.snapshot());
      parent = revision;
    }
    const left = await differences(inspections[inspections.length - 1] as SchemaInspection, this.wanted);
    if (left.length > 0) {
      throw new AutogenerateError(
        `the generated migrations do not reach the wanted schema; still different:\n  ${left.join('\n  ')}\n` +
          'write this change by hand (rds-migrate create), and report the case',
      );
    }
    const withDowns: GeneratedMigration[] = [];
    const repairs = new Set<string>();
    for (const [index, pending] of applied.entries()) {
      const down = await diffSchemas(
        inspections[index + 1] as SchemaInspection,
        renamedBefore.get(index) ?? (inspections[index] as SchemaInspection),
      );
      const renamedBack = pending.draft.statements.flatMap((statement) =>
        statement.undo ? [statement.undo] : [],
      );
      const diffBack = down.map((sql) => downStatement(sql, pending.draft));
      // Unless the diff back builds it already (it does when the adopting changed a column too).
      const rebuilt = indexesToRebuild(pending.draft, plan.drafts).filter((sql) => !diffBack.includes(sql));
      if (rebuilt.length > 0) repairs.add('down-rebuilds-adopted-index');
      const unvalidated = constraintsToUnvalidate(pending.draft, plan.drafts);
      if (unvalidated.length > 0) repairs.add('down-restores-not-valid');
      // What the diff back does with those constraints (drop, add, and VALIDATE again) gives way to ours.
      const restored = new Set(unvalidated.flatMap((sql) => constraintOf(sql)));
      const statements = [
        ...diffBack.filter((sql) => !constraintOf(sql).some((name) => restored.has(name))),
        ...rebuilt,
        ...unvalidated,
        ...renamedBack.reverse(),
      ];
      withDowns.push(this.build(pending, pending.draft.statements, statements));
    }
    return { ...(await this.lintAndMark(withDowns, plan.notes, snapshots)), repairs: [...repairs] };
  }

  /**
   * The round trip on the shadow database, now at the wanted schema: each migration down
   * (the schema must be the one before its up step), then all up again (the wanted schema).
   */
  async verify(generated: Generated): Promise<string[]> {
    const { migrations, snapshots } = generated;
    for (let index = migrations.length - 1; index >= 0; index--) {
      const migration = migrations[index] as GeneratedMigration;
      await this.run(migration, { action: 'downgrade' }, migrations, 'down');
      this.expectSnapshot(await this.snapshot(), snapshots[index] ?? [], migration, 'down');
    }
    const last = migrations[migrations.length - 1] as GeneratedMigration;
    await this.run(last, { action: 'upgrade', target: last.revision }, migrations, 'up again');
    this.expectSnapshot(await this.snapshot(), snapshots[migrations.length] ?? [], last, 'up again');
    return [
      `applied to head's schema they leave the wanted schema (${this.options.wanted.label}): the diff is then empty`,
      `round trip on a shadow database: ${migrations.length} up, ${migrations.length} down, ${migrations.length} up again, schemas matched`,
      lintLine(generated.review),
    ];
  }

  private build(
    identity: { draft: MigrationDraft; revision: Revision; parent: Revision | undefined; message: string },
    statements: readonly DraftStatement[],
    down: readonly string[] | undefined,
  ): GeneratedMigration {
    const { draft } = identity;
    // The role's suffix after the (shortened) slug, so the files of one change never collide.
    const suffix = FILE_SUFFIX[draft.role];
    const source = `${this.stamp}_${slugOf(this.options.message)}${suffix}.sql`;
    const spec: GeneratedMigrationText = {
      revision: identity.revision,
      parent: identity.parent,
      message: identity.message,
      transactional: draft.transactional,
      extraHeader: draft.transactional ? [] : ['statement_timeout: 30min'],
      about: [
        `Generated by rds-migrate create --autogenerate from ${this.options.wanted.label}: review it before up.`,
        ...ABOUT_ROLE[draft.role],
      ],
      up: statements,
      down,
    };
    const rendered = renderMigration(spec);
    return {
      ...identity,
      draft: { ...draft, statements },
      source,
      text: rendered.text,
      upLines: rendered.upLines,
      down,
      migration: parseSqlMigration(source, rendered.text),
    };
  }

  private async run(
    migration: GeneratedMigration,
    intent: Intent,
    generated: readonly GeneratedMigration[],
    phase: string,
  ): Promise<void> {
    const graph = RevisionGraph.from([...this.base, ...generated.map((each) => each.migration)]);
    try {
      await migrate(this.db, graph, intent, {
        actor: this.options.actor,
        args: this.options.args,
        history: this.options.history,
        checkDrift: false,
        recordFingerprint: false,
        requireAllowReasons: false,
      });
    } catch (error) {
      throw new AutogenerateError(
        `the generated migration '${migration.message}' fails ${phase === 'up' ? 'on head\u2019s schema' : `going ${phase}`}: ` +
          `${(error as Error).message}\nits text:\n${migration.text}\n` +
          'nothing was written; write this change by hand (rds-migrate create), and report the case',
      );
    }
  }

  private snapshot(): Promise<string[]> {
    return schemaSnapshot(this.db, this.options.history.schema);
  }

  private expectSnapshot(
    actual: readonly string[],
    expected: readonly string[],
    migration: GeneratedMigration,
    phase: string,
  ): void {
    const extra = actual.filter((line) => !expected.includes(line));
    const missing = expected.filter((line) => !actual.includes(line));
    if (extra.length === 0 && missing.length === 0) return;
    const differences = [...extra.map((line) => `+ ${line}`), ...missing.map((line) => `- ${line}`)];
    throw new AutogenerateError(
      `the round trip of the generated migration '${migration.message}' fails ${phase}: the schema differs ` +
        `(${differences.join('; ')}); ` +
        'nothing was written; write this change by hand (rds-migrate create), and report the case',
    );
  }

  /**
   * Lints the new migrations after the existing ones (so the linter knows the tables and column
   * types they made), gives each flagged statement an allow line awaiting a reason, and checks
   * that with reasons written the linter has nothing left to say.
   */
  private async lintAndMark(
    migrations: readonly GeneratedMigration[],
    notes: readonly ReviewNote[],
    snapshots: readonly (readonly string[])[],
  ): Promise<Omit<Generated, 'repairs'>> {
    const pgVersion = this.options.pgVersion ?? (await this.serverVersion());
    const findings = await this.lint(migrations, pgVersion, (migration) => migration.text);
    // What the linter said of each statement, by revision, statement and rule.
    const said = new Map<string, string>();
    const marked = migrations.map((migration) => {
      const awaiting = new Map<number, Set<string>>();
      for (const finding of findings.filter((each) => each.revision === migration.revision)) {
        if (
          finding.section !== 'up' ||
          finding.line === undefined ||
          finding.rule === 'invalid-allow-comment'
        )
          continue;
        const index = statementAt(migration.upLines, finding.line);
        if (index === undefined || migration.draft.statements[index]?.kept?.includes(finding.rule)) continue;
        awaiting.set(index, (awaiting.get(index) ?? new Set()).add(finding.rule));
        said.set(`${migration.revision} ${index} ${finding.rule}`, finding.message);
      }
      const statements = migration.draft.statements.map((statement, index) => ({
        ...statement,
        awaiting: [...new Set([...statement.awaiting, ...(awaiting.get(index) ?? [])])],
      }));
      return this.build(migration, statements, migration.down);
    });
    const left = await this.lint(marked, pgVersion, (migration) =>
      withReasons(migration.text, REASON_PLACEHOLDER),
    );
    const review: ReviewItem[] = [];
    for (const migration of marked) {
      const file = this.fileOf(migration.source);
      migration.draft.statements.forEach((statement, index) => {
        const line = migration.upLines[index] as number;
        statement.awaiting.forEach((rule, position) => {
          const allowLine = line - statement.awaiting.length + position;
          const message = said.get(`${migration.revision} ${index} ${rule}`) ?? statement.notes.join(' ');
          review.push({
            kind: 'allow-line',
            file,
            line: allowLine,
            rule,
            message: `${message || rule}; give the reason on the allow line, or change the statement`,
          });
        });
      });
    }
    for (const problem of left) {
      const migration = marked.find((each) => each.revision === problem.revision);
      if (!migration) continue;
      const index = problem.line === undefined ? undefined : statementAt(migration.upLines, problem.line);
      const kept = index !== undefined && migration.draft.statements[index]?.kept?.includes(problem.rule);
      review.push({
        kind: 'finding',
        file: problem.file,
        line: problem.line,
        rule: problem.rule,
        message: kept ? `${problem.message}; ${KEPT_FINDING}` : problem.message,
      });
    }
    review.push(...notes.map((note) => ({ kind: 'note' as const, message: note.message })));
    return { migrations: marked, review, snapshots };
  }

  private async lint(
    migrations: readonly GeneratedMigration[],
    pgVersion: PgVersion,
    textOf: (migration: GeneratedMigration) => string,
  ) {
    const generated = migrations.map((migration) => parseSqlMigration(migration.source, textOf(migration)));
    const all = [...this.base, ...generated];
    return lintAll(all, RevisionGraph.from(all), {
      fileOf: (source) => this.fileOf(source),
      args: this.options.args ?? {},
      pgVersion,
      warnings: [],
    });
  }

  private fileOf(source: string): string {
    return relative(this.options.cwd, join(this.options.migrationsDir, source)) || source;
  }

  private async serverVersion(): Promise<PgVersion> {
    const result = await this.db.query<{ server_version_num: string }>('SHOW server_version_num');
    return versionFromServerNum(result.rows[0]?.server_version_num ?? '');
  }
}

/** What a person does about a rename's finding: the rename is right, deployed code is the question. */
const KEPT_FINDING =
  'a rename keeps the data, so it has no allow line; check reports this until a person decides: deploy code ' +
  'that uses the new name first (rds-migrate check explains the steps), or write an allow line with the reason';

/** The lint line of `verified`: what is left for a person, by kind. */
function lintLine(review: readonly ReviewItem[]): string {
  const awaiting = review.filter((item) => item.kind === 'allow-line').length;
  const kept = review.filter((item) => item.kind === 'finding');
  if (awaiting === 0 && kept.length === 0) return 'lint: clean';
  const parts = [];
  if (awaiting > 0)
    parts.push(`once ${counted(awaiting, 'allow line')} get${awaiting === 1 ? 's' : ''} a reason`);
  if (kept.length > 0) {
    const rules = [...new Set(kept.map((item) => item.rule))].join(', ');
    parts.push(`but for ${counted(kept.length, 'finding')} left for a person to decide: ${rules}`);
  }
  return `lint: clean ${parts.join(', ')} (check fails until then)`;
}

function statementAt(upLines: readonly number[], line: number): number | undefined {
  let found: number | undefined;
  upLines.forEach((start, index) => {
    if (start <= line) found = index;
  });
  return found;
}

/**
 * Dropping a constraint that adopted an index (UNIQUE ... USING INDEX) drops the index too, and
 * the diff library sees the same index on both sides, so it does not build it again: the down
 * step of the finish migration rebuilds the indexes its constraints adopted.
 */
function indexesToRebuild(draft: MigrationDraft, drafts: readonly MigrationDraft[]): string[] {
  if (draft.role !== 'finish') return [];
  const builds = drafts.find((candidate) => candidate.role === 'indexes')?.statements ?? [];
  return draft.statements.flatMap((statement) => {
    const adopted = /^alter table \S+ add constraint \S+ (?:UNIQUE|PRIMARY KEY) using index (\S+);$/i.exec(
      statement.sql,
    );
    if (!adopted) return [];
    const name = plainName(adopted[1] as string);
    const build = builds.find((candidate) => {
      const created = /^CREATE (?:UNIQUE )?INDEX CONCURRENTLY IF NOT EXISTS (\S+) ON /.exec(candidate.sql);
      return created !== null && plainName(created[1] as string) === name;
    });
    return build ? [build.sql] : [];
  });
}

/**
 * PostgreSQL cannot un-validate a constraint, and the diff library's way back from a validated
 * one to the same one NOT VALID validates it again: the down step of VALIDATE drops the
 * constraint and adds it back NOT VALID, as the migration before it left it, instead.
 */
function constraintsToUnvalidate(draft: MigrationDraft, drafts: readonly MigrationDraft[]): string[] {
  if (draft.role !== 'finish') return [];
  const added = drafts.find((candidate) => candidate.role === 'schema')?.statements ?? [];
  const droppedHere = new Set(
    draft.statements.flatMap((statement) => {
      const dropped = /^alter table \S+ drop constraint (\S+);$/i.exec(statement.sql);
      return dropped ? [plainName(dropped[1] as string)] : [];
    }),
  );
  return draft.statements.flatMap((statement) => {
    const validated = /^alter table (\S+) validate constraint (\S+);$/i.exec(statement.sql);
    if (!validated || droppedHere.has(plainName(validated[2] as string))) return [];
    const name = plainName(validated[2] as string);
    const addition = added.find((candidate) => {
      const match = /^alter table \S+ add constraint (\S+) [\s\S]+ not valid;$/i.exec(candidate.sql);
      return match !== null && plainName(match[1] as string) === name;
    });
    return addition ? [`alter table ${validated[1]} drop constraint ${validated[2]};`, addition.sql] : [];
  });
}

/** `table.constraint` of an ALTER TABLE that drops, adds or validates a constraint; [] otherwise. */
function constraintOf(sql: string): string[] {
  const match = /^alter table (\S+) (?:drop|add|validate) constraint (\S+)[ ;]/i.exec(sql);
  return match ? [`${plainName(match[1] as string)}.${plainName(match[2] as string)}`] : [];
}

/** A down statement, made fit for its migration: outside a transaction, index work is CONCURRENTLY. */
function downStatement(sql: string, draft: MigrationDraft): string {
  if (draft.transactional)
    return sql.replace(/^set check_function_bodies = off;$/i, 'SET LOCAL check_function_bodies = off;');
  const drop = /^drop index if exists (\S+);$/i.exec(sql);
  if (drop) return `DROP INDEX CONCURRENTLY IF EXISTS ${drop[1]};`;
  const create = /^CREATE (UNIQUE )?INDEX (\S+) ON ([\s\S]+);$/.exec(sql);
  if (create)
    return `CREATE ${create[1] ?? ''}INDEX CONCURRENTLY IF NOT EXISTS ${create[2]} ON ${create[3]};`;
  return sql;
}

async function writeMigrations(options: AutogenerateOptions, generated: Generated): Promise<GeneratedFile[]> {
  await mkdir(options.migrationsDir, { recursive: true });
  const paths = generated.migrations.map((migration) => join(options.migrationsDir, migration.source));
  const taken = paths.find((path) => existsSync(path));
  if (taken)
    throw new UsageError(
      `${relative(options.cwd, taken)} already exists; choose another message or wait a minute`,
    );
  const files: GeneratedFile[] = [];
  for (const [index, migration] of generated.migrations.entries()) {
    await writeFile(paths[index] as string, migration.text, { flag: 'wx' });
    files.push({
      file: relative(options.cwd, paths[index] as string),
      revision: migration.revision,
      parent: migration.parent ?? null,
      message: migration.message,
      role: migration.draft.role,
      transactional: migration.draft.transactional,
      statements: migration.draft.statements.length,
    });
  }
  return files;
}

/** The files written and what needs review, for the terminal. */
export function formatAutogenerate(report: AutogenerateReport): string {
  if (report.status === 'nothing-to-generate') {
    return (
      `nothing to generate: head's schema (${report.parent ?? 'base'}) already matches ${report.wanted}; ` +
      'no file written'
    );
  }
  const lines = [`generated from ${report.wanted} on ${report.parent ?? 'base'}:`];
  for (const file of report.files) {
    const outside = file.transactional ? '' : ', transaction: false';
    lines.push(
      `  created ${file.file} (revision ${file.revision}, ${file.role}${outside}, ${counted(file.statements, 'statement')})`,
    );
  }
  if (report.renamed.length > 0) {
    const short = (name: string) => name.replace(/^public\./, '');
    const renamed = report.renamed.map((each) => `${each.kind} ${short(each.from)} \u2192 ${short(each.to)}`);
    lines.push(`renamed, not dropped and added (the rows keep their data): ${renamed.join(', ')}`);
  }
  if (report.rewrites.length > 0) lines.push(`rewritten to the safety rules: ${report.rewrites.join(', ')}`);
  lines.push('verified before writing:');
  for (const line of report.verified) lines.push(`  ${line}`);
  if (report.review.length === 0) {
    lines.push('review the SQL, then rds-migrate up');
    return lines.join('\n');
  }
  lines.push(`needs review (${report.review.length}):`);
  for (const item of report.review) {
    const where = item.file ? `${item.file}${item.line ? `:${item.line}` : ''}: ` : '';
    lines.push(`  ${where}${item.rule ? `${item.rule}: ` : ''}${item.message}`);
  }
  lines.push('then rds-migrate check, and rds-migrate up');
  return lines.join('\n');
}
