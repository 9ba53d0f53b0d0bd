/**
 * What a user may type where a revision is wanted, as Alembic users type it: a revision id or a
 * unique prefix of it, a branch label, `head`, `heads`, `base`, a branch-qualified form
 * (`billing@head`, `billing@base`, `3f2a@1b2c`), and relative steps (`-1`, `+2`, `3f2a+2`,
 * `head-1`, `base+2`, `billing@+1`): the syntax, and what a target names in a graph, as pure
 * functions (counting from the database's current heads when given them).
 */
import { GraphError } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import { BASE, type Revision } from './migration.ts';

/**
 * A revision id or a branch label: letters, digits and `_`, 1 to 64 of them. Alembic's ids are of
 * this kind (it refuses `@`, `-`, `+` and `:`, which its target syntax uses, and so do we).
 */
export const NAME_PATTERN = /^[A-Za-z0-9_]{1,64}$/;

/** Words a target gives a meaning of its own, so no revision or label may be called so. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['base', 'head', 'heads', 'current']);

/** Whether `name` may be a revision id or a branch label (any case of a reserved word is refused). */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && !RESERVED_NAMES.has(name.toLowerCase());
}

/** A target taken apart: `[branch@][symbol][+N|-N]`. */
interface ParsedTarget {
  /** What was typed, for messages. */
  readonly text: string;
  /** The part before `@`: a branch label, or a revision whose branch is meant. */
  readonly branch?: string;
  /** `head`, `heads`, `base`, or a revision id, prefix or label; absent in `-1`, `+2`, `billing@+1`. */
  readonly symbol?: string;
  /** Steps up (positive) or down (negative) from the symbol, or from the database's current heads. */
  readonly steps?: number;
}

const RELATIVE = /^([A-Za-z0-9_]*)([+-])(\d+)$/;

/** Parses a target; a malformed one is an error that shows the forms accepted. */
export function parseTarget(text: string): ParsedTarget {
  const trimmed = text.trim();
  const at = trimmed.indexOf('@');
  const branch = at === -1 ? undefined : trimmed.slice(0, at);
  const rest = at === -1 ? trimmed : trimmed.slice(at + 1);
  if (branch !== undefined && !NAME_PATTERN.test(branch)) throw malformed(text);
  const relative = RELATIVE.exec(rest);
  if (relative) {
    const [, symbol = '', sign, digits = ''] = relative;
    const count = Number(digits);
    if (count === 0 || !Number.isSafeInteger(count)) {
      throw new GraphError(
        'invalid-target',
        `'${text}' moves by ${digits} steps; give 1 or more (e.g. -1, +2, head-1)`,
      );
    }
    return {
      text,
      ...(branch === undefined ? {} : { branch }),
      ...(symbol === '' ? {} : { symbol }),
      steps: sign === '-' ? -count : count,
    };
  }
  if (!NAME_PATTERN.test(rest)) throw malformed(text);
  return { text, ...(branch === undefined ? {} : { branch }), symbol: rest };
}

function malformed(text: string): GraphError {
  return new GraphError(
    'invalid-target',
    `'${text}' is not a revision target; write a revision id (or 4+ characters of it), a branch label, ` +
      'head, heads or base, optionally as <branch>@<target> (billing@head, billing@base, 3f2a@1b2c), ' +
      'or a relative step: -1, +2, 3f2a+2, head-1, base+2, billing@+1',
    [text],
  );
}

// ---------- resolution against a graph ----------

/** Where a target is resolved: the database's current heads, and what the target is for. */
export interface TargetContext {
  /**
   * The database's current heads, which steps without a symbol count from (`-1`, `+2`,
   * `billing@+1`). Absent: such steps are refused (offline, nothing to count from).
   */
  readonly current?: readonly Revision[];
  /** `up` refuses `-N` from the current heads, `down` refuses `+N`; `at` takes either. */
  readonly direction: 'up' | 'down' | 'at';
}

/** What a target names. */
export interface ResolvedTarget {
  /** The revisions named; none for `base`. */
  readonly revisions: readonly Revision[];
  /**
   * The branch the target is confined to: the revision a `<branch>@` names, or the head a `-N`
   * counted from. A downgrade then takes down that branch only; a stamp moves its heads only.
   */
  readonly branch?: Revision;
}

/** Resolves a target as Alembic does; every failure is a GraphError that says what to type instead. */
export function resolveTarget(graph: RevisionGraph, text: string, context: TargetContext): ResolvedTarget {
  const target = parseTarget(text);
  const branch = target.branch === undefined ? undefined : resolveBranch(graph, target.branch, text);
  const lineage = branch === undefined ? undefined : graph.lineage(branch);
  const confined = (revisions: readonly Revision[]): ResolvedTarget =>
    branch === undefined ? { revisions } : { revisions, branch };
  if (target.steps === undefined)
    return confined(absolute(graph, target, target.symbol ?? '', branch, lineage));
  if (target.symbol === undefined) return fromCurrent(graph, target, target.steps, branch, lineage, context);
  const start = onlyOne(graph, text, absolute(graph, target, target.symbol, branch, lineage));
  if (target.steps > 0) return confined(orBase(walkUp(graph, text, start, target.steps, lineage)));
  return confined(walkDown(graph, text, start, -target.steps));
}

/** A target that must name one revision (or base): `show`, `create --head`, a merge's parents. */
export function resolveRevision(graph: RevisionGraph, text: string, context?: TargetContext): Revision {
  return onlyOne(graph, text, resolveTarget(graph, text, context ?? { direction: 'at' }).revisions);
}

function absolute(
  graph: RevisionGraph,
  target: ParsedTarget,
  symbol: string,
  branch: Revision | undefined,
  lineage: ReadonlySet<Revision> | undefined,
): Revision[] {
  if (symbol === BASE) return [];
  const heads = lineage ? graph.heads.filter((head) => lineage.has(head)) : [...graph.heads];
  if (symbol === 'heads') return heads;
  if (symbol === 'head') {
    if (!lineage) return [graph.singleHead()];
    if (heads.length === 1) return heads;
    throw new GraphError(
      'multiple-heads',
      `branch ${target.branch} has several heads (${heads.join(', ')}); name one, or '${target.branch}@heads' for all of them`,
      heads,
    );
  }
  const revision = graph.resolve(symbol, lineage);
  if (lineage && !lineage.has(revision)) {
    throw new GraphError(
      'invalid-target',
      `revision ${revision} is not on branch ${target.branch} (the ancestors and descendants of ${branch}); ` +
        `name a revision of that branch, or drop '${target.branch}@'`,
      [revision],
    );
  }
  return [revision];
}

/** The revision the part before `@` names: a branch label's revision, or a revision id or prefix. */
function resolveBranch(graph: RevisionGraph, name: string, text: string): Revision {
  if (RESERVED_NAMES.has(name.toLowerCase())) {
    throw new GraphError(
      'invalid-target',
      `'${text}': the part before '@' names a branch, by its label or one of its revisions; '${name}' is neither`,
      [name],
    );
  }
  try {
    return graph.resolve(name);
  } catch (error) {
    if (!(error instanceof GraphError) || error.problem !== 'unknown-revision') throw error;
    throw new GraphError(
      'unknown-revision',
      `'${text}': no branch label or revision is called '${name}'; rds-migrate heads shows the labels, ` +
        'rds-migrate history the revisions',
      [name],
    );
  }
}

/** `-N` / `+N` / `<branch>@±N`: counted from the database's current heads (on the branch). */
function fromCurrent(
  graph: RevisionGraph,
  target: ParsedTarget,
  steps: number,
  branch: Revision | undefined,
  lineage: ReadonlySet<Revision> | undefined,
  context: TargetContext,
): ResolvedTarget {
  const { text } = target;
  if (context.current === undefined) {
    throw new GraphError(
      'invalid-target',
      `'${text}' counts from the database's current revision, which is not known here; ` +
        `count from a revision instead (head${steps > 0 ? '' : steps}, base+${Math.abs(steps)}, <rev>${steps > 0 ? '+' : ''}${steps})`,
      [text],
    );
  }
  if (steps > 0 && context.direction === 'down') {
    throw new GraphError(
      'invalid-target',
      `'${text}' would go up from the current revision; use up ${text}, or name where down stops (e.g. base+${steps})`,
      [text],
    );
  }
  if (steps < 0 && context.direction === 'up') {
    throw new GraphError('invalid-target', `'${text}' would go down; use down ${text}`, [text]);
  }
  const starts = startingPoints(graph, context.current, lineage);
  if (starts.length === 0) {
    if (steps > 0) return withBranch([walkUp(graph, text, BASE, steps, lineage)], branch);
    throw new GraphError(
      'not-applied',
      `'${text}' counts down from the current revision, but ${branch ? `nothing of branch ${target.branch} is` : 'nothing is'} applied`,
      [text],
    );
  }
  if (starts.length > 1) throw severalHeads(graph, target, steps, starts);
  const start = starts[0] as Revision;
  if (steps > 0) return withBranch(orBase(walkUp(graph, text, start, steps, lineage)), branch);
  // Going down from a head confines the downgrade to that head's branch, as Alembic does.
  return { revisions: walkDown(graph, text, start, -steps), branch: branch ?? start };
}

/**
 * Where steps from the current state start: the current heads nothing applied depends on (on
 * the branch); when the branch has none of its own, the tips of what is applied of it (its
 * branch point, say).
 */
function startingPoints(
  graph: RevisionGraph,
  current: readonly Revision[],
  lineage: ReadonlySet<Revision> | undefined,
): Revision[] {
  const heads = graph.realHeads(current);
  if (!lineage) return heads;
  const onBranch = heads.filter((head) => lineage.has(head));
  if (onBranch.length > 0) return onBranch;
  const applied = graph.ancestors(current);
  return graph.headsOf(new Set([...applied].filter((revision) => lineage.has(revision))));
}

function severalHeads(
  graph: RevisionGraph,
  target: ParsedTarget,
  steps: number,
  starts: readonly Revision[],
): GraphError {
  const step = `${steps > 0 ? '+' : ''}${steps}`;
  const described = starts.map((head) => {
    const labels = graph.branchLabels(head);
    return labels.length > 0 ? `${head} (${labels.join(', ')})` : head;
  });
  const first = starts[0] as Revision;
  const label = graph.branchLabels(first)[0];
  const example = label ? `${label}@${step} or ${first}${step}` : `${first}${step}`;
  return new GraphError(
    'ambiguous-revision',
    `'${target.text}' counts from the current revision, but the database has several heads (${described.join(', ')}); ` +
      `say which branch: <branch>@${step} or <head>${step}, e.g. ${example}`,
    [...starts],
  );
}

/** `steps` revisions up from `start` along the graph's parents, within the branch when one is named. */
function walkUp(
  graph: RevisionGraph,
  text: string,
  start: Revision,
  steps: number,
  lineage: ReadonlySet<Revision> | undefined,
): Revision {
  let node = start;
  for (let step = 0; step < steps; step++) {
    const above = (node === BASE ? graph.bases : graph.children(node)).filter(
      (revision) => !lineage || lineage.has(revision),
    );
    if (above.length === 0) {
      throw new GraphError(
        'invalid-target',
        `'${text}' goes ${steps} step${steps === 1 ? '' : 's'} up from ${start}, but ${
          step === 0
            ? `nothing lies above ${start}`
            : `the graph ends ${step} step${step === 1 ? '' : 's'} up, at ${node}`
        }; rds-migrate history lists the revisions`,
        [start],
      );
    }
    if (above.length > 1) {
      const branches = above.map((revision) => graph.branchLabels(revision)[0] ?? revision);
      throw new GraphError(
        'ambiguous-revision',
        `'${text}' is ambiguous: above ${node} the graph branches into ${above.join(', ')}; ` +
          `name the branch to follow with <branch>@, e.g. ${branches[0]}@${stripBranch(text)}`,
        above,
      );
    }
    node = above[0] as Revision;
  }
  return node;
}

/** `steps` revisions down from `start`: one revision, none (base), or the parents of a merge at the last step. */
function walkDown(graph: RevisionGraph, text: string, start: Revision, steps: number): Revision[] {
  let nodes: Revision[] = [start];
  for (let step = 0; step < steps; step++) {
    const node = nodes[0] as Revision;
    if (nodes.length > 1) {
      throw new GraphError(
        'ambiguous-revision',
        `'${text}' is ambiguous: ${step} step${step === 1 ? '' : 's'} down the walk reaches a merge of ${nodes.join(', ')}; ` +
          `count down from one of them instead (e.g. ${nodes[0]}-${steps - step})`,
        nodes,
      );
    }
    if (node === BASE) {
      throw new GraphError(
        'invalid-target',
        `'${text}' goes ${steps} step${steps === 1 ? '' : 's'} down from ${start}, but base is ${step} step${step === 1 ? '' : 's'} down; ` +
          `go down to base instead, or take fewer steps`,
        [start],
      );
    }
    const parents = graph.get(node).downRevisions;
    nodes = parents.length === 0 ? [BASE] : [...parents];
  }
  return nodes.filter((node) => node !== BASE);
}

function onlyOne(graph: RevisionGraph, text: string, revisions: readonly Revision[]): Revision {
  if (revisions.length === 0) return BASE;
  if (revisions.length === 1) return revisions[0] as Revision;
  const heads = revisions.every((revision) => graph.heads.includes(revision));
  throw new GraphError(
    heads ? 'multiple-heads' : 'ambiguous-revision',
    `'${text}' names several revisions (${revisions.join(', ')}); name one of them`,
    [...revisions],
  );
}

function orBase(revision: Revision): Revision[] {
  return revision === BASE ? [] : [revision];
}

function withBranch(revisions: readonly Revision[], branch: Revision | undefined): ResolvedTarget {
  return branch === undefined ? { revisions } : { revisions, branch };
}

function stripBranch(text: string): string {
  const at = text.indexOf('@');
  return at === -1 ? text : text.slice(at + 1);
}
