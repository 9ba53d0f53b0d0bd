/** Autogenerate on real PostgreSQL: partitions, domains, composite types, policies, triggers, comments, collations, exclusion constraints, schemas (test/fixtures/autogen/corpus-kinds.ts). */
import { KIND_CASES } from '../fixtures/autogen/corpus-kinds.ts';
import { describeCorpus } from './corpus-run.ts';

describeCorpus(
  'create --autogenerate: partitions, types, policies, triggers, comments and schemas',
  KIND_CASES,
);
