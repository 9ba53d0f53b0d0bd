/**
 * The generated migrations, made and proved on head's shadow database before anything is
 * written: each draft applied in turn (its down step is the diff back to the schema before it),
 * the result compared with the wanted schema, the round trip down and up again, and the linter
 * over the lot, whose findings become allow lines awaiting a person's reason (autogenerate.ts
 * decides what is generated; this module makes and proves it).
 */
import { join, relative } from 'node:path';
import { newRevisionId } from '../engine/authoring.ts';
import { schemaSnapshot } from '../engine/catalog.ts';
import { counted } from '../engine/counted.ts';
import type { Database } from '../engine/database.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import { RevisionGraph } from '../engine/graph.ts';
import type { History } from '../engine/history.ts';
import { parseSqlMigration } from '../engine/loader.ts';
import type { Migration, Revision } from '../engine/migration.ts';
import { type Intent, migrate } from '../engine/runner.ts';
import { lintAll } from '../lint/folder-lint.ts';
import { type PgVersion, versionFromServerNum } from '../lint/model/pg-version.ts';
import { type GeneratedMigrationText, renderMigration, slugOf, withReasons } from './generated-migration.ts';
import {
  type DraftRole,
  type DraftStatement,
  dropIndexConcurrently,
  type MigrationDraft,
  type ReviewNote,
  type SafeMigrations,
} from './safe-migrations.ts';
import {
  differences,
  diffSchemas,
  inspectSchema,
  inspectSchemaAfter,
  type SchemaInspection,
} from './schema-diff.ts';
import { plainName } from './sql-names.ts';

/** What the generator reads of autogenerate's options. */
interface GeneratorOptions {
  readonly graph: RevisionGraph;
  readonly migrationsDir: string;
  readonly cwd: string;
  readonly message: string;
  readonly history: History;
  /** The wanted schema, named as the user names it in the files' notes. */
  readonly wanted: { readonly label: string };
  readonly args?: Readonly<Record<string, string>>;
  readonly actor: string;
  readonly pgVersion?: PgVersion;
  readonly now?: Date;
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

export interface Generated {
  readonly migrations: readonly GeneratedMigration[];
  /** What our code added to the library's down steps. */
  readonly repairs: readonly string[];
  readonly review: readonly ReviewItem[];
  /** The catalog snapshot before each migration, and after the last. */
  readonly snapshots: readonly (readonly string[])[];
}

/** What a Generator works from: head's shadow database and the schemas read from it. */
interface GeneratorInputs {
  /** Head's shadow database. */
  readonly db: Database;
  readonly options: GeneratorOptions;
  /** The revision the first generated migration follows; none when there is no migration yet. */
  readonly parent: Revision | undefined;
  readonly head: SchemaInspection;
  readonly wanted: SchemaInspection;
  /** Head's schema as the decided renames leave it (head's when there are none). */
  readonly renamedHead: SchemaInspection;
}

/** The work on head's shadow database: apply the drafts, read the downs, lint, then the round trip. */
export class Generator {
  private readonly db: Database;
  private readonly options: GeneratorOptions;
  private readonly parent: Revision | undefined;
  private readonly head: SchemaInspection;
  private readonly wanted: SchemaInspection;
  private readonly renamedHead: SchemaInspection;
  private readonly base: readonly Migration[];
  private readonly stamp: string;

  constructor(inputs: GeneratorInputs) {
    const { options, parent } = inputs;
    this.db = inputs.db;
    this.options = options;
    this.parent = parent;
    this.head = inputs.head;
    this.wanted = inputs.wanted;
    this.renamedHead = inputs.renamedHead;
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
      const allowed = new Map<number, Set<string>>();
      for (const finding of findings.filter((each) => each.revision === migration.revision)) {
        if (
          finding.section !== 'up' ||
          finding.line === undefined ||
          finding.rule === 'invalid-allow-comment'
        )
          continue;
        const index = statementAt(migration.upLines, finding.line);
        if (index === undefined || migration.draft.statements[index]?.kept?.includes(finding.rule)) continue;
        if (migration.draft.statements[index]?.vouched?.[finding.rule] !== undefined) {
          allowed.set(index, (allowed.get(index) ?? new Set()).add(finding.rule));
          continue;
        }
        awaiting.set(index, (awaiting.get(index) ?? new Set()).add(finding.rule));
        said.set(`${migration.revision} ${index} ${finding.rule}`, finding.message);
      }
      const statements = migration.draft.statements.map((statement, index) => ({
        ...statement,
        awaiting: [...new Set([...statement.awaiting, ...(awaiting.get(index) ?? [])])],
        allowed: [...(allowed.get(index) ?? [])],
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
  const drop = dropIndexConcurrently(sql);
  if (drop) return drop;
  const create = /^CREATE (UNIQUE )?INDEX (\S+) ON ([\s\S]+);$/.exec(sql);
  if (create)
    return `CREATE ${create[1] ?? ''}INDEX CONCURRENTLY IF NOT EXISTS ${create[2]} ON ${create[3]};`;
  return sql;
}
