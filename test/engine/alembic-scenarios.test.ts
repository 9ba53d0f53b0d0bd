/**
 * Alembic's own revision scenarios (tests/test_revision.py, tests/test_version_traversal.py), each
 * graph a fixture in test/fixtures/alembic/ with what Alembic answers and what rds-migrate
 * answers. Where both answer, they name the same revisions; the order of independent branches
 * may differ (each is a valid order of the graph, checked here), and the database's heads may
 * list a revision Alembic leaves implied by a dependency (the applied set is the same, checked
 * here). Where they differ on purpose, the fixture says why (`differs`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../lib/engine/errors.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import type { Migration } from '../../lib/engine/migration.ts';
import { type Plan, planDowngrade, planStamp, planUpgrade } from '../../lib/engine/plan.ts';
import { resolveTarget } from '../../lib/engine/target.ts';
import { sqlMigration } from '../support/migrations.ts';

interface FixtureRevision {
  readonly revision: string;
  readonly down: readonly string[];
  readonly labels?: readonly string[];
  readonly dependsOn?: readonly string[];
}

interface Scenario {
  readonly alembicTest: string | null;
  readonly command: 'up' | 'down' | 'stamp' | 'resolve' | 'heads' | 'load';
  readonly target?: string | readonly string[];
  readonly current?: readonly string[];
  /** What Alembic answers: the steps in the order it runs them, or the revisions a target names. */
  readonly alembic?: readonly string[];
  /** Alembic's heads after the steps (its alembic_version rows). */
  readonly alembicHeads?: readonly string[];
  readonly alembicError?: string;
  readonly alembicWarning?: string;
  /** What rds-migrate answers: the steps in its order, the revisions named, or the heads after a stamp. */
  readonly expected?: readonly string[];
  /** The GraphError problem rds-migrate answers with. */
  readonly error?: string;
  /** Why rds-migrate answers differently, when it does. */
  readonly differs?: string;
}

interface Fixture {
  readonly alembic: string;
  readonly revisions: readonly FixtureRevision[];
  readonly scenarios: readonly Scenario[];
}

const FOLDER = join(import.meta.dirname, '../fixtures/alembic');
const fixtures = readdirSync(FOLDER)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => ({ name, fixture: JSON.parse(readFileSync(join(FOLDER, name), 'utf8')) as Fixture }));

/** File names keep Alembic's order of the revisions, which both tools use to break ties. */
function migrationsOf(fixture: Fixture): Migration[] {
  return fixture.revisions.map((entry, index) => ({
    ...sqlMigration(entry.revision, 'SELECT 1', { parents: entry.down }),
    source: `${String(index).padStart(3, '0')}_${entry.revision}.sql`,
    ...(entry.labels ? { branchLabels: entry.labels } : {}),
    ...(entry.dependsOn ? { dependsOn: entry.dependsOn } : {}),
  }));
}

interface Answer {
  readonly revisions: readonly string[];
  readonly plan?: Plan;
}

function answer(graph: RevisionGraph, scenario: Scenario): Answer {
  const current = scenario.current ?? [];
  const target = scenario.target ?? 'head';
  switch (scenario.command) {
    case 'up': {
      const plan = planUpgrade(graph, current, target);
      return { revisions: plan.steps.map((step) => step.revision), plan };
    }
    case 'down': {
      const plan = planDowngrade(graph, current, target as string);
      return { revisions: plan.steps.map((step) => step.revision), plan };
    }
    case 'stamp': {
      const plan = planStamp(graph, current, target);
      return { revisions: plan.to, plan };
    }
    case 'resolve':
      return { revisions: resolveTarget(graph, target as string, { current, direction: 'at' }).revisions };
    case 'heads':
      return { revisions: graph.heads };
    case 'load':
      return { revisions: [] };
  }
}

/** Each step's revision has what it needs (up) or nothing applied needs it any more (down). */
function expectValidOrder(graph: RevisionGraph, current: readonly string[], plan: Plan): void {
  const applied = graph.ancestors(current);
  for (const step of plan.steps) {
    if (step.direction === 'up') {
      const needs = [...step.migration.downRevisions, ...graph.dependencies(step.revision)];
      expect(needs.filter((revision) => !applied.has(revision))).toEqual([]);
      applied.add(step.revision);
    } else {
      applied.delete(step.revision);
      const needing = [...applied].filter((revision) =>
        [...graph.get(revision).downRevisions, ...graph.dependencies(revision)].includes(step.revision),
      );
      expect(needing).toEqual([]);
    }
  }
}

describe.each(fixtures)('Alembic scenarios: $name', ({ fixture }) => {
  const build = () => RevisionGraph.from(migrationsOf(fixture));

  it.each(
    fixture.scenarios.map((scenario) => ({
      ...scenario,
      title: `${scenario.command} ${[scenario.target ?? ''].flat().join(' ')} from [${(scenario.current ?? []).join(', ')}] (${scenario.alembicTest ?? 'no Alembic test'})`,
    })),
  )('$title', (scenario) => {
    if (scenario.command === 'load') {
      expect(build).toThrow(GraphError);
      expect(() => build()).toThrowError(expect.objectContaining({ problem: scenario.error }));
      return;
    }
    const graph = build();
    if (scenario.error) {
      let thrown: unknown;
      try {
        answer(graph, scenario);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(GraphError);
      expect((thrown as GraphError).problem).toBe(scenario.error);
      // Alembic refuses too, unless the fixture says why rds-migrate refuses where Alembic answers.
      if (!scenario.differs) expect(scenario.alembicError).toBeDefined();
      return;
    }
    const result = answer(graph, scenario);
    expect(result.revisions).toEqual(scenario.expected);
    if (result.plan && scenario.command !== 'stamp')
      expectValidOrder(graph, scenario.current ?? [], result.plan);
    if (scenario.differs) return;
    expect(scenario.alembicError).toBeUndefined();
    if (scenario.alembic) expect([...result.revisions].sort()).toEqual([...scenario.alembic].sort());
    if (scenario.alembicHeads && result.plan) {
      // The same applied set, whichever heads stand for it.
      const after = [...graph.ancestors(result.plan.to)].sort();
      expect(after).toEqual([...graph.ancestors(scenario.alembicHeads)].sort());
    }
  });
});

describe('the Alembic scenario fixtures', () => {
  it('cover each kind of target and graph', () => {
    const scenarios = fixtures.flatMap(({ fixture }) => fixture.scenarios);
    const targets = scenarios.flatMap((scenario) => [scenario.target ?? []].flat());
    expect(scenarios.length).toBeGreaterThanOrEqual(150);
    for (const form of [
      /^[+-]\d+$/,
      /^\w+\+\d+$/,
      /^head-\d+$/,
      /^base\+\d+$/,
      /@head$/,
      /@base$/,
      /@-\d+$/,
      /^\w+@\w+$/,
    ]) {
      expect(targets.some((target) => form.test(target))).toBe(true);
    }
  });
});
