/**
 * The revision graph: every migration as a node, its `downRevisions` as edges to its parents.
 * One object answers every question a command asks (heads, bases, ancestry, order), in the
 * manner of Alembic's RevisionMap. Building it checks the graph, so a broken folder is refused
 * before any SQL runs.
 */
import { GraphError } from './errors.ts';
import { BASE, type Migration, type Revision } from './migration.ts';

const MIN_PREFIX = 4;

export class RevisionGraph {
  /** Parents (and dependencies) before children; among independent revisions, by file name. */
  readonly order: readonly Revision[];
  /**
   * Revisions no other revision names as its parent: the tips of the branches. A revision others
   * only depend on (`depends_on`) stays a head, as in Alembic (its "effective head").
   */
  readonly heads: readonly Revision[];
  /** Revisions without parents. */
  readonly bases: readonly Revision[];
  private readonly byRevision: ReadonlyMap<Revision, Migration>;
  private readonly childrenOf: ReadonlyMap<Revision, readonly Revision[]>;
  private readonly dependentsOf: ReadonlyMap<Revision, readonly Revision[]>;
  private readonly labelOwners: ReadonlyMap<string, Revision>;
  private readonly replacements: ReadonlyMap<Revision, Revision>;
  private readonly position: ReadonlyMap<Revision, number>;
  private propagatedLabels: Map<Revision, string[]> | undefined;

  private constructor(
    byRevision: Map<Revision, Migration>,
    labelOwners: Map<string, Revision>,
    replacements: Map<Revision, Revision>,
  ) {
    this.byRevision = byRevision;
    this.labelOwners = labelOwners;
    this.replacements = replacements;
    this.childrenOf = childrenIndex(byRevision, (migration) => migration.downRevisions);
    this.dependentsOf = childrenIndex(byRevision, (migration) => migration.dependsOn ?? []);
    this.order = topologicalOrder(byRevision, (revision) => {
      const dependents = this.dependents(revision);
      return dependents.length === 0 ? this.children(revision) : [...this.children(revision), ...dependents];
    });
    this.position = new Map(this.order.map((revision, index) => [revision, index]));
    this.heads = this.order.filter((revision) => (this.childrenOf.get(revision) ?? []).length === 0);
    this.bases = this.order.filter((revision) => this.get(revision).downRevisions.length === 0);
  }

  /**
   * Builds and checks the graph: duplicate revisions, unknown parents, branch labels used twice
   * (or equal to a revision id), depends_on naming nothing, and cycles (through parents or
   * depends_on) are errors. Each depends_on that names a branch label is replaced by the
   * revision the label is on.
   */
  static from(migrations: readonly Migration[]): RevisionGraph {
    const byRevision = new Map<Revision, Migration>();
    for (const migration of migrations) {
      const existing = byRevision.get(migration.revision);
      if (existing) {
        throw new GraphError(
          'duplicate-revision',
          `revision ${migration.revision} is defined twice, by ${existing.source} and ${migration.source}; ` +
            'give one of them a new id (rds-migrate create makes a fresh one) and fix the down_revision of its children',
          [migration.revision],
        );
      }
      byRevision.set(migration.revision, migration);
    }
    const replacements = replacementIndex(byRevision);
    for (const migration of migrations) {
      for (const parent of migration.downRevisions) {
        if (byRevision.has(parent)) continue;
        const squash = replacements.get(parent);
        if (squash) {
          throw new GraphError(
            'unknown-parent',
            `${migration.source} (revision ${migration.revision}) names down_revision ${parent}, which ` +
              `${byRevision.get(squash)?.source} (revision ${squash}) squashed; only its last revision stays: ` +
              `point down_revision at ${squash}`,
            [migration.revision, parent],
          );
        }
        throw new GraphError(
          'unknown-parent',
          `${migration.source} (revision ${migration.revision}) names down_revision ${parent}, which no migration defines; ` +
            'restore the missing migration or point down_revision at an existing one (rds-migrate heads lists them)',
          [migration.revision, parent],
        );
      }
    }
    const labelOwners = labelIndex(byRevision);
    for (const migration of migrations) {
      if (!migration.dependsOn || migration.dependsOn.length === 0) continue;
      const resolved = resolveDependencies(migration, byRevision, labelOwners);
      if (resolved !== migration.dependsOn)
        byRevision.set(migration.revision, { ...migration, dependsOn: resolved });
    }
    return new RevisionGraph(byRevision, labelOwners, replacements);
  }

  /** The squash that replaces `revision` (its `replaces` names it), if one does. */
  replacedBy(revision: Revision): Revision | undefined {
    return this.replacements.get(revision);
  }

  get size(): number {
    return this.byRevision.size;
  }

  has(revision: Revision): boolean {
    return this.byRevision.has(revision);
  }

  get(revision: Revision): Migration {
    const migration = this.byRevision.get(revision);
    if (!migration) {
      throw new GraphError('unknown-revision', `no migration has revision ${revision}`, [revision]);
    }
    return migration;
  }

  /** The revisions that name `revision` as a parent. */
  children(revision: Revision): readonly Revision[] {
    return this.childrenOf.get(revision) ?? [];
  }

  /** The revisions `revision` depends on (`depends_on`), as revision ids. */
  dependencies(revision: Revision): readonly Revision[] {
    return this.get(revision).dependsOn ?? [];
  }

  /** The revisions that depend on `revision` (`depends_on`). */
  dependents(revision: Revision): readonly Revision[] {
    return this.dependentsOf.get(revision) ?? [];
  }

  /** The revision a branch label is on, or undefined. */
  labelOwner(label: string): Revision | undefined {
    return this.labelOwners.get(label);
  }

  /** Whether any migration carries a branch label. */
  get hasLabels(): boolean {
    return this.labelOwners.size > 0;
  }

  /**
   * The branch labels that apply to `revision`, as Alembic applies them: a label names its own
   * revision, every revision that descends from it, and its ancestors back to (not including)
   * the branch point or merge before it.
   */
  branchLabels(revision: Revision): readonly string[] {
    this.propagatedLabels ??= this.propagateLabels();
    return this.propagatedLabels.get(revision) ?? [];
  }

  /** A head other revisions depend on: Alembic's "effective head". */
  isEffectiveHead(revision: Revision): boolean {
    return this.heads.includes(revision) && this.dependents(revision).length > 0;
  }

  /**
   * Turns one name into a revision: `base`, `head` (the single head), a full id (of any
   * length), a branch label (the revision it is on), or a unique prefix of 4+ characters of an
   * id. `within`, when given, limits the prefixes considered (a branch's revisions). Targets with
   * `@`, `+` or `-` are target.ts's.
   */
  resolve(name: string, within?: ReadonlySet<Revision>): Revision {
    if (name === BASE) return BASE;
    if (name === 'head') return this.singleHead();
    if (this.byRevision.has(name)) return name;
    const owner = this.labelOwners.get(name);
    if (owner) return owner;
    const matches =
      name.length >= MIN_PREFIX
        ? this.order.filter((revision) => revision.startsWith(name) && (!within || within.has(revision)))
        : [];
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) {
      throw new GraphError(
        'ambiguous-revision',
        `'${name}' matches several revisions (${matches.join(', ')}); type more of the id`,
        matches,
      );
    }
    if (name.length < MIN_PREFIX) {
      throw new GraphError(
        'unknown-revision',
        `no revision or branch label is called '${name}', and '${name}' is too short to be a prefix: ` +
          `type the whole id, or ${MIN_PREFIX} or more characters of it (rds-migrate history lists them)`,
        [name],
      );
    }
    throw new GraphError(
      'unknown-revision',
      `no migration has revision '${name}', and no branch label is called so; rds-migrate history lists them`,
      [name],
    );
  }

  /** The one head, or an error that suggests `merge` (or a branch's head) when there are several. */
  singleHead(): Revision {
    if (this.heads.length === 1 && this.heads[0]) return this.heads[0];
    if (this.heads.length === 0) {
      throw new GraphError(
        'no-migrations',
        'there are no migrations yet; create one with rds-migrate create "message"',
      );
    }
    const labelled = this.hasLabels ? ", a branch's head ('<label>@head')" : '';
    throw new GraphError(
      'multiple-heads',
      `multiple head revisions are present (${this.heads.join(', ')}); join them with ` +
        `rds-migrate merge -m "merge heads", or name the one you mean${labelled} (or 'heads' for all)`,
      this.heads,
    );
  }

  /** Every revision in `from` and all their ancestors, through parents and dependencies. */
  ancestors(from: Iterable<Revision>): Set<Revision> {
    return this.closure(from, (revision) => {
      const migration = this.get(revision);
      return migration.dependsOn?.length
        ? [...migration.downRevisions, ...migration.dependsOn]
        : migration.downRevisions;
    });
  }

  /** `revision` and everything that descends from it through parents (not dependencies). */
  descendants(revision: Revision): Set<Revision> {
    return this.closure([revision], (next) => this.children(next));
  }

  /**
   * `roots` and every revision that needs one of them: their descendants through parents and
   * dependencies. What must be reverted when the roots are.
   */
  requiredBy(roots: Iterable<Revision>): Set<Revision> {
    return this.closure(roots, (revision) => [...this.children(revision), ...this.dependents(revision)]);
  }

  /**
   * The branch of `revision`, as Alembic's `<branch>@...` means it: its ancestors and its
   * descendants through parents (dependencies join no branch).
   */
  lineage(revision: Revision): Set<Revision> {
    const lineage = this.lineageBelow(revision);
    for (const descendant of this.descendants(revision)) lineage.add(descendant);
    return lineage;
  }

  /** `revision` and its ancestors through parents (not dependencies): the way up to it. */
  lineageBelow(revision: Revision): Set<Revision> {
    return this.closure([revision], (next) => this.get(next).downRevisions);
  }

  /**
   * The current heads that no applied revision depends on: where steps from the current state
   * start. The database lists a revision others only depend on among its heads; Alembic leaves
   * it out of alembic_version, so `-1` there counts from the revision that depends on it.
   */
  realHeads(current: readonly Revision[]): Revision[] {
    const applied = this.ancestors(current.filter((head) => this.has(head)));
    return [...new Set(current)].filter(
      (head) => !this.has(head) || !this.dependents(head).some((dependent) => applied.has(dependent)),
    );
  }

  /** The members of `set` that no other member descends from (through parents). */
  headsOf(set: ReadonlySet<Revision>): Revision[] {
    return this.sorted(set).filter((revision) => !this.children(revision).some((child) => set.has(child)));
  }

  /** `set` in graph order: parents and dependencies before children. */
  sorted(set: Iterable<Revision>): Revision[] {
    return [...set].sort((a, b) => (this.position.get(a) ?? 0) - (this.position.get(b) ?? 0));
  }

  private closure(
    from: Iterable<Revision>,
    next: (revision: Revision) => readonly Revision[],
  ): Set<Revision> {
    const seen = new Set<Revision>();
    const stack = [...from].filter((revision) => revision !== BASE);
    while (stack.length > 0) {
      const revision = stack.pop() as Revision;
      if (seen.has(revision)) continue;
      seen.add(revision);
      stack.push(...next(revision));
    }
    return seen;
  }

  private propagateLabels(): Map<Revision, string[]> {
    const labels = new Map<Revision, string[]>();
    const add = (revision: Revision, label: string): void => {
      const list = labels.get(revision) ?? [];
      if (!list.includes(label)) list.push(label);
      labels.set(revision, list);
    };
    for (const [label, owner] of this.labelOwners) {
      for (const revision of this.descendants(owner)) add(revision, label);
      let current = owner;
      for (;;) {
        const parents = this.get(current).downRevisions;
        const parent = parents[0];
        if (parents.length !== 1 || parent === undefined) break;
        const fanOut = this.children(parent).length + this.dependents(parent).length;
        if (fanOut > 1 || this.get(parent).downRevisions.length > 1) break;
        add(parent, label);
        current = parent;
      }
    }
    for (const list of labels.values()) list.sort();
    return labels;
  }
}

function childrenIndex(
  byRevision: ReadonlyMap<Revision, Migration>,
  edges: (migration: Migration) => readonly Revision[],
): Map<Revision, Revision[]> {
  const children = new Map<Revision, Revision[]>();
  for (const migration of byRevision.values()) {
    // One edge needs no dedup: most migrations have a single parent and no depends_on.
    const parents = edges(migration);
    for (const parent of parents.length < 2 ? parents : new Set(parents)) {
      const list = children.get(parent) ?? [];
      list.push(migration.revision);
      children.set(parent, list);
    }
  }
  return children;
}

/** Each branch label's revision; a label used twice, or equal to a revision id, is an error. */
/**
 * Which squash replaces each replaced revision. A replaced revision must not be a migration of
 * the folder too (its file belongs in the squashed/ folder the loader skips), and only one squash
 * may replace it.
 */
function replacementIndex(byRevision: ReadonlyMap<Revision, Migration>): Map<Revision, Revision> {
  const replacedBy = new Map<Revision, Revision>();
  for (const migration of byRevision.values()) {
    for (const replaced of migration.replaces ?? []) {
      const present = byRevision.get(replaced);
      if (present) {
        throw new GraphError(
          'replaced-still-present',
          `${present.source} (revision ${replaced}) is squashed into ${migration.source} (revision ` +
            `${migration.revision}, its 'replaces'), yet still in the folder; move it to squashed/ in the ` +
            'migrations folder (the loader skips that folder) or delete it',
          [replaced, migration.revision],
        );
      }
      const other = replacedBy.get(replaced);
      if (other) {
        throw new GraphError(
          'replaced-twice',
          `revision ${replaced} is replaced by two squashes, ${byRevision.get(other)?.source} and ${migration.source}; ` +
            'keep one of them',
          [replaced, other, migration.revision],
        );
      }
      replacedBy.set(replaced, migration.revision);
    }
  }
  return replacedBy;
}

function labelIndex(byRevision: ReadonlyMap<Revision, Migration>): Map<string, Revision> {
  const owners = new Map<string, Revision>();
  for (const migration of byRevision.values()) {
    for (const label of migration.branchLabels ?? []) {
      const other = owners.get(label);
      if (other !== undefined || byRevision.has(label)) {
        const where =
          other === undefined
            ? `is also the id of revision ${label} (${byRevision.get(label)?.source})`
            : other === migration.revision
              ? 'is listed twice in its branch_labels'
              : `is already the label of revision ${other} (${byRevision.get(other)?.source})`;
        throw new GraphError(
          'duplicate-label',
          `${migration.source} (revision ${migration.revision}) has branch label '${label}', which ${where}; ` +
            'a label names one branch: rename one of them',
          [migration.revision, ...(other === undefined ? [] : [other])],
        );
      }
      owners.set(label, migration.revision);
    }
  }
  return owners;
}

/** A migration's depends_on as revision ids (labels replaced); the same array when nothing changes. */
function resolveDependencies(
  migration: Migration,
  byRevision: ReadonlyMap<Revision, Migration>,
  labelOwners: ReadonlyMap<string, Revision>,
): readonly Revision[] {
  const names = migration.dependsOn ?? [];
  const resolved = names.map((name) => {
    const revision = byRevision.has(name) ? name : labelOwners.get(name);
    if (revision === undefined) {
      throw new GraphError(
        'unknown-dependency',
        `${migration.source} (revision ${migration.revision}) names depends_on ${name}, which is neither a revision ` +
          'nor a branch label here; restore the migration it means, or fix depends_on (rds-migrate history lists the revisions)',
        [migration.revision, name],
      );
    }
    if (revision === migration.revision) {
      throw new GraphError(
        'cycle',
        `${migration.source} (revision ${migration.revision}) depends on itself (depends_on ${name}); remove that entry`,
        [migration.revision],
      );
    }
    return revision;
  });
  const unique = [...new Set(resolved)];
  return unique.length === names.length && unique.every((revision, index) => revision === names[index])
    ? names
    : unique;
}

/** Kahn's algorithm with a stable tie-break (file name, then id); leftovers are a cycle. */
function topologicalOrder(
  byRevision: ReadonlyMap<Revision, Migration>,
  releasedBy: (revision: Revision) => readonly Revision[],
): Revision[] {
  const byName = (a: Revision, b: Revision): number => {
    const sa = byRevision.get(a)?.source ?? '';
    const sb = byRevision.get(b)?.source ?? '';
    return sa < sb ? -1 : sa > sb ? 1 : a < b ? -1 : a > b ? 1 : 0;
  };
  const waiting = new Map<Revision, number>();
  for (const migration of byRevision.values()) {
    waiting.set(migration.revision, prerequisites(migration).length);
  }
  const ready = [...waiting].filter(([, count]) => count === 0).map(([revision]) => revision);
  ready.sort(byName);
  const order: Revision[] = [];
  while (ready.length > 0) {
    const revision = ready.shift() as Revision;
    order.push(revision);
    const released: Revision[] = [];
    const next = releasedBy(revision);
    for (const child of next.length < 2 ? next : new Set(next)) {
      const left = (waiting.get(child) ?? 0) - 1;
      waiting.set(child, left);
      if (left === 0) released.push(child);
    }
    if (released.length > 0) {
      ready.push(...released);
      ready.sort(byName);
    }
  }
  if (order.length < byRevision.size) {
    const placed = new Set(order);
    const stuck = [...byRevision.keys()].filter((revision) => !placed.has(revision));
    const cycle = findCycle(stuck, byRevision);
    const throughDependency = cycle.some((revision, index) => {
      const next = cycle[index + 1];
      return next !== undefined && !byRevision.get(revision)?.downRevisions.includes(next);
    });
    throw new GraphError(
      'cycle',
      throughDependency
        ? `the migrations form a cycle through depends_on: ${cycle.join(' -> ')}; a revision cannot need ` +
            'itself, fix the down_revision or depends_on of one of them'
        : `the migrations form a cycle: ${cycle.join(' -> ')}; a revision cannot descend from itself, ` +
            'fix the down_revision of one of them',
      cycle,
    );
  }
  return order;
}

/** What must be applied before a migration: its parents and its dependencies, each once. */
function prerequisites(migration: Migration): readonly Revision[] {
  if (!migration.dependsOn?.length && migration.downRevisions.length < 2) return migration.downRevisions;
  return [...new Set([...migration.downRevisions, ...(migration.dependsOn ?? [])])];
}

/** A loop among the revisions Kahn's algorithm could not place, as `a -> b -> a` (each needs the next). */
function findCycle(stuck: readonly Revision[], byRevision: ReadonlyMap<Revision, Migration>): Revision[] {
  const inStuck = new Set(stuck);
  const start = stuck[0] as Revision;
  const path: Revision[] = [];
  const seenAt = new Map<Revision, number>();
  let current: Revision | undefined = start;
  while (current !== undefined && !seenAt.has(current)) {
    seenAt.set(current, path.length);
    path.push(current);
    const migration = byRevision.get(current);
    current = migration ? prerequisites(migration).find((parent) => inStuck.has(parent)) : undefined;
  }
  if (current === undefined) return stuck.slice();
  const loop = path.slice(seenAt.get(current));
  return [...loop, current];
}
