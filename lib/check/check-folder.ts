/**
 * The checks that need no database: the folder loads, and its revisions make one graph (heads,
 * orphans, merges) as the run would see it.
 */
import { readdir } from 'node:fs/promises';
import { GraphError, MigrationLoadError } from '../engine/errors.ts';
import { RevisionGraph } from '../engine/graph.ts';
import { loadMigrationFile, loadMigrations } from '../engine/loader.ts';
import type { Migration, Revision } from '../engine/migration.ts';
import type { CheckProblem, CheckSection } from './check-report.ts';

// Loading: every file that cannot be read is a problem of its own, not just the first.

export async function loadAll(
  directory: string,
  fileOf: (source: string) => string,
): Promise<{ migrations: Migration[]; problems: CheckProblem[] }> {
  let first: MigrationLoadError;
  try {
    return { migrations: await loadMigrations(directory), problems: [] };
  } catch (error) {
    if (!(error instanceof MigrationLoadError)) throw error;
    first = error;
  }
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    // The folder itself cannot be read: the loader already said so, with what to do.
    return { migrations: [], problems: [loadProblem(first, () => directory)] };
  }
  // The loader's own selection of files, loaded one by one to hear of each broken one.
  const files = names.filter((name) => /\.(sql|ts)$/.test(name) && !name.endsWith('.d.ts')).sort();
  const settled = await Promise.allSettled(files.map((name) => loadMigrationFile(directory, name)));
  const migrations: Migration[] = [];
  const problems: CheckProblem[] = [];
  for (const result of settled) {
    if (result.status === 'fulfilled') migrations.push(result.value);
    else if (result.reason instanceof MigrationLoadError) problems.push(loadProblem(result.reason, fileOf));
    else throw result.reason;
  }
  return { migrations, problems };
}

function loadProblem(error: MigrationLoadError, fileOf: (source: string) => string): CheckProblem {
  const prefix = `${error.source}: `;
  const message = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  return { kind: 'load', rule: 'unreadable-migration', file: fileOf(error.source), message };
}

// The graph: heads as expected, no orphans, a down step for every migration or a reason.

export interface GraphCheck {
  readonly graph: RevisionGraph;
  /** The heads the folder should have: the named ones, or its one head; all heads when unclear. */
  readonly expectedHeads: readonly Revision[];
  readonly problems: CheckProblem[];
  readonly section: CheckSection;
}

export function checkGraph(
  migrations: readonly Migration[],
  named: readonly string[] | undefined,
  fileOf: (source: string) => string,
): GraphCheck {
  let graph: RevisionGraph;
  try {
    graph = RevisionGraph.from(migrations);
  } catch (error) {
    if (!(error instanceof GraphError)) throw error;
    const revision = error.revisions[0];
    const migration = migrations.find((candidate) => candidate.revision === revision);
    const problem: CheckProblem = {
      kind: 'graph',
      rule: error.problem,
      file: migration ? fileOf(migration.source) : undefined,
      revision,
      message: error.message,
    };
    return {
      graph: RevisionGraph.from([]),
      expectedHeads: [],
      problems: [problem],
      section: { status: 'problems', summary: error.message },
    };
  }
  const problem = (rule: string, revision: Revision, message: string): CheckProblem => ({
    kind: 'graph',
    rule,
    file: fileOf(graph.get(revision).source),
    revision,
    message,
  });
  const heads = headProblems(graph, named, problem);
  const problems = [...heads.problems, ...orphanProblems(graph, heads.expected, heads.clear, problem)];
  for (const revision of graph.order) {
    const migration = graph.get(revision);
    if (migration.down || migration.irreversible) continue;
    const how = migration.up.kind === 'code' ? 'a down(ctx) function' : "a '-- migrate:down' section";
    const mark =
      migration.up.kind === 'code' ? "irreversible: '<reason>'" : "'-- irreversible: <reason>' in its header";
    problems.push(
      problem(
        'missing-down-step',
        revision,
        `has no down step: add ${how} (empty for nothing to undo), or mark it ${mark}`,
      ),
    );
  }
  if (graph.size === 0) {
    problems.push({
      kind: 'graph',
      rule: 'no-migrations',
      message: 'the folder has no migrations; create one with rds-migrate create "message"',
    });
  }
  const irreversible = migrations.filter((migration) => migration.irreversible).length;
  const summary =
    `${graph.size} migration${graph.size === 1 ? '' : 's'}, head${heads.expected.length === 1 ? '' : 's'} ` +
    `${heads.expected.join(', ') || 'none'}` +
    (irreversible > 0 ? `, ${irreversible} marked irreversible` : '');
  return {
    graph,
    expectedHeads: heads.expected,
    problems,
    section: { status: problems.length > 0 ? 'problems' : 'ok', summary },
  };
}

type GraphProblemFactory = (rule: string, revision: Revision, message: string) => CheckProblem;

function headProblems(
  graph: RevisionGraph,
  named: readonly string[] | undefined,
  problem: GraphProblemFactory,
): { expected: Revision[]; clear: boolean; problems: CheckProblem[] } {
  if (named === undefined) {
    if (graph.heads.length <= 1) return { expected: [...graph.heads], clear: true, problems: [] };
    const all = graph.heads.join(', ');
    const problems = graph.heads.map((head) =>
      problem(
        'multiple-heads',
        head,
        `is one of ${graph.heads.length} heads (${all}); join them with rds-migrate merge -m "merge heads", ` +
          `or name the heads you expect with --heads ${graph.heads.join(',')}`,
      ),
    );
    return { expected: [...graph.heads], clear: false, problems };
  }
  const problems: CheckProblem[] = [];
  const expected: Revision[] = [];
  for (const spec of named) {
    let revision: Revision;
    try {
      revision = graph.resolve(spec);
    } catch (error) {
      if (!(error instanceof GraphError)) throw error;
      problems.push({
        kind: 'graph',
        rule: 'unknown-head',
        message: `--heads names '${spec}': ${error.message}`,
      });
      continue;
    }
    if (graph.heads.includes(revision)) expected.push(revision);
    else {
      problems.push(
        problem(
          'not-a-head',
          revision,
          `is named in --heads but is not a head (${graph.children(revision).join(', ')} build on it); ` +
            'rds-migrate heads lists the heads',
        ),
      );
    }
  }
  for (const head of graph.heads.filter((candidate) => !expected.includes(candidate))) {
    problems.push(
      problem(
        'unexpected-head',
        head,
        '--heads does not name this head; join it to the others with rds-migrate merge, or add it to --heads',
      ),
    );
  }
  return { expected, clear: true, problems };
}

/**
 * Orphans: a second base (a migration whose down_revision was left empty by mistake starts a
 * history of its own), and revisions that lead only to heads nobody expects.
 */
function orphanProblems(
  graph: RevisionGraph,
  expected: readonly Revision[],
  expectedIsClear: boolean,
  problem: GraphProblemFactory,
): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const [first, ...others] = graph.bases;
  for (const base of others) {
    // A labelled root, or one that depends on another branch, is a second history on purpose.
    if (graph.get(base).branchLabels?.length || graph.dependencies(base).length > 0) continue;
    problems.push(
      problem(
        'orphan',
        base,
        `has no down_revision, so it starts a second history beside ${first} (${graph.get(first as Revision).source}); ` +
          'set its down_revision to the revision it builds on',
      ),
    );
  }
  if (!expectedIsClear) return problems;
  const reachable = graph.ancestors(expected);
  for (const revision of graph.order) {
    if (reachable.has(revision) || graph.heads.includes(revision) || others.includes(revision)) continue;
    const leadsTo = graph.headsOf(graph.descendants(revision)).join(', ');
    problems.push(
      problem(
        'orphan',
        revision,
        `leads only to ${leadsTo}, not to the expected head${expected.length === 1 ? '' : 's'} ` +
          `${expected.join(', ') || '(none)'}; merge that branch or remove it`,
      ),
    );
  }
  return problems;
}
