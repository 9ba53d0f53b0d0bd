/**
 * Revision targets at their edges: two-digit steps (`head-12`), the last step before either end
 * of the graph and the first past it, reserved words before `@`, and every message a mistyped or
 * ambiguous target gets, asserted whole. Pure: in-memory graphs, milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import type { Migration } from '../../lib/engine/migration.ts';
import {
  isValidName,
  NAME_PATTERN,
  parseTarget,
  RESERVED_NAMES,
  resolveRevision,
  resolveTarget,
  type TargetContext,
} from '../../lib/engine/target.ts';
import { graphRefusal } from '../support/graph-refusal.ts';
import { sqlMigration } from '../support/migrations.ts';

function m(revision: string, parents: string[] = [], branchLabels?: string[]): Migration {
  return { ...sqlMigration(revision, 'SELECT 1', { parents }), ...(branchLabels ? { branchLabels } : {}) };
}

const ids = Array.from({ length: 14 }, (_, index) => `rev${String(index + 1).padStart(3, '0')}`);
/** rev001 - rev002 - ... - rev014: a chain long enough for two-digit steps. */
const chain = RevisionGraph.from(
  ids.map((id, index) => m(id, index === 0 ? [] : [ids[index - 1] as string])),
);

/**
 *        a00001 (billing) - a00002
 * root01 <
 *        b00001 (shop) - b00002
 */
const forked = RevisionGraph.from([
  m('root01'),
  m('a00001', ['root01'], ['billing']),
  m('a00002', ['a00001']),
  m('b00001', ['root01'], ['shop']),
  m('b00002', ['b00001']),
]);

/** left01 and right1 merged into merge1, then top001. */
const merged = RevisionGraph.from([
  m('root01'),
  m('left01', ['root01']),
  m('right1', ['root01']),
  m('merge1', ['left01', 'right1']),
  m('top001', ['merge1']),
]);

const up: TargetContext = { direction: 'up' };
const down: TargetContext = { direction: 'down' };
const at: TargetContext = { direction: 'at' };

describe('target syntax', () => {
  it('reads steps of two digits and more, either way, with or without a symbol or branch', () => {
    expect(parseTarget('head-12')).toEqual({ text: 'head-12', symbol: 'head', steps: -12 });
    expect(parseTarget('+120')).toEqual({ text: '+120', steps: 120 });
    expect(parseTarget('billing@-10')).toEqual({ text: 'billing@-10', branch: 'billing', steps: -10 });
    expect(parseTarget(' rev001+3 ')).toEqual({ text: ' rev001+3 ', symbol: 'rev001', steps: 3 });
  });

  it('refuses a step of zero, however written, and one too large to count', () => {
    expect(graphRefusal(() => parseTarget('head-00'))).toEqual({
      problem: 'invalid-target',
      message: "'head-00' moves by 00 steps; give 1 or more (e.g. -1, +2, head-1)",
      revisions: [],
    });
    expect(graphRefusal(() => parseTarget('+99999999999999999999')).message).toBe(
      "'+99999999999999999999' moves by 99999999999999999999 steps; give 1 or more (e.g. -1, +2, head-1)",
    );
  });

  it('shows every accepted form when a target is malformed', () => {
    expect(graphRefusal(() => parseTarget('x@y@z'))).toEqual({
      problem: 'invalid-target',
      message:
        "'x@y@z' is not a revision target; write a revision id (or 4+ characters of it), a branch label, " +
        'head, heads or base, optionally as <branch>@<target> (billing@head, billing@base, 3f2a@1b2c), ' +
        'or a relative step: -1, +2, 3f2a+2, head-1, base+2, billing@+1',
      revisions: ['x@y@z'],
    });
    expect(graphRefusal(() => parseTarget('bad-name@head')).problem).toBe('invalid-target');
  });

  it('refuses a relative step with anything before the name or after the digits', () => {
    for (const text of ['a.b+1', 'x y-1', 'head-1x', '+2.5']) {
      expect(graphRefusal(() => parseTarget(text)).problem).toBe('invalid-target');
    }
  });

  it('takes names of 1 to 64 letters, digits and underscores, no reserved word in any case', () => {
    expect(isValidName('a')).toBe(true);
    expect(isValidName('A_9')).toBe(true);
    expect(isValidName('x'.repeat(64))).toBe(true);
    expect(isValidName('x'.repeat(65))).toBe(false);
    expect(isValidName('')).toBe(false);
    expect(isValidName('a-b')).toBe(false);
    expect(isValidName('1a2b ')).toBe(false);
    for (const word of ['base', 'head', 'heads', 'current', 'HEAD', 'Current', 'BaSe', 'HEADS']) {
      expect(isValidName(word)).toBe(false);
    }
    expect([...RESERVED_NAMES]).toEqual(['base', 'head', 'heads', 'current']);
    expect(NAME_PATTERN.test(`${'x'.repeat(64)}\n`)).toBe(false);
    expect(parseTarget('x'.repeat(64))).toEqual({ text: 'x'.repeat(64), symbol: 'x'.repeat(64) });
    expect(graphRefusal(() => parseTarget('x'.repeat(65))).problem).toBe('invalid-target');
  });
});

describe('steps counted from a revision, at the ends of the graph', () => {
  it('goes twelve and more steps down from head, to base exactly at the bottom', () => {
    expect(resolveTarget(chain, 'head-12', down)).toEqual({ revisions: ['rev002'] });
    expect(resolveTarget(chain, 'head-13', down)).toEqual({ revisions: ['rev001'] });
    expect(resolveTarget(chain, 'head-14', down)).toEqual({ revisions: [] });
    expect(resolveTarget(chain, 'rev001-1', down)).toEqual({ revisions: [] });
  });

  it('refuses one step past base, saying where base is', () => {
    expect(graphRefusal(() => resolveTarget(chain, 'head-15', down))).toEqual({
      problem: 'invalid-target',
      message:
        "'head-15' goes 15 steps down from rev014, but base is 14 steps down; go down to base instead, or take fewer steps",
      revisions: ['rev014'],
    });
    expect(graphRefusal(() => resolveTarget(chain, 'rev001-2', down)).message).toBe(
      "'rev001-2' goes 2 steps down from rev001, but base is 1 step down; go down to base instead, or take fewer steps",
    );
    expect(graphRefusal(() => resolveTarget(chain, 'base-1', down)).message).toBe(
      "'base-1' goes 1 step down from base, but base is 0 steps down; go down to base instead, or take fewer steps",
    );
  });

  it('goes twelve and more steps up from base, to the head exactly at the top', () => {
    expect(resolveTarget(chain, 'base+12', up)).toEqual({ revisions: ['rev012'] });
    expect(resolveTarget(chain, 'base+14', up)).toEqual({ revisions: ['rev014'] });
    expect(resolveTarget(chain, 'rev002+12', up)).toEqual({ revisions: ['rev014'] });
  });

  it('refuses one step past the head, saying how far the graph goes', () => {
    expect(graphRefusal(() => resolveTarget(chain, 'base+15', up))).toEqual({
      problem: 'invalid-target',
      message:
        "'base+15' goes 15 steps up from base, but the graph ends 14 steps up, at rev014; rds-migrate history lists the revisions",
      revisions: ['base'],
    });
    expect(graphRefusal(() => resolveTarget(chain, 'rev013+2', up)).message).toBe(
      "'rev013+2' goes 2 steps up from rev013, but the graph ends 1 step up, at rev014; rds-migrate history lists the revisions",
    );
    expect(graphRefusal(() => resolveTarget(chain, 'rev014+1', up)).message).toBe(
      "'rev014+1' goes 1 step up from rev014, but nothing lies above rev014; rds-migrate history lists the revisions",
    );
  });

  it('names a branch to follow when the walk up forks, by label where there is one', () => {
    expect(graphRefusal(() => resolveTarget(forked, 'root01+1', up))).toEqual({
      problem: 'ambiguous-revision',
      message:
        "'root01+1' is ambiguous: above root01 the graph branches into a00001, b00001; " +
        'name the branch to follow with <branch>@, e.g. billing@root01+1',
      revisions: ['a00001', 'b00001'],
    });
    expect(graphRefusal(() => resolveTarget(merged, 'base+2', up)).message).toBe(
      "'base+2' is ambiguous: above root01 the graph branches into left01, right1; " +
        'name the branch to follow with <branch>@, e.g. left01@base+2',
    );
    expect(resolveTarget(forked, 'billing@root01+2', up)).toEqual({
      revisions: ['a00002'],
      branch: 'a00001',
    });
    expect(resolveTarget(forked, 'shop@base+1', up)).toEqual({ revisions: ['root01'], branch: 'b00001' });
  });

  it('walks down through a merge to both its parents, and no further', () => {
    expect(resolveTarget(merged, 'top001-2', down)).toEqual({ revisions: ['left01', 'right1'] });
    expect(graphRefusal(() => resolveTarget(merged, 'top001-3', down))).toEqual({
      problem: 'ambiguous-revision',
      message:
        "'top001-3' is ambiguous: 2 steps down the walk reaches a merge of left01, right1; " +
        'count down from one of them instead (e.g. left01-1)',
      revisions: ['left01', 'right1'],
    });
    expect(graphRefusal(() => resolveTarget(merged, 'merge1-2', down)).message).toBe(
      "'merge1-2' is ambiguous: 1 step down the walk reaches a merge of left01, right1; " +
        'count down from one of them instead (e.g. left01-1)',
    );
  });
});

describe('the part before @', () => {
  it('refuses head, heads, base and current in any case: they name no branch', () => {
    for (const word of ['head', 'HEAD', 'heads', 'base', 'current']) {
      expect(graphRefusal(() => resolveTarget(forked, `${word}@a00002`, at))).toEqual({
        problem: 'invalid-target',
        message: `'${word}@a00002': the part before '@' names a branch, by its label or one of its revisions; '${word}' is neither`,
        revisions: [word],
      });
    }
  });

  it('says where labels and revisions are listed when it names nothing, and passes an ambiguity on', () => {
    expect(graphRefusal(() => resolveTarget(forked, 'nope@head', at))).toEqual({
      problem: 'unknown-revision',
      message:
        "'nope@head': no branch label or revision is called 'nope'; rds-migrate heads shows the labels, " +
        'rds-migrate history the revisions',
      revisions: ['nope'],
    });
    expect(graphRefusal(() => resolveTarget(chain, 'rev0@head', at)).problem).toBe('ambiguous-revision');
  });

  it("confines the target to the branch's heads and revisions", () => {
    expect(resolveTarget(forked, 'billing@head', at)).toEqual({ revisions: ['a00002'], branch: 'a00001' });
    expect(resolveTarget(forked, 'billing@heads', at)).toEqual({ revisions: ['a00002'], branch: 'a00001' });
    expect(resolveTarget(forked, 'billing@base', at)).toEqual({ revisions: [], branch: 'a00001' });
    expect(resolveTarget(forked, 'b00001@head', at)).toEqual({ revisions: ['b00002'], branch: 'b00001' });
    expect(resolveTarget(forked, 'billing@root', at)).toEqual({ revisions: ['root01'], branch: 'a00001' });
  });

  it('refuses a revision off the branch, and head where the branch has several', () => {
    expect(graphRefusal(() => resolveTarget(forked, 'billing@b00002', at))).toEqual({
      problem: 'invalid-target',
      message:
        'revision b00002 is not on branch billing (the ancestors and descendants of a00001); name a revision of ' +
        "that branch, or drop 'billing@'",
      revisions: ['b00002'],
    });
    expect(graphRefusal(() => resolveTarget(forked, 'root01@head', at))).toEqual({
      problem: 'multiple-heads',
      message:
        "branch root01 has several heads (a00002, b00002); name one, or 'root01@heads' for all of them",
      revisions: ['a00002', 'b00002'],
    });
    expect(resolveTarget(forked, 'root01@heads', at)).toEqual({
      revisions: ['a00002', 'b00002'],
      branch: 'root01',
    });
  });
});

describe('steps counted from the database', () => {
  it('say what to type instead when the current revision is not known', () => {
    expect(graphRefusal(() => resolveTarget(chain, '-2', down))).toEqual({
      problem: 'invalid-target',
      message:
        "'-2' counts from the database's current revision, which is not known here; count from a revision " +
        'instead (head-2, base+2, <rev>-2)',
      revisions: ['-2'],
    });
    expect(graphRefusal(() => resolveTarget(chain, '+3', up)).message).toBe(
      "'+3' counts from the database's current revision, which is not known here; count from a revision " +
        'instead (head, base+3, <rev>+3)',
    );
  });

  it('refuse the wrong direction, saying which command goes that way', () => {
    expect(
      graphRefusal(() => resolveTarget(chain, '+2', { direction: 'down', current: ['rev001'] })),
    ).toEqual({
      problem: 'invalid-target',
      message:
        "'+2' would go up from the current revision; use up +2, or name where down stops (e.g. base+2)",
      revisions: ['+2'],
    });
    expect(graphRefusal(() => resolveTarget(chain, '-1', { direction: 'up', current: ['rev003'] }))).toEqual({
      problem: 'invalid-target',
      message: "'-1' would go down; use down -1",
      revisions: ['-1'],
    });
    expect(resolveTarget(chain, '-1', { direction: 'at', current: ['rev003'] })).toEqual({
      revisions: ['rev002'],
      branch: 'rev003',
    });
    expect(resolveTarget(chain, '+1', { direction: 'at', current: ['rev003'] })).toEqual({
      revisions: ['rev004'],
    });
  });

  it('count twelve steps down to base, and up from nothing applied', () => {
    expect(resolveTarget(chain, '-12', { direction: 'down', current: ['rev012'] })).toEqual({
      revisions: [],
      branch: 'rev012',
    });
    expect(resolveTarget(chain, '+12', { direction: 'up', current: [] })).toEqual({ revisions: ['rev012'] });
    expect(resolveTarget(chain, '+2', { direction: 'up', current: ['rev012'] })).toEqual({
      revisions: ['rev014'],
    });
  });

  it('refuse to count down when nothing (of the branch) is applied', () => {
    expect(graphRefusal(() => resolveTarget(chain, '-1', { direction: 'down', current: [] }))).toEqual({
      problem: 'not-applied',
      message: "'-1' counts down from the current revision, but nothing is applied",
      revisions: ['-1'],
    });
    expect(
      graphRefusal(() => resolveTarget(forked, 'billing@-1', { direction: 'down', current: [] })).message,
    ).toBe("'billing@-1' counts down from the current revision, but nothing of branch billing is applied");
    expect(resolveTarget(forked, 'billing@+1', { direction: 'up', current: [] })).toEqual({
      revisions: ['root01'],
      branch: 'a00001',
    });
  });

  it('ask which branch when the database has several heads, with an example to copy', () => {
    const context = { direction: 'down' as const, current: ['a00002', 'b00002'] };
    expect(graphRefusal(() => resolveTarget(forked, '-1', context))).toEqual({
      problem: 'ambiguous-revision',
      message:
        "'-1' counts from the current revision, but the database has several heads (a00002 (billing), b00002 (shop)); " +
        'say which branch: <branch>@-1 or <head>-1, e.g. billing@-1 or a00002-1',
      revisions: ['a00002', 'b00002'],
    });
    expect(
      graphRefusal(() => resolveTarget(merged, '+1', { direction: 'up', current: ['left01', 'right1'] }))
        .message,
    ).toBe(
      "'+1' counts from the current revision, but the database has several heads (left01, right1); " +
        'say which branch: <branch>@+1 or <head>+1, e.g. left01+1',
    );
  });

  it('count on the named branch only, from its head or, when it has none applied, from where it starts', () => {
    const both = { direction: 'down' as const, current: ['a00002', 'b00002'] };
    expect(resolveTarget(forked, 'billing@-1', both)).toEqual({ revisions: ['a00001'], branch: 'a00001' });
    expect(resolveTarget(forked, 'shop@-2', both)).toEqual({ revisions: ['root01'], branch: 'b00001' });
    expect(resolveTarget(forked, 'billing@+1', { direction: 'up', current: ['b00002'] })).toEqual({
      revisions: ['a00001'],
      branch: 'a00001',
    });
    expect(resolveTarget(forked, 'billing@+2', { direction: 'up', current: ['root01'] })).toEqual({
      revisions: ['a00002'],
      branch: 'a00001',
    });
  });
});

describe('a label on the trunk', () => {
  /**
   *                  a00001 (billing) - a00002
   * root01 (trunk, t) <
   *                  b00001 (shop, store) - e00001 (depends on a00002)
   */
  const trunk = RevisionGraph.from([
    m('root01', [], ['trunk', 't']),
    m('a00001', ['root01'], ['billing']),
    m('a00002', ['a00001']),
    m('b00001', ['root01'], ['store', 'shop']),
    { ...m('e00001', ['b00001']), dependsOn: ['a00002'] },
  ]);

  it('names the branch to follow, keeping what was typed after the @', () => {
    expect(graphRefusal(() => resolveTarget(trunk, 'trunk@root01+1', up)).message).toBe(
      "'trunk@root01+1' is ambiguous: above root01 the graph branches into a00001, b00001; " +
        'name the branch to follow with <branch>@, e.g. billing@root01+1',
    );
    expect(graphRefusal(() => resolveTarget(trunk, 't@root01+1', up)).message).toContain(
      'e.g. billing@root01+1',
    );
  });

  it('counts from the head nothing applied depends on, not from a head another one needs', () => {
    expect(resolveTarget(trunk, 'trunk@-1', { direction: 'down', current: ['a00002', 'e00001'] })).toEqual({
      revisions: ['b00001'],
      branch: 'root01',
    });
  });

  it('lists every label of a head when asking which branch', () => {
    const several = RevisionGraph.from([
      m('root01'),
      m('a00001', ['root01'], ['x', 'y']),
      m('b00001', ['root01']),
    ]);
    expect(
      graphRefusal(() => resolveTarget(several, '-1', { direction: 'down', current: ['a00001', 'b00001'] }))
        .message,
    ).toBe(
      "'-1' counts from the current revision, but the database has several heads (a00001 (x, y), b00001); " +
        'say which branch: <branch>@-1 or <head>-1, e.g. x@-1 or a00001-1',
    );
  });
});

describe('a target that must name one revision', () => {
  it('is base for base, the revision for one, and refused for several, heads or not', () => {
    expect(resolveRevision(forked, 'base')).toBe('base');
    expect(resolveRevision(forked, 'billing@head')).toBe('a00002');
    expect(graphRefusal(() => resolveRevision(forked, 'heads'))).toEqual({
      problem: 'multiple-heads',
      message: "'heads' names several revisions (a00002, b00002); name one of them",
      revisions: ['a00002', 'b00002'],
    });
    expect(graphRefusal(() => resolveRevision(merged, 'top001-2'))).toEqual({
      problem: 'ambiguous-revision',
      message: "'top001-2' names several revisions (left01, right1); name one of them",
      revisions: ['left01', 'right1'],
    });
    expect(graphRefusal(() => resolveTarget(forked, 'heads+1', up)).problem).toBe('multiple-heads');
    expect(resolveRevision(chain, '-2', { direction: 'at', current: ['rev005'] })).toBe('rev003');
  });
});
