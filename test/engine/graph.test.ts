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
});
