/**
 * What `up` and `down` say before they run: check's findings on the steps about to run, as
 * warnings on stderr. They run anyway (a non-concurrent index on a development table is fine),
 * but nobody applies a statement check flags without having been told; an allow line that still
 * awaits its reason is refused by the engine itself, on every path.
 */
import { relative } from 'node:path';
import { type CheckProblem, formatProblem } from '../check/check.ts';
import type { Database } from '../engine/database.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { Plan } from '../engine/plan.ts';
import { lintAll } from '../lint/folder-lint.ts';
import { versionFromServerNum } from '../lint/model/pg-version.ts';

interface PlanReviewOptions {
  readonly graph: RevisionGraph;
  readonly migrationsDir: string;
  readonly cwd: string;
  readonly args: Readonly<Record<string, string>>;
  readonly write: (text: string) => void;
}

/** The `beforeRun` of `migrate`: lints the plan's steps against the server's major version and prints the findings. */
export function reviewBeforeRun(options: PlanReviewOptions): (plan: Plan, db: Database) => Promise<void> {
  return async (plan, db) => {
    const found = await planFindings(plan, db, options);
    if (found.length === 0) return;
    const count = found.length === 1 ? 'a problem' : `${found.length} problems`;
    options.write(
      [
        `warning: check finds ${count} in what is about to run; it runs anyway, but rds-migrate check fails ` +
          'until each is changed or allowed with a reason:',
        ...found.flatMap((problem) => formatProblem(problem).map((line) => `  ${line}`)),
        '',
      ].join('\n'),
    );
  };
}

/** check's lint findings on the sections the plan runs: the up section of an up step, the down section of a down step. */
async function planFindings(plan: Plan, db: Database, options: PlanReviewOptions): Promise<CheckProblem[]> {
  const sections = new Map(plan.steps.map((step) => [step.revision, step.direction]));
  // Every migration is read in order (what the earlier ones create informs the rules); only the
  // plan's steps are reported.
  const migrations = options.graph.order.map((revision) => options.graph.get(revision));
  const version = await db.query<{ server_version_num: string }>('SHOW server_version_num');
  const problems = await lintAll(migrations, options.graph, {
    fileOf: (source) => relative(options.cwd, `${options.migrationsDir}/${source}`) || source,
    args: options.args,
    pgVersion: versionFromServerNum(version.rows[0]?.server_version_num ?? ''),
    warnings: [],
    only: new Set(sections.keys()),
  });
  // SQL the parser refuses fails the run at its statement, with PostgreSQL's own words and the
  // revision: a warning first would only say it twice.
  return problems.filter(
    (problem) =>
      problem.rule !== 'parse-error' &&
      problem.revision &&
      sections.get(problem.revision) === problem.section,
  );
}
