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
  /** Parents before children; among independent revisions, by file name. */
  readonly order: readonly Revision[];
  readonly heads: readonly Revision[];
  readonly bases: readonly Revision[];
  private readonly byRevision: ReadonlyMap<Revision, Migration>;
  private readonly childrenOf: ReadonlyMap<Revision, readonly Revision[]>;
  private readonly position: ReadonlyMap<Revision, number>;

  private constructor(byRevision: Map<Revision, Migration>) {
    this.byRevision = byRevision;
    this.childrenOf = childrenIndex(byRevision);
    this.order = topologicalOrder(byRevision, this.childrenOf);
    this.position = new Map(this.order.map((revision, index) => [revision, index]));
    this.heads = this.order.filter((revision) => (this.childrenOf.get(revision) ?? []).length === 0);
    this.bases = this.order.filter((revision) => this.get(revision).downRevisions.length === 0);
  }

  /** Builds and checks the graph: duplicate revisions, unknown parents and cycles are errors. */
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
    for (const migration of migrations) {
      for (const parent of migration.downRevisions) {
        if (!byRevision.has(parent)) {
          throw new GraphError(
            'unknown-parent',
            `${migration.source} (revision ${migration.revision}) names down_revision ${parent}, which no migration defines; ` +
              'restore the missing migration or point down_revision at an existing one (rds-migrate heads lists them)',
            [migration.revision, parent],
          );
        }
      }
    }
    return new RevisionGraph(byRevision);
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

  children(revision: Revision): readonly Revision[] {
    return this.childrenOf.get(revision) ?? [];
  }

  /**
   * Turns what a user typed into one revision: a full id, a unique prefix of 4+ characters,
   * or `head` (the single head). `base` stays `base`.
   */
  resolve(spec: string): Revision {
    if (spec === BASE) return BASE;
    if (spec === 'head') return this.singleHead();
    if (this.byRevision.has(spec)) return spec;
    const matches =
      spec.length >= MIN_PREFIX ? this.order.filter((revision) => revision.startsWith(spec)) : [];
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) {
      throw new GraphError(
        'ambiguous-revision',
        `'${spec}' matches several revisions (${matches.join(', ')}); type more of the id`,
        matches,
      );
    }
    if (spec.length < MIN_PREFIX) {
      throw new GraphError(
        'unknown-revision',
        `'${spec}' is too short: type ${MIN_PREFIX} or more characters of the revision (rds-migrate history lists them)`,
        [spec],
      );
    }
    throw new GraphError(
      'unknown-revision',
      `no migration has revision '${spec}'; rds-migrate history lists them`,
      [spec],
    );
  }

  /** The one head, or an error that suggests `merge` when there are several. */
  singleHead(): Revision {
    if (this.heads.length === 1 && this.heads[0]) return this.heads[0];
    if (this.heads.length === 0) {
      throw new GraphError(
        'no-migrations',
        'there are no migrations yet; create one with rds-migrate create "message"',
      );
    }
    throw new GraphError(
      'multiple-heads',
      `multiple head revisions are present (${this.heads.join(', ')}); join them with ` +
        `rds-migrate merge -m "merge heads", or name the one you mean (or 'heads' for all)`,
      this.heads,
    );
  }

  /** Every revision in `from` and all their ancestors. */
  ancestors(from: Iterable<Revision>): Set<Revision> {
    const seen = new Set<Revision>();
    const stack = [...from].filter((revision) => revision !== BASE);
    while (stack.length > 0) {
      const revision = stack.pop() as Revision;
      if (seen.has(revision)) continue;
      seen.add(revision);
      stack.push(...this.get(revision).downRevisions);
    }
    return seen;
  }

  /** `revision` and everything that descends from it. */
  descendants(revision: Revision): Set<Revision> {
    const seen = new Set<Revision>();
    const stack = [revision];
    while (stack.length > 0) {
      const next = stack.pop() as Revision;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...this.children(next));
    }
    return seen;
  }

  /** The members of `set` that no other member descends from. */
  headsOf(set: ReadonlySet<Revision>): Revision[] {
    return this.sorted(set).filter((revision) => !this.children(revision).some((child) => set.has(child)));
  }

  /** `set` in graph order: parents before children. */
  sorted(set: Iterable<Revision>): Revision[] {
    return [...set].sort((a, b) => (this.position.get(a) ?? 0) - (this.position.get(b) ?? 0));
  }
}

function childrenIndex(byRevision: ReadonlyMap<Revision, Migration>): Map<Revision, Revision[]> {
  const children = new Map<Revision, Revision[]>();
  for (const migration of byRevision.values()) {
    for (const parent of migration.downRevisions) {
      const list = children.get(parent) ?? [];
      list.push(migration.revision);
      children.set(parent, list);
    }
  }
  return children;
}

/** Kahn's algorithm with a stable tie-break (file name, then id); leftovers are a cycle. */
function topologicalOrder(
  byRevision: ReadonlyMap<Revision, Migration>,
  childrenOf: ReadonlyMap<Revision, readonly Revision[]>,
): Revision[] {
  const byName = (a: Revision, b: Revision): number => {
    const sa = byRevision.get(a)?.source ?? '';
    const sb = byRevision.get(b)?.source ?? '';
    return sa < sb ? -1 : sa > sb ? 1 : a < b ? -1 : a > b ? 1 : 0;
  };
  const waiting = new Map<Revision, number>();
  for (const migration of byRevision.values()) {
    waiting.set(migration.revision, new Set(migration.downRevisions).size);
  }
  const ready = [...waiting].filter(([, count]) => count === 0).map(([revision]) => revision);
  ready.sort(byName);
  const order: Revision[] = [];
  while (ready.length > 0) {
    const revision = ready.shift() as Revision;
    order.push(revision);
    const released: Revision[] = [];
    for (const child of new Set(childrenOf.get(revision) ?? [])) {
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
    const stuck = [...byRevision.keys()].filter((revision) => !order.includes(revision));
    const cycle = findCycle(stuck, byRevision);
    throw new GraphError(
      'cycle',
      `the migrations form a cycle: ${cycle.join(' -> ')}; a revision cannot descend from itself, ` +
        'fix the down_revision of one of them',
      cycle,
    );
  }
  return order;
}

function findCycle(stuck: readonly Revision[], byRevision: ReadonlyMap<Revision, Migration>): Revision[] {
  const inStuck = new Set(stuck);
  const start = stuck[0] as Revision;
  const path: Revision[] = [];
  const seenAt = new Map<Revision, number>();
  let current: Revision | undefined = start;
  while (current !== undefined && !seenAt.has(current)) {
    seenAt.set(current, path.length);
    path.push(current);
    current = byRevision.get(current)?.downRevisions.find((parent) => inStuck.has(parent));
  }
  if (current === undefined) return stuck.slice();
  const loop = path.slice(seenAt.get(current));
  return [...loop, current].map((revision) => revision);
}
