/**
 * The planner's answers and refusals in full: the heads after each step, the mixed plan of a
 * deploy that rolls one branch back and another forward, stamps that keep or purge heads, and the
 * words of every refusal. Pure: in-memory graphs, milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import type { Migration } from '../../lib/engine/migration.ts';
import { type Plan, planDowngrade, planStamp, planTo, planUpgrade } from '../../lib/engine/plan.ts';
import { UnknownRevisionError } from '../../lib/engine/unknown-revisions.ts';
import { graphRefusal } from '../support/graph-refusal.ts';
import { sqlMigration } from '../support/migrations.ts';

interface Extra {
  readonly labels?: string[];
  readonly dependsOn?: string[];
  readonly noDown?: boolean;
  readonly irreversible?: string;
}

function m(revision: string, parents: string[] = [], extra: Extra = {}): Migration {
  return {
    ...sqlMigration(revision, 'SELECT 1', { parents, ...(extra.noDown ? { down: null } : {}) }),
    ...(extra.labels ? { branchLabels: extra.labels } : {}),
    ...(extra.dependsOn ? { dependsOn: extra.dependsOn } : {}),
    ...(extra.irreversible ? { irreversible: extra.irreversible } : {}),
  };
}

/** Each step as `revision direction -> heads after`. */
function stepsOf(plan: Plan): string[] {
  return plan.steps.map(
    (step) => `${step.revision} ${step.direction} -> ${step.headsAfter.join(',') || 'base'}`,
  );
}

/**
 *        a00001 (billing) - a00002
 * root01 <                           > merge1 - top001
 *        b00001 (shop)    - b00002
 */
const diamond = RevisionGraph.from([
  m('root01'),
  m('a00001', ['root01'], { labels: ['billing'] }),
  m('a00002', ['a00001']),
  m('b00001', ['root01'], { labels: ['shop'] }),
  m('b00002', ['b00001']),
  m('merge1', ['a00002', 'b00002']),
  m('top001', ['merge1']),
]);

/** The same fork without the merge: two heads. */
const forked = RevisionGraph.from([
  m('root01'),
  m('a00001', ['root01'], { labels: ['billing'] }),
  m('a00002', ['a00001']),
  m('b00001', ['root01'], { labels: ['shop'] }),
  m('b00002', ['b00001']),
]);

describe('an upgrade', () => {
  it('reports the heads after every step, across a fork and a merge', () => {
    const plan = planUpgrade(diamond, [], 'head');
    expect(stepsOf(plan)).toEqual([
      'root01 up -> root01',
      'a00001 up -> a00001',
      'a00002 up -> a00002',
      'b00001 up -> a00002,b00001',
      'b00002 up -> a00002,b00002',
      'merge1 up -> merge1',
      'top001 up -> top001',
    ]);
    expect(plan.from).toEqual([]);
    expect(plan.to).toEqual(['top001']);
    expect(plan.steps.every((step) => step.migration === diamond.get(step.revision))).toBe(true);
  });

  it('takes several targets at once, and applies only what they lack', () => {
    const plan = planUpgrade(forked, ['a00001'], ['billing@head', 'shop@head']);
    expect(stepsOf(plan)).toEqual([
      'a00002 up -> a00002',
      'b00001 up -> a00002,b00001',
      'b00002 up -> a00002,b00002',
    ]);
    expect(plan).toMatchObject({ from: ['a00001'], to: ['a00002', 'b00002'] });
  });

  it('is empty, from and to the current heads, when the target is applied already', () => {
    expect(planUpgrade(forked, ['a00002', 'b00001'], 'billing@head')).toEqual({
      from: ['a00002', 'b00001'],
      to: ['a00002', 'b00001'],
      steps: [],
    });
    expect(planUpgrade(forked, ['a00002'], 'root01')).toEqual({
      from: ['a00002'],
      to: ['a00002'],
      steps: [],
    });
  });

  it('applies what one target lacks when another target is applied already', () => {
    expect(stepsOf(planUpgrade(forked, ['a00001'], ['root01', 'b00001']))).toEqual([
      'b00001 up -> a00001,b00001',
    ]);
  });

  it('applies a dependency on another branch before what needs it', () => {
    const graph = RevisionGraph.from([m('core01'), m('feat01', [], { dependsOn: ['core01'] })]);
    expect(stepsOf(planUpgrade(graph, [], 'feat01'))).toEqual([
      'core01 up -> core01',
      'feat01 up -> core01,feat01',
    ]);
  });

  it('refuses a database at revisions the graph lacks, naming them and the purge', () => {
    let error: unknown;
    try {
      planUpgrade(forked, ['gone99', 'a00001'], 'heads');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UnknownRevisionError);
    expect((error as Error).message).toContain('gone99');
    expect((error as Error).message).toContain('rds-migrate stamp --purge a00001');
  });
});

describe('a downgrade', () => {
  it('takes the one applied head down by default, and does nothing at base', () => {
    expect(stepsOf(planDowngrade(diamond, ['top001']))).toEqual(['top001 down -> merge1']);
    expect(planDowngrade(diamond, [])).toEqual({ from: [], to: [], steps: [] });
  });

  it('asks which branch when several heads are applied, suggesting the first head', () => {
    expect(graphRefusal(() => planDowngrade(forked, ['a00002', 'b00002']))).toEqual({
      problem: 'multiple-heads',
      message:
        'the database has several heads applied (a00002, b00002); say which branch to take down ' +
        '(rds-migrate down a00002-1, or down <label>@-1), name the revision to go down to, or down base',
      revisions: ['a00002', 'b00002'],
    });
  });

  it('refuses to go down to revisions not applied, naming each', () => {
    expect(graphRefusal(() => planDowngrade(forked, ['root01'], 'heads'))).toEqual({
      problem: 'not-applied',
      message:
        'revision a00002, b00002 is not applied, so the database cannot go down to it; rds-migrate status shows what is',
      revisions: ['a00002', 'b00002'],
    });
  });

  it('takes everything down to base, children before parents, with the heads after each step', () => {
    const plan = planDowngrade(forked, ['a00002', 'b00002'], 'base');
    expect(stepsOf(plan)).toEqual([
      'b00002 down -> a00002,b00001',
      'b00001 down -> a00002',
      'a00002 down -> a00001',
      'a00001 down -> root01',
      'root01 down -> base',
    ]);
    expect(plan.to).toEqual([]);
  });

  it('takes one branch down to the revision both share, leaving the other', () => {
    expect(stepsOf(planDowngrade(forked, ['a00002', 'b00002'], 'billing@root01'))).toEqual([
      'a00002 down -> a00001,b00002',
      'a00001 down -> b00002',
    ]);
  });

  it('through a merge, reverts only what descends from the revision named, keeping the other parent', () => {
    expect(stepsOf(planDowngrade(diamond, ['top001'], 'a00002'))).toEqual([
      'top001 down -> merge1',
      'merge1 down -> a00002,b00002',
    ]);
  });

  it("says a branch has nothing to take down above a merge's parents", () => {
    expect(graphRefusal(() => planDowngrade(diamond, ['merge1'], 'billing@-1'))).toEqual({
      problem: 'invalid-target',
      message:
        "'billing@-1': the branch of a00001 does not go up from a00002, b00002, so it has nothing there to take down",
      revisions: ['a00001'],
    });
  });

  it('refuses to go past migrations without a down step, naming each and why', () => {
    const graph = RevisionGraph.from([
      m('aaaa01'),
      m('bbbb02', ['aaaa01'], { noDown: true, irreversible: 'drops the legacy table' }),
      m('cccc03', ['bbbb02'], { noDown: true }),
    ]);
    const expected = {
      problem: 'missing-down-step',
      message:
        'cannot go down past cccc03 (cccc03.sql), bbbb02 (bbbb02.sql: irreversible, drops the legacy table): ' +
        'no down step; add one, or restore from a backup instead',
      revisions: ['cccc03', 'bbbb02'],
    };
    expect(graphRefusal(() => planDowngrade(graph, ['cccc03'], 'base'))).toEqual(expected);
    expect(graphRefusal(() => planTo(graph, ['cccc03'], 'aaaa01'))).toEqual({
      ...expected,
      message: expected.message.replace('aaaa01', ''),
    });
  });
});

describe("a deploy's plan", () => {
  it('rolls one branch back and the other forward in one plan', () => {
    const plan = planTo(forked, ['a00002'], 'b00002');
    expect(stepsOf(plan)).toEqual([
      'a00002 down -> a00001',
      'a00001 down -> root01',
      'b00001 up -> b00001',
      'b00002 up -> b00002',
    ]);
    expect(plan).toMatchObject({ from: ['a00002'], to: ['b00002'] });
  });

  it('goes to base, and is empty where the database already is', () => {
    expect(stepsOf(planTo(forked, ['a00001'], 'base'))).toEqual([
      'a00001 down -> root01',
      'root01 down -> base',
    ]);
    expect(planTo(forked, ['a00001'], 'a00001')).toEqual({ from: ['a00001'], to: ['a00001'], steps: [] });
    expect(planTo(forked, [], 'a00001').to).toEqual(['a00001']);
  });
});

describe('a stamp', () => {
  it('marks the target applied with no steps, replacing the current heads', () => {
    expect(planStamp(forked, ['a00002', 'b00002'], 'root01')).toEqual({
      from: ['a00002', 'b00002'],
      to: ['root01'],
      steps: [],
    });
  });

  it('moves only the branch it names, keeping the others, unless told to purge', () => {
    expect(planStamp(forked, ['a00002', 'b00002'], 'billing@base').to).toEqual(['b00002']);
    expect(planStamp(forked, ['a00001', 'b00001'], 'shop@head').to).toEqual(['a00001', 'b00002']);
    expect(planStamp(forked, ['a00001', 'b00001'], 'shop@head', { purge: true }).to).toEqual(['b00002']);
  });

  it('keeps the heads outside the branches named when a plain target stands beside a branch one', () => {
    expect(planStamp(forked, ['a00001', 'b00002'], ['billing@head', 'root01']).to).toEqual([
      'a00002',
      'b00002',
    ]);
  });

  it('moves every branch named, keeping none of their heads', () => {
    expect(planStamp(forked, ['a00001', 'b00001'], ['billing@head', 'shop@base']).to).toEqual(['a00002']);
  });

  it('forgets heads the graph lacks, and counts relative steps from the known ones', () => {
    expect(planStamp(forked, ['gone99', 'a00002'], '-1')).toEqual({
      from: ['gone99', 'a00002'],
      to: ['a00001'],
      steps: [],
    });
    expect(planStamp(forked, ['gone99'], 'a00001', { purge: true }).to).toEqual(['a00001']);
    expect(planStamp(forked, ['a00001'], ['a00002', 'b00001']).to).toEqual(['a00002', 'b00001']);
  });
});
