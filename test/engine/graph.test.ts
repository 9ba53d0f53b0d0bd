import { describe, expect, it } from 'vitest';
import { GraphError } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { sqlMigration, tableChain } from '../support/migrations.ts';

function graphError(build: () => unknown): GraphError {
  try {
    build();
  } catch (error) {
    if (error instanceof GraphError) return error;
    throw error;
  }
  throw new Error('expected a GraphError');
}

describe('RevisionGraph', () => {
  it('orders a chain parents first and finds its single head and base', () => {
    const graph = RevisionGraph.from(tableChain('aaaa01', 'aaaa02', 'aaaa03').reverse());
    expect(graph.order).toEqual(['aaaa01', 'aaaa02', 'aaaa03']);
    expect(graph.heads).toEqual(['aaaa03']);
    expect(graph.bases).toEqual(['aaaa01']);
    expect(graph.singleHead()).toBe('aaaa03');
  });

  it('refuses a duplicate revision, naming both files', () => {
    const error = graphError(() =>
      RevisionGraph.from([
        sqlMigration('dup001', 'SELECT 1'),
        { ...sqlMigration('dup001', 'SELECT 2'), source: 'other.sql' },
      ]),
    );
    expect(error.problem).toBe('duplicate-revision');
    expect(error.message).toContain('dup001.sql');
    expect(error.message).toContain('other.sql');
  });

  it('refuses a parent no migration defines', () => {
    const error = graphError(() =>
      RevisionGraph.from([sqlMigration('child1', 'SELECT 1', { parents: ['gone01'] })]),
    );
    expect(error.problem).toBe('unknown-parent');
    expect(error.message).toContain('gone01');
    expect(error.revisions).toEqual(['child1', 'gone01']);
  });

  it('refuses a cycle and shows it', () => {
    const error = graphError(() =>
      RevisionGraph.from([
        sqlMigration('base01', 'SELECT 1'),
        sqlMigration('cyc001', 'SELECT 1', { parents: ['base01', 'cyc002'] }),
        sqlMigration('cyc002', 'SELECT 1', { parents: ['cyc001'] }),
      ]),
    );
    expect(error.problem).toBe('cycle');
    expect(error.message).toMatch(/cyc00[12] -> cyc00[12] -> cyc00[12]/);
  });

  it('suggests merge when a single head is needed and there are two', () => {
    const graph = RevisionGraph.from([
      sqlMigration('root01', 'SELECT 1'),
      sqlMigration('left01', 'SELECT 1', { parents: ['root01'] }),
      sqlMigration('rght01', 'SELECT 1', { parents: ['root01'] }),
    ]);
    const error = graphError(() => graph.singleHead());
    expect(error.problem).toBe('multiple-heads');
    expect(error.message).toContain('rds-migrate merge');
    expect(graph.heads).toEqual(['left01', 'rght01']);
  });

  it('resolves unique prefixes and refuses ambiguous ones', () => {
    const graph = RevisionGraph.from(tableChain('abcd1111', 'abcd2222'));
    expect(graph.resolve('abcd1')).toBe('abcd1111');
    expect(graph.resolve('head')).toBe('abcd2222');
    expect(graphError(() => graph.resolve('abcd')).problem).toBe('ambiguous-revision');
    expect(graphError(() => graph.resolve('ffff')).problem).toBe('unknown-revision');
  });

  it('treats a merge revision as the single head of two branches', () => {
    const graph = RevisionGraph.from([
      sqlMigration('root01', 'SELECT 1'),
      sqlMigration('left01', 'SELECT 1', { parents: ['root01'] }),
      sqlMigration('rght01', 'SELECT 1', { parents: ['root01'] }),
      sqlMigration('merge1', 'SELECT 1', { parents: ['left01', 'rght01'] }),
    ]);
    expect(graph.singleHead()).toBe('merge1');
    expect([...graph.ancestors(['merge1'])].sort()).toEqual(['left01', 'merge1', 'rght01', 'root01']);
    expect(graph.order.indexOf('merge1')).toBe(3);
  });

  it('takes a short id as it is, a label as its revision, and a prefix only from four characters', () => {
    const graph = RevisionGraph.from([
      sqlMigration('a', 'SELECT 1'),
      sqlMigration('abcd', 'SELECT 1', { parents: ['a'] }),
      { ...sqlMigration('abcd1111', 'SELECT 1', { parents: ['abcd'] }), branchLabels: ['abc'] },
    ]);
    expect(graph.resolve('a')).toBe('a');
    expect(graph.resolve('abcd')).toBe('abcd');
    expect(graph.resolve('abc')).toBe('abcd1111');
    expect(graph.resolve('abcd1')).toBe('abcd1111');
    expect(graphError(() => graph.resolve('ab')).message).toMatch(
      /no revision or branch label is called 'ab', and 'ab' is too short to be a prefix: type the whole id, or 4 or more/,
    );
  });

  it('orders a dependency before what depends on it, without making it a parent: it stays a head', () => {
    // main: m1 -> m2; networking: n1 -> n2, which depends on m2
    const graph = RevisionGraph.from([
      sqlMigration('n1', 'SELECT 1'),
      { ...sqlMigration('n2', 'SELECT 1', { parents: ['n1'] }), dependsOn: ['m2'] },
      sqlMigration('m1', 'SELECT 1'),
      sqlMigration('m2', 'SELECT 1', { parents: ['m1'] }),
    ]);
    expect(graph.order.indexOf('m2')).toBeLessThan(graph.order.indexOf('n2'));
    expect(graph.heads).toEqual(['m2', 'n2']);
    expect(graph.isEffectiveHead('m2')).toBe(true);
    expect([...graph.ancestors(['n2'])].sort()).toEqual(['m1', 'm2', 'n1', 'n2']);
    expect(graph.dependents('m2')).toEqual(['n2']);
    expect(graph.children('m2')).toEqual([]);
  });

  it('resolves a depends_on that names a branch label to the labelled revision', () => {
    const graph = RevisionGraph.from([
      { ...sqlMigration('lib1', 'SELECT 1'), branchLabels: ['library'] },
      { ...sqlMigration('app1', 'SELECT 1'), dependsOn: ['library'] },
    ]);
    expect(graph.dependencies('app1')).toEqual(['lib1']);
    expect(graph.get('app1').dependsOn).toEqual(['lib1']);
  });

  it('refuses a depends_on that names nothing, with what to do', () => {
    const error = graphError(() =>
      RevisionGraph.from([{ ...sqlMigration('app1', 'SELECT 1'), dependsOn: ['gone01'] }]),
    );
    expect(error.problem).toBe('unknown-dependency');
    expect(error.revisions).toEqual(['app1', 'gone01']);
    expect(error.message).toMatch(
      /app1\.sql \(revision app1\) names depends_on gone01, which is neither a revision nor a branch label here; restore/,
    );
  });

  it('refuses a cycle through depends_on, and a migration that depends on itself', () => {
    const cycle = graphError(() =>
      RevisionGraph.from([
        sqlMigration('a', 'SELECT 1'),
        { ...sqlMigration('b', 'SELECT 1', { parents: ['a'] }), dependsOn: ['c'] },
        sqlMigration('c', 'SELECT 1', { parents: ['b'] }),
      ]),
    );
    expect(cycle.problem).toBe('cycle');
    expect(cycle.message).toMatch(/a cycle through depends_on: (b -> c -> b|c -> b -> c)/);
    const self = graphError(() =>
      RevisionGraph.from([{ ...sqlMigration('a', 'SELECT 1'), dependsOn: ['a'] }]),
    );
    expect(self.message).toMatch(/depends on itself/);
  });

  it('refuses a branch label used twice, or that is also a revision id', () => {
    const twice = graphError(() =>
      RevisionGraph.from([
        { ...sqlMigration('a', 'SELECT 1'), branchLabels: ['billing'] },
        { ...sqlMigration('b', 'SELECT 1'), branchLabels: ['billing'] },
      ]),
    );
    expect(twice.problem).toBe('duplicate-label');
    expect(twice.message).toMatch(/branch label 'billing', which is already the label of revision a/);
    const clash = graphError(() =>
      RevisionGraph.from([
        sqlMigration('a', 'SELECT 1'),
        { ...sqlMigration('b', 'SELECT 1', { parents: ['a'] }), branchLabels: ['a'] },
      ]),
    );
    expect(clash.message).toMatch(/is also the id of revision a/);
  });

  it('applies a label to its revision, its descendants and its ancestors back to the branch point', () => {
    // a -> b -> c -> { d (billing) -> e, f }
    const graph = RevisionGraph.from([
      sqlMigration('a', 'SELECT 1'),
      sqlMigration('b', 'SELECT 1', { parents: ['a'] }),
      sqlMigration('c', 'SELECT 1', { parents: ['b'] }),
      { ...sqlMigration('d', 'SELECT 1', { parents: ['c'] }), branchLabels: ['billing'] },
      sqlMigration('e', 'SELECT 1', { parents: ['d'] }),
      sqlMigration('f', 'SELECT 1', { parents: ['c'] }),
    ]);
    expect(graph.order.filter((revision) => graph.branchLabels(revision).includes('billing'))).toEqual([
      'd',
      'e',
    ]);
    expect([...graph.lineage('d')].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    const root = RevisionGraph.from([
      sqlMigration('a', 'SELECT 1'),
      { ...sqlMigration('b', 'SELECT 1', { parents: ['a'] }), branchLabels: ['main'] },
    ]);
    expect(root.branchLabels('a')).toEqual(['main']);
  });
});
