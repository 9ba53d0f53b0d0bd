import { describe, expect, it } from 'vitest';
import type { GraphError } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { planDowngrade, planStamp, planTo, planUpgrade } from '../../lib/engine/plan.ts';
import { sqlMigration, tableChain } from '../support/migrations.ts';

const branched = RevisionGraph.from([
  sqlMigration('root01', 'SELECT 1'),
  sqlMigration('left01', 'SELECT 1', { parents: ['root01'] }),
  sqlMigration('left02', 'SELECT 1', { parents: ['left01'] }),
  sqlMigration('rght01', 'SELECT 1', { parents: ['root01'] }),
  sqlMigration('merge1', 'SELECT 1', { parents: ['left02', 'rght01'] }),
  sqlMigration('after1', 'SELECT 1', { parents: ['merge1'] }),
]);

const revisions = (plan: { steps: readonly { revision: string }[] }) =>
  plan.steps.map((step) => step.revision);

describe('planUpgrade', () => {
  it('applies every missing revision, parents first, from base to head', () => {
    const plan = planUpgrade(branched, [], 'head');
    expect(revisions(plan)).toEqual(['root01', 'left01', 'left02', 'rght01', 'merge1', 'after1']);
    expect(plan.to).toEqual(['after1']);
  });

  it('stops at a named revision and reports the heads after each step', () => {
    const plan = planUpgrade(branched, ['root01'], 'left02');
    expect(revisions(plan)).toEqual(['left01', 'left02']);
    expect(plan.steps.map((step) => step.headsAfter)).toEqual([['left01'], ['left02']]);
  });

  it('applies the other branch and the merge when one branch is applied', () => {
    const plan = planUpgrade(branched, ['left02'], 'head');
    expect(revisions(plan)).toEqual(['rght01', 'merge1', 'after1']);
    expect(plan.steps[0]?.headsAfter).toEqual(['left02', 'rght01']);
  });

  it('does nothing when the target is already applied', () => {
    expect(planUpgrade(branched, ['after1'], 'left01').steps).toEqual([]);
  });

  it('refuses two heads without a target and suggests merge', () => {
    const twoHeads = RevisionGraph.from([
      sqlMigration('root01', 'SELECT 1'),
      sqlMigration('left01', 'SELECT 1', { parents: ['root01'] }),
      sqlMigration('rght01', 'SELECT 1', { parents: ['root01'] }),
    ]);
    expect(() => planUpgrade(twoHeads, [], 'head')).toThrow(/merge/);
    expect(revisions(planUpgrade(twoHeads, [], 'heads'))).toEqual(['root01', 'left01', 'rght01']);
  });

  it('refuses a database at a revision the graph does not know, naming it', () => {
    expect(() => planUpgrade(branched, ['feed0000beef'], 'head')).toThrow(/feed0000beef/);
  });
});

describe('planDowngrade', () => {
  it('reverts the single head by default', () => {
    const plan = planDowngrade(branched, ['after1']);
    expect(revisions(plan)).toEqual(['after1']);
    expect(plan.to).toEqual(['merge1']);
  });

  it('reverting a merge leaves both branch heads', () => {
    const plan = planDowngrade(branched, ['merge1']);
    expect(plan.to).toEqual(['left02', 'rght01']);
  });

  it('goes down to a revision, children before parents, keeping branches that do not descend from it', () => {
    const plan = planDowngrade(branched, ['after1'], 'left01');
    expect(revisions(plan)).toEqual(['after1', 'merge1', 'left02']);
    expect(plan.to).toEqual(['left01', 'rght01']);
  });

  it('goes down to base', () => {
    const plan = planDowngrade(branched, ['after1'], 'base');
    expect(revisions(plan)).toHaveLength(6);
    expect(plan.to).toEqual([]);
  });

  it('refuses a target that is not applied', () => {
    expect(() => planDowngrade(branched, ['left02'], 'rght01')).toThrow(/not applied/);
  });

  it('refuses to go past a migration without a down step, naming it', () => {
    const graph = RevisionGraph.from([
      sqlMigration('keep01', 'SELECT 1', { down: null }),
      sqlMigration('keep02', 'SELECT 1', { parents: ['keep01'] }),
    ]);
    expect(revisions(planDowngrade(graph, ['keep02']))).toEqual(['keep02']);
    try {
      planDowngrade(graph, ['keep02'], 'base');
      expect.unreachable();
    } catch (error) {
      expect((error as GraphError).problem).toBe('missing-down-step');
      expect((error as GraphError).message).toContain('keep01');
    }
  });

  it('asks for a revision when several heads are applied', () => {
    expect(() => planDowngrade(branched, ['left02', 'rght01'])).toThrow(/several heads/);
  });
});

describe('planTo and planStamp', () => {
  it('downgrades when the target is an ancestor of the current revision', () => {
    const graph = RevisionGraph.from(tableChain('aaaa01', 'aaaa02', 'aaaa03'));
    const plan = planTo(graph, ['aaaa03'], 'aaaa01');
    expect(plan.steps.map((step) => `${step.direction} ${step.revision}`)).toEqual([
      'down aaaa03',
      'down aaaa02',
    ]);
  });

  it('upgrades when the target descends from the current revision', () => {
    const graph = RevisionGraph.from(tableChain('aaaa01', 'aaaa02', 'aaaa03'));
    expect(revisions(planTo(graph, ['aaaa01'], 'aaaa03'))).toEqual(['aaaa02', 'aaaa03']);
  });

  it('stamps to the heads a revision stands for without steps', () => {
    const plan = planStamp(branched, [], 'merge1');
    expect(plan.steps).toEqual([]);
    expect(plan.to).toEqual(['merge1']);
    expect(planStamp(branched, ['merge1'], 'base').to).toEqual([]);
  });
});

// The case: two branches off one ancestor, one labelled.
// root01 -> shared -> billing1 (billing) -> billing2
//                  \-> search1 -> search2
const labelled = RevisionGraph.from([
  sqlMigration('root01', 'SELECT 1'),
  sqlMigration('shared', 'SELECT 1', { parents: ['root01'] }),
  { ...sqlMigration('billing1', 'SELECT 1', { parents: ['shared'] }), branchLabels: ['billing'] },
  sqlMigration('billing2', 'SELECT 1', { parents: ['billing1'] }),
  sqlMigration('search1', 'SELECT 1', { parents: ['shared'] }),
  sqlMigration('search2', 'SELECT 1', { parents: ['search1'] }),
]);

describe('relative and labelled targets', () => {
  it('takes one branch down to the shared ancestor, leaving the other', () => {
    const plan = planDowngrade(labelled, ['billing2', 'search2'], 'billing@shared');
    expect(revisions(plan)).toEqual(['billing2', 'billing1']);
    expect(plan.to).toEqual(['search2']);
    // Without the branch, down to the shared ancestor takes both down.
    expect(revisions(planDowngrade(labelled, ['billing2', 'search2'], 'shared'))).toHaveLength(4);
  });

  it('goes up and down by steps along a branch', () => {
    expect(revisions(planUpgrade(labelled, ['shared'], 'billing@+2'))).toEqual(['billing1', 'billing2']);
    expect(revisions(planUpgrade(labelled, [], 'billing@head-1'))).toEqual(['root01', 'shared', 'billing1']);
    expect(revisions(planDowngrade(labelled, ['billing2', 'search2'], 'billing@-2'))).toEqual([
      'billing2',
      'billing1',
    ]);
    expect(revisions(planDowngrade(labelled, ['billing2', 'search2'], 'search2-1'))).toEqual(['search2']);
  });

  it('refuses -1 with several heads, naming them with their labels', () => {
    expect(() => planDowngrade(labelled, ['billing2', 'search2'], '-1')).toThrow(
      /several heads \(billing2 \(billing\), search2\).*billing@-1 or billing2-1/,
    );
    expect(() => planDowngrade(labelled, ['billing2', 'search2'])).toThrow(
      /down billing2-1, or down <label>@-1/,
    );
  });

  it('stamps one branch, keeping the other', () => {
    expect(planStamp(labelled, ['billing2', 'search2'], 'billing@base').to).toEqual(['search2']);
    expect(planStamp(labelled, ['billing1', 'search2'], 'billing@head').to).toEqual(['billing2', 'search2']);
  });

  it('stamps several revisions at once (what alembic_version lists)', () => {
    expect(planStamp(labelled, [], ['billing2', 'search1']).to).toEqual(['billing2', 'search1']);
  });
});

// accounts: acct1 -> acct2; orders: ord1 -> ord2 (depends on acct2) -> ord3; merge joins both.
const dependent = RevisionGraph.from([
  sqlMigration('acct1', 'SELECT 1'),
  sqlMigration('acct2', 'SELECT 1', { parents: ['acct1'] }),
  { ...sqlMigration('ord1', 'SELECT 1'), branchLabels: ['orders'] },
  { ...sqlMigration('ord2', 'SELECT 1', { parents: ['ord1'] }), dependsOn: ['acct2'] },
  sqlMigration('ord3', 'SELECT 1', { parents: ['ord2'] }),
  sqlMigration('merge1', 'SELECT 1', { parents: ['acct2', 'ord3'] }),
]);

describe('depends_on', () => {
  it('applies the dependency first, as if it were a parent', () => {
    expect(revisions(planUpgrade(dependent, [], 'orders@+2'))).toEqual(['acct1', 'acct2', 'ord1', 'ord2']);
  });

  it('reverts what depends on a revision before it, and nothing more', () => {
    const plan = planDowngrade(dependent, ['ord3', 'acct2'], 'acct1');
    expect(revisions(plan)).toEqual(['ord3', 'ord2', 'acct2']);
    expect(plan.to).toEqual(['acct1', 'ord1']);
    // Taking the dependent's branch down leaves the dependency applied.
    expect(planDowngrade(dependent, ['ord3', 'acct2'], 'orders@base').to).toEqual(['acct2']);
  });

  it('counts -1 from the head that depends on another, which the database lists as a head too', () => {
    const plan = planUpgrade(dependent, [], 'orders@+2');
    expect(plan.to).toEqual(['acct2', 'ord2']);
    expect(revisions(planDowngrade(dependent, plan.to, '-1'))).toEqual(['ord2']);
    expect(revisions(planDowngrade(dependent, plan.to))).toEqual(['ord2']);
  });

  it("keeps the deploy's plan (planTo, a concrete revision) working with labels and dependencies", () => {
    expect(revisions(planTo(dependent, [], 'merge1'))).toEqual([
      'acct1',
      'acct2',
      'ord1',
      'ord2',
      'ord3',
      'merge1',
    ]);
    const rollback = planTo(dependent, ['merge1'], 'acct2');
    expect(rollback.steps.map((step) => `${step.direction} ${step.revision}`)).toEqual([
      'down merge1',
      'down ord3',
      'down ord2',
      'down ord1',
    ]);
    expect(rollback.to).toEqual(['acct2']);
  });
});
