/** Autogenerate on real PostgreSQL: partitions, domains, composite types, policies, triggers, comments, collations, exclusion constraints, schemas (test/fixtures/autogen/corpus-kinds.ts). */
import { afterAll, describe, it } from 'vitest';
import { KIND_CASES } from '../fixtures/autogen/corpus-kinds.ts';
import { CORPUS_CASE_TIMEOUT, dropBeforeTemplates, runCorpusCase } from './corpus-run.ts';

describe('create --autogenerate: partitions, types, policies, triggers, comments and schemas', () => {
  afterAll(dropBeforeTemplates);
  for (const corpusCase of KIND_CASES) {
    it(
      corpusCase.name,
      async () => {
        await runCorpusCase(corpusCase);
      },
      CORPUS_CASE_TIMEOUT,
    );
  }
});
