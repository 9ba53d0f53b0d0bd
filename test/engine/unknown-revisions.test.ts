import { describe, expect, it } from 'vitest';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { planStamp } from '../../lib/engine/plan.ts';
import {
  assertHeadsKnown,
  CLI_RECOVERY,
  cliRecovery,
  FUNCTION_RECOVERY,
  recoveryTarget,
  UnknownRevisionError,
} from '../../lib/engine/unknown-revisions.ts';
import { sqlMigration } from '../support/migrations.ts';

// root01 <- mid001 <- (left01 | rght01): two branches over a shared mid001.
const graph = RevisionGraph.from([
  sqlMigration('root01', 'SELECT 1'),
  sqlMigration('mid001', 'SELECT 1', { parents: ['root01'] }),
  sqlMigration('left01', 'SELECT 1', { parents: ['mid001'] }),
  sqlMigration('rght01', 'SELECT 1', { parents: ['mid001'] }),
]);

/** A history state as the log leaves it: the heads, and every revision it says is applied. */
function state(heads: string[], applied: string[]) {
  return { heads, checksums: new Map(applied.map((revision) => [revision, 'x'])) };
}

function refusal(body: () => void): UnknownRevisionError {
  try {
    body();
  } catch (error) {
    if (error instanceof UnknownRevisionError) return error;
    throw error;
  }
  throw new Error('expected an UnknownRevisionError');
}

describe('recoveryTarget', () => {
  it('after a deleted head file: its parent, the newest revision the log says is applied', () => {
    expect(recoveryTarget(graph, state(['gone01'], ['root01', 'mid001', 'gone01']))).toEqual(['mid001']);
  });

  it('after a switch of branch: the revision both branches share, not the other head', () => {
    const other = state(['othr02'], ['root01', 'mid001', 'othr01', 'othr02']);
    expect(recoveryTarget(graph, other)).toEqual(['mid001']);
  });

  it('keeps the known heads beside an unknown one', () => {
    expect(recoveryTarget(graph, state(['left01', 'gone01'], ['root01', 'mid001', 'left01']))).toEqual([
      'left01',
    ]);
  });

  it('is base when the log says nothing here is applied', () => {
    expect(recoveryTarget(graph, state(['gone01'], ['gone01']))).toEqual([]);
  });
});

describe('assertHeadsKnown', () => {
  it('lets known heads through', () => {
    expect(() => assertHeadsKnown(graph, state(['left01'], []), CLI_RECOVERY)).not.toThrow();
  });

  it('names the purge with the folder as the user typed it', () => {
    const error = refusal(() =>
      assertHeadsKnown(graph, state(['gone01'], ['root01', 'mid001']), cliRecovery('db/m/', ' -d db/m')),
    );
    expect(error.problem).toBe('unknown-revision');
    expect(error.unknown).toEqual(['gone01']);
    expect(error.message).toContain(
      "a revision no file in db/m/ has; a deleted migration, or another branch's",
    );
    expect(error.message).toContain('rds-migrate -d db/m stamp --purge mid001 forgets it and records mid001');
  });

  it('tells a stamp to add --purge, with the target it was given', () => {
    const error = refusal(() => assertHeadsKnown(graph, state(['gone01'], []), CLI_RECOVERY, ['left01']));
    expect(error.message).toContain('add --purge: rds-migrate stamp --purge left01');
  });

  it('gives the deployed function its payload', () => {
    const error = refusal(() => assertHeadsKnown(graph, state(['gone01'], []), FUNCTION_RECOVERY, ['base']));
    expect(error.message).toContain("no file in this function's bundle has");
    expect(error.message).toContain(
      'add "purge": true: the invoke {"action":"stamp","revision":"base","purge":true',
    );
  });
});

describe('planStamp with purge', () => {
  it('keeps no current head, even those a branch-qualified target would keep', () => {
    expect(planStamp(graph, ['left01', 'rght01'], 'rght01@root01').to).toEqual(['left01']);
    expect(planStamp(graph, ['left01', 'rght01'], 'rght01@root01', { purge: true }).to).toEqual(['root01']);
  });

  it('counts relative steps from the heads the graph knows', () => {
    expect(planStamp(graph, ['left01', 'gone01'], '-1', { purge: true }).to).toEqual(['mid001']);
  });
});
