/**
 * The revision graph's words and edges: every error a user can meet, asserted whole (the problem,
 * the message, the revisions), and the answers at their boundaries (a four-character prefix, a
 * label stopping at a branch point, ties in the order). Pure: in-memory migrations, milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import type { Migration } from '../../lib/engine/migration.ts';
import { graphRefusal } from '../support/graph-refusal.ts';
import { sqlMigration } from '../support/migrations.ts';

type Extra = Partial<Pick<Migration, 'branchLabels' | 'dependsOn' | 'replaces' | 'source'>>;

function m(revision: string, parents: string[] = [], extra: Extra = {}): Migration {
  return { ...sqlMigration(revision, 'SELECT 1', { parents }), ...extra };
}

describe('a folder the graph refuses', () => {
  it('names both files of a duplicate revision and what to do', () => {
    expect(
      graphRefusal(() => RevisionGraph.from([m('aaaa01'), m('aaaa01', [], { source: 'copy.sql' })])),
    ).toEqual({
      problem: 'duplicate-revision',
      message:
        'revision aaaa01 is defined twice, by aaaa01.sql and copy.sql; give one of them a new id ' +
        '(rds-migrate create makes a fresh one) and fix the down_revision of its children',
      revisions: ['aaaa01'],
    });
  });

  it('names a missing parent and where to find the existing ones', () => {
    expect(graphRefusal(() => RevisionGraph.from([m('aaaa01'), m('bbbb02', ['aaaa01', 'gone01'])]))).toEqual({
      problem: 'unknown-parent',
      message:
        'bbbb02.sql (revision bbbb02) names down_revision gone01, which no migration defines; restore the ' +
        'missing migration or point down_revision at an existing one (rds-migrate heads lists them)',
      revisions: ['bbbb02', 'gone01'],
    });
  });

  it('points a parent a squash replaced at the squash', () => {
    const squash = m('cccc03', [], { replaces: ['aaaa01', 'bbbb02'], source: '0001_squashed.sql' });
    expect(graphRefusal(() => RevisionGraph.from([squash, m('dddd04', ['bbbb02'])]))).toEqual({
      problem: 'unknown-parent',
      message:
        'dddd04.sql (revision dddd04) names down_revision bbbb02, which 0001_squashed.sql (revision cccc03) ' +
        'squashed; only its last revision stays: point down_revision at cccc03',
      revisions: ['dddd04', 'bbbb02'],
    });
  });

  it('refuses a squashed revision still in the folder, saying where it goes', () => {
    const squash = m('cccc03', [], { replaces: ['aaaa01'], source: '0001_squashed.sql' });
    expect(graphRefusal(() => RevisionGraph.from([m('aaaa01'), squash]))).toEqual({
      problem: 'replaced-still-present',
      message:
        "aaaa01.sql (revision aaaa01) is squashed into 0001_squashed.sql (revision cccc03, its 'replaces'), " +
        'yet still in the folder; move it to squashed/ in the migrations folder (the loader skips that folder) ' +
        'or delete it',
      revisions: ['aaaa01', 'cccc03'],
    });
  });

  it('refuses a revision two squashes replace', () => {
    const first = m('cccc03', [], { replaces: ['aaaa01'], source: 'first.sql' });
    const second = m('dddd04', [], { replaces: ['aaaa01'], source: 'second.sql' });
    expect(graphRefusal(() => RevisionGraph.from([first, second]))).toEqual({
      problem: 'replaced-twice',
      message: 'revision aaaa01 is replaced by two squashes, first.sql and second.sql; keep one of them',
      revisions: ['aaaa01', 'cccc03', 'dddd04'],
    });
  });

  it('refuses a branch label used twice, listed twice, or equal to a revision id, each in its words', () => {
    expect(
      graphRefusal(() =>
        RevisionGraph.from([
          m('aaaa01', [], { branchLabels: ['billing'] }),
          m('bbbb02', [], { branchLabels: ['billing'] }),
        ]),
      ),
    ).toEqual({
      problem: 'duplicate-label',
      message:
        "bbbb02.sql (revision bbbb02) has branch label 'billing', which is already the label of revision aaaa01 " +
        '(aaaa01.sql); a label names one branch: rename one of them',
      revisions: ['bbbb02', 'aaaa01'],
    });
    expect(
      graphRefusal(() => RevisionGraph.from([m('aaaa01', [], { branchLabels: ['billing', 'billing'] })])),
    ).toEqual({
      problem: 'duplicate-label',
      message:
        "aaaa01.sql (revision aaaa01) has branch label 'billing', which is listed twice in its branch_labels; " +
        'a label names one branch: rename one of them',
      revisions: ['aaaa01', 'aaaa01'],
    });
    expect(
      graphRefusal(() => RevisionGraph.from([m('aaaa01'), m('bbbb02', [], { branchLabels: ['aaaa01'] })])),
    ).toEqual({
      problem: 'duplicate-label',
      message:
        "bbbb02.sql (revision bbbb02) has branch label 'aaaa01', which is also the id of revision aaaa01 " +
        '(aaaa01.sql); a label names one branch: rename one of them',
      revisions: ['bbbb02'],
    });
  });

  it('refuses a depends_on naming nothing, and one naming its own migration', () => {
    expect(graphRefusal(() => RevisionGraph.from([m('aaaa01', [], { dependsOn: ['nope'] })]))).toEqual({
      problem: 'unknown-dependency',
      message:
        'aaaa01.sql (revision aaaa01) names depends_on nope, which is neither a revision nor a branch label here; ' +
        'restore the migration it means, or fix depends_on (rds-migrate history lists the revisions)',
      revisions: ['aaaa01', 'nope'],
    });
    expect(
      graphRefusal(() =>
        RevisionGraph.from([m('aaaa01', [], { branchLabels: ['core'], dependsOn: ['core'] })]),
      ),
    ).toEqual({
      problem: 'cycle',
      message: 'aaaa01.sql (revision aaaa01) depends on itself (depends_on core); remove that entry',
      revisions: ['aaaa01'],
    });
  });

  it('shows a cycle of parents as the loop each revision needs, and what to fix', () => {
    const cycle = graphRefusal(() =>
      RevisionGraph.from([m('root01'), m('cyc001', ['root01', 'cyc002']), m('cyc002', ['cyc001'])]),
    );
    expect(cycle).toEqual({
      problem: 'cycle',
      message:
        'the migrations form a cycle: cyc001 -> cyc002 -> cyc001; a revision cannot descend from itself, ' +
        'fix the down_revision of one of them',
      revisions: ['cyc001', 'cyc002', 'cyc001'],
    });
  });

  it('shows only the loop when the first revision stuck behind it is not on it', () => {
    const cycle = graphRefusal(() =>
      RevisionGraph.from([m('tail01', ['cyc001']), m('cyc001', ['cyc002']), m('cyc002', ['cyc001'])]),
    );
    expect(cycle.message).toBe(
      'the migrations form a cycle: cyc001 -> cyc002 -> cyc001; a revision cannot descend from itself, ' +
        'fix the down_revision of one of them',
    );
  });

  it('shows a longer cycle of parents as one of parents, each revision needing the next', () => {
    const cycle = graphRefusal(() =>
      RevisionGraph.from([m('cyc001', ['cyc002']), m('cyc002', ['cyc003']), m('cyc003', ['cyc001'])]),
    );
    expect(cycle.message).toBe(
      'the migrations form a cycle: cyc001 -> cyc002 -> cyc003 -> cyc001; a revision cannot descend from itself, ' +
        'fix the down_revision of one of them',
    );
  });

  it('shows a cycle through depends_on as one, with what to fix', () => {
    const cycle = graphRefusal(() =>
      RevisionGraph.from([
        m('root01'),
        m('dep001', ['root01'], { dependsOn: ['dep002'] }),
        m('dep002', ['dep001']),
      ]),
    );
    expect(cycle).toEqual({
      problem: 'cycle',
      message:
        'the migrations form a cycle through depends_on: dep001 -> dep002 -> dep001; a revision cannot need ' +
        'itself, fix the down_revision or depends_on of one of them',
      revisions: ['dep001', 'dep002', 'dep001'],
    });
  });
});

describe('names resolved to revisions', () => {
  const graph = RevisionGraph.from([
    m('abc'),
    m('abcd1111', ['abc']),
    m('abcd2222', ['abc'], { branchLabels: ['billing'] }),
    m('ef01aaaa', ['abcd1111']),
  ]);

  it('takes base, a whole id however short, a label and a unique prefix of exactly four characters', () => {
    expect(graph.resolve('base')).toBe('base');
    expect(graph.resolve('abc')).toBe('abc');
    expect(graph.resolve('billing')).toBe('abcd2222');
    expect(graph.resolve('ef01')).toBe('ef01aaaa');
    expect(graph.resolve('abcd1')).toBe('abcd1111');
  });

  it('limits prefixes to the revisions asked within', () => {
    expect(graph.resolve('abcd', new Set(['abcd2222']))).toBe('abcd2222');
  });

  it('refuses an ambiguous prefix, listing what it matches', () => {
    expect(graphRefusal(() => graph.resolve('abcd'))).toEqual({
      problem: 'ambiguous-revision',
      message: "'abcd' matches several revisions (abcd1111, abcd2222); type more of the id",
      revisions: ['abcd1111', 'abcd2222'],
    });
  });

  it('refuses a prefix under four characters even when only one id starts so', () => {
    expect(graphRefusal(() => graph.resolve('ef0'))).toEqual({
      problem: 'unknown-revision',
      message:
        "no revision or branch label is called 'ef0', and 'ef0' is too short to be a prefix: type the whole id, " +
        'or 4 or more characters of it (rds-migrate history lists them)',
      revisions: ['ef0'],
    });
  });

  it('refuses a name nothing matches, and a prefix outside the revisions asked within', () => {
    const unknown = {
      problem: 'unknown-revision',
      message:
        "no migration has revision 'ffff', and no branch label is called so; rds-migrate history lists them",
      revisions: ['ffff'],
    };
    expect(graphRefusal(() => graph.resolve('ffff'))).toEqual(unknown);
    expect(graphRefusal(() => graph.resolve('ef01', new Set(['abc'])))).toMatchObject({
      problem: 'unknown-revision',
    });
  });

  it('says which revision is unknown when asked for one', () => {
    expect(graphRefusal(() => graph.get('zzzz99'))).toEqual({
      problem: 'unknown-revision',
      message: 'no migration has revision zzzz99',
      revisions: ['zzzz99'],
    });
  });
});

describe('the single head', () => {
  it('is the one head', () => {
    expect(RevisionGraph.from([m('aaaa01'), m('bbbb02', ['aaaa01'])]).resolve('head')).toBe('bbbb02');
  });

  it('says how to start when there are no migrations', () => {
    expect(graphRefusal(() => RevisionGraph.from([]).singleHead())).toEqual({
      problem: 'no-migrations',
      message: 'there are no migrations yet; create one with rds-migrate create "message"',
      revisions: [],
    });
  });

  it('suggests merge or naming one when there are several, and a branch head only where labels exist', () => {
    const unlabelled = RevisionGraph.from([m('root01'), m('left01', ['root01']), m('right1', ['root01'])]);
    expect(graphRefusal(() => unlabelled.resolve('head'))).toEqual({
      problem: 'multiple-heads',
      message:
        'multiple head revisions are present (left01, right1); join them with rds-migrate merge -m "merge heads", ' +
        "or name the one you mean (or 'heads' for all)",
      revisions: ['left01', 'right1'],
    });
    const labelled = RevisionGraph.from([
      m('root01'),
      m('left01', ['root01'], { branchLabels: ['l'] }),
      m('right1', ['root01']),
    ]);
    expect(graphRefusal(() => labelled.singleHead()).message).toBe(
      'multiple head revisions are present (left01, right1); join them with rds-migrate merge -m "merge heads", ' +
        "or name the one you mean, a branch's head ('<label>@head') (or 'heads' for all)",
    );
  });
});

describe('the order, heads and bases', () => {
  it('breaks ties among independent revisions by file name, then by id', () => {
    const graph = RevisionGraph.from([
      m('zzzz01', [], { source: 'b.sql' }),
      m('yyyy01', [], { source: 'a.sql' }),
      m('bbbb01', [], { source: 'c.sql' }),
      m('aaaa01', [], { source: 'c.sql' }),
      m('cccc01', ['zzzz01'], { source: 'a2.sql' }),
    ]);
    expect(graph.order).toEqual(['yyyy01', 'zzzz01', 'cccc01', 'aaaa01', 'bbbb01']);
    expect(graph.bases).toEqual(['yyyy01', 'zzzz01', 'aaaa01', 'bbbb01']);
    expect(graph.heads).toEqual(['yyyy01', 'cccc01', 'aaaa01', 'bbbb01']);
    expect(graph.size).toBe(5);
  });

  it('orders many revisions of one source (the recorded history) by id, however they come', () => {
    const ids = Array.from({ length: 70 }, (_, index) => `rev${String((index * 37) % 70).padStart(3, '0')}`);
    const graph = RevisionGraph.from(ids.map((id) => m(id, [], { source: 'history' })));
    expect(graph.order).toEqual([...ids].sort());
  });

  it('counts a parent named twice once', () => {
    const graph = RevisionGraph.from([m('aaaa01'), m('bbbb02', ['aaaa01', 'aaaa01'])]);
    expect(graph.children('aaaa01')).toEqual(['bbbb02']);
    expect(graph.order).toEqual(['aaaa01', 'bbbb02']);
    expect(graph.heads).toEqual(['bbbb02']);
  });

  it('places a revision after both parents and every dependency, even one it names twice', () => {
    const graph = RevisionGraph.from([
      m('merge1', ['left01', 'right1'], { dependsOn: ['other1', 'other1'] }),
      m('right1', ['root01']),
      m('left01', ['root01']),
      m('root01'),
      m('other1'),
    ]);
    expect(graph.order.indexOf('merge1')).toBe(4);
    expect(graph.dependencies('merge1')).toEqual(['other1']);
    expect(graph.dependents('other1')).toEqual(['merge1']);
    expect(graph.isEffectiveHead('other1')).toBe(true);
    expect(graph.isEffectiveHead('merge1')).toBe(false);
    expect(graph.isEffectiveHead('root01')).toBe(false);
  });

  it('replaces a label in depends_on by its revision, beside a revision named directly', () => {
    const graph = RevisionGraph.from([
      m('aaaa01'),
      m('bbbb02', [], { branchLabels: ['core'] }),
      m('cccc03', [], { dependsOn: ['aaaa01', 'core'] }),
    ]);
    expect(graph.dependencies('cccc03')).toEqual(['aaaa01', 'bbbb02']);
  });

  it('keeps a migration as loaded when its depends_on already names revisions, once each', () => {
    const dependent = m('bbbb02', [], { dependsOn: ['aaaa01'] });
    const graph = RevisionGraph.from([m('aaaa01'), dependent]);
    expect(graph.get('bbbb02')).toBe(dependent);
    const relabelled = RevisionGraph.from([
      m('aaaa01', [], { branchLabels: ['core'] }),
      m('bbbb02', [], { dependsOn: ['aaaa01', 'core'] }),
    ]);
    expect(relabelled.dependencies('bbbb02')).toEqual(['aaaa01']);
  });
});

describe('walks over the graph', () => {
  //   root01 - left01 - merge1 - top001
  //          \ right1 /
  // other1 (merge1 depends on it)
  const graph = RevisionGraph.from([
    m('root01'),
    m('left01', ['root01']),
    m('right1', ['root01']),
    m('other1'),
    m('merge1', ['left01', 'right1'], { dependsOn: ['other1'] }),
    m('top001', ['merge1']),
  ]);

  it('finds ancestors through parents and dependencies, from several starts, leaving base out', () => {
    expect(graph.sorted(graph.ancestors(['merge1', 'base']))).toEqual([
      'other1',
      'root01',
      'left01',
      'right1',
      'merge1',
    ]);
    expect(graph.ancestors(['base']).size).toBe(0);
  });

  it('finds descendants through parents only, and what needs a revision through dependencies too', () => {
    expect(graph.sorted(graph.descendants('left01'))).toEqual(['left01', 'merge1', 'top001']);
    expect(graph.sorted(graph.descendants('other1'))).toEqual(['other1']);
    expect(graph.sorted(graph.requiredBy(['other1']))).toEqual(['other1', 'merge1', 'top001']);
  });

  it("gives a revision's lineage (below and above, parents only) and the way up to it", () => {
    expect(graph.sorted(graph.lineage('left01'))).toEqual(['root01', 'left01', 'merge1', 'top001']);
    expect(graph.sorted(graph.lineageBelow('merge1'))).toEqual(['root01', 'left01', 'right1', 'merge1']);
  });

  it('finds the heads of a set, and sorts a set in graph order', () => {
    expect(graph.headsOf(new Set(['root01', 'left01', 'right1']))).toEqual(['left01', 'right1']);
    expect(graph.headsOf(new Set(['top001', 'root01']))).toEqual(['root01', 'top001']);
    expect(graph.sorted(['top001', 'root01', 'merge1'])).toEqual(['root01', 'merge1', 'top001']);
  });

  it('leaves out of the real heads a head an applied revision depends on, keeping unknown ones', () => {
    expect(graph.realHeads(['other1', 'merge1'])).toEqual(['merge1']);
    expect(graph.realHeads(['other1', 'left01', 'left01'])).toEqual(['other1', 'left01']);
    expect(graph.realHeads(['gone99', 'merge1'])).toEqual(['gone99', 'merge1']);
  });
});

describe('branch labels', () => {
  it('knows whether any label exists and which revision carries one', () => {
    const plain = RevisionGraph.from([m('aaaa01')]);
    expect(plain.hasLabels).toBe(false);
    expect(plain.branchLabels('aaaa01')).toEqual([]);
    const labelled = RevisionGraph.from([m('aaaa01', [], { branchLabels: ['core'] })]);
    expect(labelled.hasLabels).toBe(true);
    expect(labelled.labelOwner('core')).toBe('aaaa01');
    expect(labelled.labelOwner('nope')).toBeUndefined();
  });

  it('spread down to descendants and up to, not past, a branch point, sorted', () => {
    //   root01 - base02 - fork03 - a00004 - a00005(label a) - a00006
    //                           \ b00004(label z, label b)
    const graph = RevisionGraph.from([
      m('root01'),
      m('base02', ['root01']),
      m('fork03', ['base02']),
      m('a00004', ['fork03']),
      m('a00005', ['a00004'], { branchLabels: ['a'] }),
      m('a00006', ['a00005']),
      m('b00004', ['fork03'], { branchLabels: ['z', 'b'] }),
    ]);
    expect(graph.branchLabels('a00006')).toEqual(['a']);
    expect(graph.branchLabels('a00005')).toEqual(['a']);
    expect(graph.branchLabels('a00004')).toEqual(['a']);
    expect(graph.branchLabels('fork03')).toEqual([]);
    expect(graph.branchLabels('base02')).toEqual([]);
    expect(graph.branchLabels('b00004')).toEqual(['b', 'z']);
  });

  it('stop at a merge, and at a revision another depends on', () => {
    const graph = RevisionGraph.from([
      m('left01'),
      m('right1'),
      m('merge1', ['left01', 'right1']),
      m('after1', ['merge1'], { branchLabels: ['main'] }),
      m('dep001'),
      m('mid001', ['dep001']),
      m('tip001', ['mid001'], { branchLabels: ['tip'] }),
      m('user01', [], { dependsOn: ['mid001'] }),
    ]);
    expect(graph.branchLabels('after1')).toEqual(['main']);
    expect(graph.branchLabels('merge1')).toEqual([]);
    expect(graph.branchLabels('left01')).toEqual([]);
    expect(graph.branchLabels('mid001')).toEqual([]);
    expect(graph.branchLabels('dep001')).toEqual([]);
  });

  it('on a merge stay on the merge and what follows it, not on its parents', () => {
    const graph = RevisionGraph.from([
      m('left01'),
      m('right1'),
      m('merge1', ['left01', 'right1'], { branchLabels: ['joined'] }),
      m('after1', ['merge1']),
    ]);
    expect(graph.branchLabels('merge1')).toEqual(['joined']);
    expect(graph.branchLabels('after1')).toEqual(['joined']);
    expect(graph.branchLabels('left01')).toEqual([]);
    expect(graph.branchLabels('right1')).toEqual([]);
  });

  it('run up a straight line to the base', () => {
    const graph = RevisionGraph.from([
      m('aaaa01'),
      m('bbbb02', ['aaaa01']),
      m('cccc03', ['bbbb02'], { branchLabels: ['x'] }),
    ]);
    expect(graph.branchLabels('aaaa01')).toEqual(['x']);
    expect(graph.branchLabels('bbbb02')).toEqual(['x']);
  });

  it('list a label once on a revision two labelled revisions share', () => {
    const graph = RevisionGraph.from([
      m('aaaa01', [], { branchLabels: ['x'] }),
      m('bbbb02', ['aaaa01'], { branchLabels: ['y'] }),
      m('cccc03', ['bbbb02']),
    ]);
    expect(graph.branchLabels('cccc03')).toEqual(['x', 'y']);
    expect(graph.branchLabels('aaaa01')).toEqual(['x', 'y']);
  });
});

describe('squashes', () => {
  it('say which squash replaced a revision', () => {
    const graph = RevisionGraph.from([
      m('cccc03', [], { replaces: ['aaaa01', 'bbbb02'] }),
      m('dddd04', ['cccc03']),
    ]);
    expect(graph.replacedBy('aaaa01')).toBe('cccc03');
    expect(graph.replacedBy('dddd04')).toBeUndefined();
    expect(graph.has('aaaa01')).toBe(false);
    expect(graph.has('cccc03')).toBe(true);
  });
});
