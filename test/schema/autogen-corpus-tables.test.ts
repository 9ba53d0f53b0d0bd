/** Autogenerate on real PostgreSQL: tables and columns (the corpus in test/fixtures/autogen/). */
import { TABLE_CASES } from '../fixtures/autogen/corpus.ts';
import { describeCorpus } from './corpus-run.ts';

describeCorpus('create --autogenerate: tables and columns', TABLE_CASES);
