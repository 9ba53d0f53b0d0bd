/**
 * One corpus case, end to end: the "before" schema generated from an empty folder, then the
 * "after" schema generated on top; the check of the folder (lint, round trip of every migration,
 * the wanted schema's comparison) then finds nothing but allow lines awaiting a reason and the
 * findings kept for a person (a rename's), and nothing else once the allow lines have one.
 */
import { expect } from 'vitest';
import type { AutogenerateReport } from '../../lib/schema/autogenerate.ts';
import type { CorpusCase } from '../fixtures/autogen/corpus.ts';
import { AutogenProject, problemsBesidesAwaitingReasons } from './autogen-harness.ts';

/**
 * The "before" migrations, generated once per schema in a test file and copied into the next
 * case that starts from it: the same input gives the same migration (but for its revision id),
 * and a generation costs seconds.
 */
const beforeMigrations = new Map<string, ReadonlyMap<string, string>>();

async function startFrom(project: AutogenProject, before: string): Promise<void> {
  const generated = beforeMigrations.get(before);
  if (generated) {
    await project.writeMigrations(generated);
    return;
  }
  await project.wantSql(before);
  expect((await project.autogenerate('before')).status).toBe('written');
  beforeMigrations.set(before, await project.migrationFiles());
}

export async function runCorpusCase(corpusCase: CorpusCase): Promise<AutogenerateReport> {
  const project = await AutogenProject.create();
  try {
    await startFrom(project, corpusCase.before);
    await project.wantSql(corpusCase.after);
    const report = await project.autogenerate(corpusCase.name, undefined, { renames: corpusCase.renames });
    expect(report.status).toBe('written');
    expect(report.files.map((file) => file.role)).toEqual(corpusCase.roles);
    const rules = (kind: string) =>
      report.review.flatMap((item) => (item.kind === kind && item.rule ? [item.rule] : [])).sort();
    const awaiting = rules('allow-line');
    expect(awaiting).toEqual([...(corpusCase.awaiting ?? [])].sort());
    const kept = corpusCase.findings ?? [];
    expect(rules('finding')).toEqual([...kept].sort());
    const text = (await Promise.all(report.files.map((file) => project.text(file.file)))).join('\n');
    for (const fragment of corpusCase.contains ?? []) expect(text).toContain(fragment);
    for (const fragment of corpusCase.lacks ?? [])
      expect(text.toLowerCase()).not.toContain(fragment.toLowerCase());
    for (const file of report.files) {
      // A down step says each thing once (a repair must not repeat what the diff back has).
      const down = (await project.text(file.file)).split('-- migrate:down')[1] ?? '';
      const statements = down
        .split(';')
        .map((sql) => sql.trim())
        .filter(Boolean);
      expect(statements, `${file.file}'s down step`).toEqual([...new Set(statements)]);
    }
    if (corpusCase.review)
      expect(report.review.map((item) => item.message).join('\n')).toMatch(corpusCase.review);

    const check = await project.check();
    expect(check.checks.roundTrip.status).toBe('ok');
    expect(check.checks.wantedSchema.status).toBe('ok');
    expect(problemsBesidesAwaitingReasons(check, awaiting, kept)).toEqual([]);
    const lintRules = (problems: typeof check.problems) =>
      problems.flatMap((problem) =>
        problem.kind === 'lint' && kept.includes(problem.rule) ? [problem.rule] : [],
      );
    expect(lintRules(check.problems).sort()).toEqual([...kept].sort());
    // Reasons on the allow lines silence everything but the kept findings.
    const decided = await project.checkWithReasons();
    expect(decided.problems.map((problem) => problem.rule).sort()).toEqual([...kept].sort());
    return report;
  } finally {
    await project.remove();
  }
}
