/** Autogenerate on real PostgreSQL: indexes, constraints, enums, views, functions, sequences (the corpus in test/fixtures/autogen/). */
import { OBJECT_CASES } from '../fixtures/autogen/corpus.ts';
import { describeCorpus } from './corpus-run.ts';

describeCorpus('create --autogenerate: indexes, constraints and other objects', OBJECT_CASES);
