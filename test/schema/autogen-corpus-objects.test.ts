/** Autogenerate on real PostgreSQL: indexes, constraints, enums, views, functions, sequences (the corpus in test/fixtures/autogen/). */
import { afterAll, describe, it } from 'vitest';
import { OBJECT_CASES } from '../fixtures/autogen/corpus.ts';
import { CORPUS_CASE_TIMEOUT, dropBeforeTemplates, runCorpusCase } from './corpus-run.ts';

describe('create --autogenerate: indexes, constraints and other objects', () => {
  // AUTOGEN_MATRIX=1 prints which cases the diff library handled alone and which our rules rewrote.
  const matrix: string[] = [];
  afterAll(async () => {
    if (process.env.AUTOGEN_MATRIX) process.stdout.write(`${matrix.join('\n')}\n`);
    await dropBeforeTemplates();
  });
  for (const corpusCase of OBJECT_CASES) {
    it(
      corpusCase.name,
      async () => {
        const { report } = await runCorpusCase(corpusCase);
        matrix.push(`${corpusCase.name}: ${report?.rewrites.join(', ') || 'the diff library alone'}`);
      },
      CORPUS_CASE_TIMEOUT,
    );
  }
});
