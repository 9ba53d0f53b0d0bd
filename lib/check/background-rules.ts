/**
 * What `check` knows of background migrations and the gate:
 * - `background-ddl`: a background migration holds data work only, one `ctx.batch` walk
 *   (its planning run says so), and the statements its batches issue change data, not schema:
 *   DDL belongs to the migrations around it (expand before, contract after);
 * - `requires-complete`: a `requires_complete` names a revision of the folder, that revision is a
 *   background migration, and it comes before the migration that waits for it (an ancestor, by
 *   parents or depends_on), or the wait could never be met in order.
 */
import { BackgroundMigrationError, batchPlanOf } from '../engine/background-plan.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { Migration, Revision } from '../engine/migration.ts';
import { recordCodeStep } from '../lint/recording.ts';

/** A problem as check reports it (check.ts CheckProblem). */
interface BackgroundProblem {
  readonly kind: 'lint' | 'graph';
  readonly rule: 'background-ddl' | 'requires-complete';
  readonly file: string;
  readonly revision: Revision;
  readonly section?: 'up';
  readonly message: string;
  readonly why?: string;
  readonly fix?: string;
}

/** Statement kinds that change data only: what a batch may run. */
const DATA_STATEMENTS = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

const DDL_WHY =
  'a background migration runs beside the deploy, over hours, in many transactions: a schema change in it would ' +
  'hold its locks batch after batch, and could not be reverted in one piece';
const DDL_FIX =
  'expand → backfill → contract: put the schema change in an ordinary migration before the backfill (add the ' +
  'column) or after it (the constraint, with requires_complete: <the backfill>)';

export async function backgroundProblems(
  graph: RevisionGraph,
  context: { readonly fileOf: (source: string) => string; readonly args: Readonly<Record<string, string>> },
): Promise<BackgroundProblem[]> {
  const problems: BackgroundProblem[] = [];
  for (const revision of graph.order) {
    const migration = graph.get(revision);
    const file = context.fileOf(migration.source);
    if (migration.background) problems.push(...(await ddlProblems(migration, file, context.args)));
    problems.push(...requiresProblems(graph, migration, file));
  }
  return problems;
}

async function ddlProblems(
  migration: Migration,
  file: string,
  args: Readonly<Record<string, string>>,
): Promise<BackgroundProblem[]> {
  const problem = (message: string): BackgroundProblem => ({
    kind: 'lint',
    rule: 'background-ddl',
    file,
    revision: migration.revision,
    section: 'up',
    message,
    why: DDL_WHY,
    fix: DDL_FIX,
  });
  try {
    await batchPlanOf(migration, args);
  } catch (error) {
    if (error instanceof BackgroundMigrationError) return [problem(error.message)];
    throw error;
  }
  const recording = await recordCodeStep(migration, 'up', args);
  const { parse } = await import('libpg-query');
  const problems: BackgroundProblem[] = [];
  for (const entry of recording.entries) {
    if (entry.kind !== 'statement') continue;
    const kinds = await statementKinds(parse, entry.text);
    const ddl = kinds.filter((kind) => !DATA_STATEMENTS.has(kind));
    if (ddl.length > 0) {
      problems.push(
        problem(
          `background migration ${migration.revision} runs ${ddl.join(', ')} in its batches ` +
            `(${entry.text.split('\n')[0]?.slice(0, 80)}); a background migration changes data only`,
        ),
      );
    }
  }
  return problems;
}

async function statementKinds(parse: (sql: string) => Promise<unknown>, sql: string): Promise<string[]> {
  try {
    const tree = (await parse(sql)) as { stmts?: { stmt?: Record<string, unknown> }[] };
    return (tree.stmts ?? []).map((stmt) => Object.keys(stmt.stmt ?? {})[0] ?? 'unknown');
  } catch {
    // Unparseable text is the linter's finding, not this rule's.
    return [];
  }
}

function requiresProblems(graph: RevisionGraph, migration: Migration, file: string): BackgroundProblem[] {
  const problems: BackgroundProblem[] = [];
  const problem = (message: string, fix: string): BackgroundProblem => ({
    kind: 'graph',
    rule: 'requires-complete',
    file,
    revision: migration.revision,
    message,
    fix,
  });
  const before = migration.requiresComplete?.length
    ? graph.ancestors([migration.revision])
    : new Set<Revision>();
  for (const required of migration.requiresComplete ?? []) {
    if (!graph.has(required)) {
      problems.push(
        problem(
          `requires_complete names ${required}, which no migration of the folder defines`,
          'name the background migration by its whole revision id',
        ),
      );
      continue;
    }
    if (!graph.get(required).background) {
      problems.push(
        problem(
          `requires_complete names ${required} (${graph.get(required).source}), which is not a background migration: ` +
            'it is complete once applied',
          'mark it background: true if it is the backfill, or drop it from requires_complete (a parent or depends_on orders it)',
        ),
      );
      continue;
    }
    if (!before.has(required)) {
      problems.push(
        problem(
          `requires_complete names ${required}, which is not applied before it (not an ancestor by parents or depends_on)`,
          `make ${required} an ancestor: build on it (down_revision) or add it to depends_on`,
        ),
      );
    }
  }
  return problems;
}
