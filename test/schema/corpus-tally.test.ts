/**
 * The corpus tally (issue 28): every case of the corpus through create --autogenerate and
 * through the diff library alone, counted as the issue counts them: generated, applies on
 * tables with rows, reaches the wanted catalog (the independent reading), keeps the rows and
 * rewrites nothing unexpected, safe or awaiting a reason (the linter). Not part of npm test
 * (minutes): AUTOGEN_TALLY=1 npx vitest run test/schema/corpus-tally.test.ts
 */
import { afterAll, describe, it } from 'vitest';
import { OBJECT_CASES, TABLE_CASES } from '../fixtures/autogen/corpus.ts';
import { KIND_CASES } from '../fixtures/autogen/corpus-kinds.ts';
import {
  type CorpusOutcome,
  dropBeforeTemplates,
  exerciseCorpusCase,
  exerciseRawDiff,
} from './corpus-run.ts';

const COLUMNS = [
  'generated',
  'applies with rows',
  'reaches the wanted catalog',
  'rows kept, no unexpected rewrite',
  'safe or awaiting a reason',
] as const;

function marks(outcome: CorpusOutcome, expectedRewrites: readonly string[]): boolean[] {
  const generated = outcome.failed?.stage !== 'generate';
  const applies = generated && outcome.failed === undefined;
  const kept =
    applies &&
    outcome.lost.length === 0 &&
    outcome.rewritten.every((table) => expectedRewrites.includes(table));
  return [
    generated,
    applies,
    applies && outcome.differences.length === 0,
    kept,
    generated && outcome.lint.length === 0,
  ];
}

describe.runIf(process.env.AUTOGEN_TALLY)('the corpus tally', () => {
  afterAll(dropBeforeTemplates);
  it(
    'counts autogenerate beside the raw diff library',
    async () => {
      const cases = [...TABLE_CASES, ...OBJECT_CASES, ...KIND_CASES];
      const totals = { autogenerate: COLUMNS.map(() => 0), raw: COLUMNS.map(() => 0) };
      const lines: string[] = [];
      for (const corpusCase of cases) {
        const failedRun = (error: unknown): CorpusOutcome => ({
          failed: { stage: 'generate', message: (error as Error).message },
          lint: [],
          kept: [],
          differences: [],
          rewritten: [],
          lost: [],
        });
        const auto = await exerciseCorpusCase(corpusCase).catch(failedRun);
        const raw = await exerciseRawDiff(corpusCase).catch(failedRun);
        const rewrites = corpusCase.rewrites ?? [];
        const [autoMarks, rawMarks] = [marks(auto, rewrites), marks(raw, rewrites)];
        totals.autogenerate = totals.autogenerate.map((count, index) => count + (autoMarks[index] ? 1 : 0));
        totals.raw = totals.raw.map((count, index) => count + (rawMarks[index] ? 1 : 0));
        const show = (each: boolean[]) => each.map((mark) => (mark ? 'y' : '-')).join('');
        const why = (outcome: CorpusOutcome) =>
          outcome.failed
            ? `${outcome.failed.stage}: ${outcome.failed.message.split('\n')[0]?.slice(0, 140)}`
            : [...outcome.differences.slice(0, 2), ...outcome.lost.slice(0, 1), ...outcome.lint.slice(0, 1)]
                .join(' | ')
                .slice(0, 200);
        lines.push(`${show(autoMarks)} ${show(rawMarks)}  ${corpusCase.name}`);
        if (autoMarks.includes(false)) lines.push(`        autogenerate: ${why(auto)}`);
        if (rawMarks.includes(false)) lines.push(`        raw diff:     ${why(raw)}`);
      }
      const row = (label: string, counts: number[]) =>
        `${label.padEnd(14)}${counts.map((count, index) => `${COLUMNS[index]} ${count}`).join(', ')}`;
      process.stdout.write(
        [
          `corpus tally, ${cases.length} cases (marks: ${COLUMNS.join(' / ')}; autogenerate, then the raw diff)`,
          ...lines,
          row('autogenerate:', totals.autogenerate),
          row('raw diff:', totals.raw),
          '',
        ].join('\n'),
      );
    },
    60 * 60_000,
  );
});
