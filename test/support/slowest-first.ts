/**
 * The order files start in: vitest's own (failed first, then the longest by the durations it
 * cached), but the files known to be the slowest start first when vitest has no duration for
 * them (a new checkout, CI). By file size, its fallback, the corpus files (a few lines each,
 * minutes of cases) would start last and run alone at the end of the run.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The slowest files of `npm test`, slowest first (node_modules/.vite/vitest/<hash>/results.json). */
const SLOWEST_FILES = [
  'test/package/consumer.test.ts',
  'test/schema/autogen-corpus-objects.test.ts',
  'test/schema/autogen-corpus-kinds.test.ts',
  'test/schema/autogen-corpus-tables.test.ts',
  'test/lambda/background.test.ts',
  'test/lambda/deploy-time.test.ts',
  'test/schema/autogen-drizzle.test.ts',
  'test/construct/construct.test.ts',
];

export default class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const path = (file: TestSpecification) => relative(root, file.moduleId);
    const unmeasured = (file: TestSpecification) =>
      !this.ctx.cache.getFileTestResults(`${file.project.name}:${path(file)}`);
    const rank = (file: TestSpecification) => {
      const index = SLOWEST_FILES.indexOf(path(file));
      return index >= 0 && unmeasured(file) ? index : SLOWEST_FILES.length;
    };
    // Array.prototype.sort is stable: the rest keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
