/**
 * `rds-migrate create --autogenerate "message"`: the migrations that take head's schema to the
 * schema the app wants. On shadow databases of the server (never the user's database) it builds
 * the wanted schema, and head's schema by running the migrations; the diff library gives the
 * statements between them, safe-migrations.ts rewrites them to our safety rules, and the down
 * step of each migration is the diff back from the schema it leaves to the one before it.
 * A table or column that disappears while one of its shape appears is a rename or a drop and an
 * add: a person decides (rename-decisions.ts) before anything is diffed, and the renames come
 * first, written as RENAME with a down step that renames back (rename-statements.ts).
 * Before anything is written (migration-generator.ts makes and proves them), the migrations must: apply to head's schema and leave exactly the
 * wanted schema (the diff is then empty); go down step by step to head's schema and up again
 * (the round trip); and pass the linter, but for allow lines that await a person's reason.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { counted } from '../engine/counted.ts';
import type { Database } from '../engine/database.ts';
import { GraphError, RdsMigrateError, UsageError } from '../engine/errors.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { History } from '../engine/history.ts';
import type { Revision } from '../engine/migration.ts';
import type { PgVersion } from '../lint/model/pg-version.ts';
import type { Server } from '../local/server.ts';
import { proveWantedCatalog, readCatalogProof } from './catalog-proof.ts';
import { AutogenerateError, type Generated, Generator, type ReviewItem } from './migration-generator.ts';
import { assertFillsUsed, type Fills, parseFills, valuesNeededNotes } from './not-null-fill.ts';
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
  planSafeMigrations,
  type ReviewNote,
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

export { AutogenerateError } from './migration-generator.ts';

interface AutogenerateOptions {
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
  /**
   * `table.column=expr` (`--fill`): the value rows without one get when the column is made NOT
   * NULL with no default. Without one, rows the target database may have without a value refuse
   * the run (not-null-fill.ts). @default none
   */
  readonly fills?: readonly string[];
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

export async function autogenerate(options: AutogenerateOptions): Promise<AutogenerateReport> {
  const started = performance.now();
  const parent = parentOf(options.graph, options.head);
  const pieces = await wantedSchemaSql(options.wanted.source, options.cwd);
  const fills = await parseFills(options.fills ?? []);
  const exclude = { excludeSchemas: [options.history.schema] };
  const purpose = 'create --autogenerate';
  const wantedSchema = () =>
    withShadowDatabase(options.server, purpose, async (shadow) => {
      await buildWantedSchema(shadow.db, pieces);
      // Read twice: by the diff library, and independently for the last proof.
      return [await inspectSchema(shadow.db, exclude), await readCatalogProof(shadow.db, exclude)] as const;
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
    const [[wanted, wantedCatalog], head] = await Promise.all([wantedSchema(), headSchema()]);
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
    if (renames.length === 0 && (forward.length === 0 || (await differences(head, wanted)).length === 0)) {
      assertFillsUsed(fills, new Set(), []);
      await proveWantedCatalog(shadow.db, wantedCatalog, exclude, 'nothing-to-generate');
      return report({});
    }
    const generator = new Generator({ db: shadow.db, options, parent, head, wanted, renamedHead: renamed });
    const safe = await planSafeMigrations(forward, factsOf(renamed, wanted, decisions, fills));
    assertFillsUsed(fills, safe.filled, safe.valuesNeeded);
    const plan = {
      ...withRenamesFirst(safe, renames.map(renameDraft)),
      notes: [
        ...dropAddNotes(decisions),
        ...safe.notes,
        ...(await valuesNeededNotes(options.server, options.message, safe.valuesNeeded)),
      ],
    };
    const generated = await generator.generate(plan);
    const generateMs = performance.now() - started - shadowsMs;
    const verified = await generator.verify(generated);
    verified.push(await proveWantedCatalog(shadow.db, wantedCatalog, exclude, 'generated'));
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

function factsOf(
  head: SchemaInspection,
  wanted: SchemaInspection,
  decisions: RenameDecisions,
  fills: Fills,
): SchemaFacts {
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
    fills,
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
