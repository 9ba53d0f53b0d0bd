import { describe, expect, it } from 'vitest';
import { GraphError } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { isValidName, parseTarget, resolveRevision, resolveTarget } from '../../lib/engine/target.ts';
import { sqlMigration } from '../support/migrations.ts';

function problemOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof GraphError) return `${error.problem}: ${error.message}`;
    throw error;
  }
  throw new Error('expected a GraphError');
}

describe('parseTarget', () => {
  it.each([
    ['3f2a9c1b', { symbol: '3f2a9c1b' }],
    ['a', { symbol: 'a' }],
    ['head', { symbol: 'head' }],
    ['billing@head', { branch: 'billing', symbol: 'head' }],
    ['billing@base', { branch: 'billing', symbol: 'base' }],
    ['3f2a@1b2c', { branch: '3f2a', symbol: '1b2c' }],
    ['-1', { steps: -1 }],
    ['+2', { steps: 2 }],
    ['ae10+2', { symbol: 'ae10', steps: 2 }],
    ['head-1', { symbol: 'head', steps: -1 }],
    ['base+2', { symbol: 'base', steps: 2 }],
    ['billing@+1', { branch: 'billing', steps: 1 }],
    ['billing@head-2', { branch: 'billing', symbol: 'head', steps: -2 }],
    ['1-1', { symbol: '1', steps: -1 }],
  ])('reads %s', (text, parsed) => {
    expect(parseTarget(text)).toEqual({ text, ...parsed });
  });

  it.each(['', 'a b', 'a@b@c', '@head', 'head@', 'a+', '+x', 'a:b', 'a.b'])(
    'refuses %j, listing the forms',
    (text) => {
      expect(problemOf(() => parseTarget(text))).toMatch(
        /^invalid-target: .*-1, \+2, 3f2a\+2, head-1, base\+2/,
      );
    },
  );

  it('refuses a step of 0', () => {
    expect(problemOf(() => parseTarget('+0'))).toMatch(/give 1 or more/);
  });

  it('keeps ids and labels apart from the syntax: no @, +, -, :, and no reserved word in any case', () => {
    expect(['a', '1', 'ae1027a6acf', 'Billing_2'].every(isValidName)).toBe(true);
    expect(['a-b', 'a+1', 'x@y', 'a:b', 'Head', 'BASE', '', 'x'.repeat(65)].some(isValidName)).toBe(false);
  });
});

// a -> b -> c1 (billing) -> d1
//        \-> c2 -> d2
const branched = RevisionGraph.from([
  sqlMigration('a', 'SELECT 1'),
  sqlMigration('b', 'SELECT 1', { parents: ['a'] }),
  { ...sqlMigration('c1', 'SELECT 1', { parents: ['b'] }), branchLabels: ['billing'] },
  sqlMigration('d1', 'SELECT 1', { parents: ['c1'] }),
  sqlMigration('c2', 'SELECT 1', { parents: ['b'] }),
  sqlMigration('d2', 'SELECT 1', { parents: ['c2'] }),
]);

describe('resolveTarget', () => {
  it('names the revisions of absolute, labelled and relative targets', () => {
    const at = (text: string, current?: string[]) =>
      resolveTarget(branched, text, { current, direction: 'at' }).revisions;
    expect(at('billing')).toEqual(['c1']);
    expect(at('billing@head')).toEqual(['d1']);
    expect(at('billing@base')).toEqual([]);
    expect(at('heads')).toEqual(['d1', 'd2']);
    expect(at('d2@heads')).toEqual(['d2']);
    expect(at('d1-2')).toEqual(['b']);
    expect(at('base+2')).toEqual(['b']);
    expect(at('billing@base+3')).toEqual(['c1']);
    expect(at('c2@+1', ['b'])).toEqual(['c2']);
    expect(at('-1', ['d2'])).toEqual(['c2']);
  });

  it('confines a target to the branch it names, and a downward step to the head it counts from', () => {
    expect(resolveTarget(branched, 'billing@b', { direction: 'down' })).toEqual({
      revisions: ['b'],
      branch: 'c1',
    });
    expect(resolveTarget(branched, '-1', { current: ['d2'], direction: 'down' })).toEqual({
      revisions: ['c2'],
      branch: 'd2',
    });
  });

  it('says which branch to name when the graph or the database branches', () => {
    expect(problemOf(() => resolveTarget(branched, 'b+1', { direction: 'up' }))).toMatch(
      /^ambiguous-revision: 'b\+1' is ambiguous: above b the graph branches into c1, c2; .* e\.g\. billing@b\+1/,
    );
    expect(
      problemOf(() => resolveTarget(branched, '-1', { current: ['d1', 'd2'], direction: 'down' })),
    ).toMatch(
      /several heads \(d1 \(billing\), d2\); say which branch: <branch>@-1 or <head>-1, e\.g\. billing@-1 or d1-1/,
    );
    expect(problemOf(() => resolveTarget(branched, 'head', { direction: 'up' }))).toMatch(
      /multiple head revisions .*'<label>@head'/,
    );
  });

  it('refuses steps from the current revision where there is none to count from, and in the wrong direction', () => {
    expect(problemOf(() => resolveTarget(branched, '-1', { direction: 'down' }))).toMatch(
      /not known here; count from a revision instead \(head-1, base\+1, <rev>-1\)/,
    );
    expect(problemOf(() => resolveTarget(branched, '+1', { current: ['a'], direction: 'down' }))).toMatch(
      /use up \+1/,
    );
    expect(problemOf(() => resolveTarget(branched, '-1', { current: ['b'], direction: 'up' }))).toMatch(
      /use down -1/,
    );
  });

  it('refuses a walk past either end, saying how far the graph goes', () => {
    expect(problemOf(() => resolveTarget(branched, 'c2+3', { direction: 'at' }))).toMatch(
      /goes 3 steps up from c2, but the graph ends 1 step up, at d2/,
    );
    expect(problemOf(() => resolveTarget(branched, 'b-3', { direction: 'at' }))).toMatch(
      /goes 3 steps down from b, but base is 2 steps down/,
    );
  });

  it('wants one revision where one is meant', () => {
    expect(resolveRevision(branched, 'billing@head')).toBe('d1');
    expect(resolveRevision(branched, 'base')).toBe('base');
    expect(problemOf(() => resolveRevision(branched, 'heads'))).toMatch(/names several revisions \(d1, d2\)/);
  });
});
