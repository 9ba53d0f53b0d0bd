/**
 * The linter over a whole folder: every migration in plan order, sharing what each shows of the
 * schema with the next, then the plan's transactions. check lints this way, and so do autogenerate
 * (what it writes) and up's review (what is about to run).
 */
import type { RevisionGraph } from '../engine/graph.ts';
import type { Migration, Revision } from '../engine/migration.ts';
import { lintMigration, type MigrationLintProblem } from './migration-lint.ts';
import type { PgVersion } from './model/pg-version.ts';
import { SchemaKnowledge } from './model/schema-knowledge.ts';
import { lintPlan, type PlanFinding } from './plan-lint.ts';
import type { TransactionStatement } from './transaction-lint.ts';

/** A finding of one migration, or of two that share a transaction (reported on the later one's up section). */
type FolderLintProblem = { readonly kind: 'lint' } & (
  | MigrationLintProblem
  | (PlanFinding & { readonly section: 'up' })
);

/**
 * Lints every migration in plan order, sharing what each shows of the schema with the next, then
 * the plan's transactions (which span migrations). Autogenerate lints what it writes this way too.
 */
export async function lintAll(
  migrations: readonly Migration[],
  graph: RevisionGraph | undefined,
  context: {
    fileOf: (source: string) => string;
    args: Readonly<Record<string, string>>;
    pgVersion: PgVersion;
    warnings: string[];
    /** Report findings of these revisions only; the others are still read for what they create. */
    only?: ReadonlySet<Revision>;
  },
): Promise<FolderLintProblem[]> {
  const ordered =
    graph && graph.size === migrations.length
      ? graph.order.map((revision) => graph.get(revision))
      : migrations;
  const schema = new SchemaKnowledge();
  const statements = new Map<Revision, readonly TransactionStatement[]>();
  const problems: FolderLintProblem[] = [];
  for (const migration of ordered) {
    const result = await lintMigration(migration, {
      file: context.fileOf(migration.source),
      args: context.args,
      pgVersion: context.pgVersion,
      schema,
    });
    problems.push(...result.problems.map((problem) => ({ kind: 'lint' as const, ...problem })));
    context.warnings.push(...result.warnings);
    statements.set(migration.revision, result.statements);
  }
  if (graph && graph.size === migrations.length) {
    for (const finding of lintPlan(graph, statements, { pgVersion: context.pgVersion })) {
      problems.push({ kind: 'lint', section: 'up', ...finding });
    }
  }
  const only = context.only;
  return only ? problems.filter((problem) => !problem.revision || only.has(problem.revision)) : problems;
}
