/**
 * `npm run mutate [-- <module>...] [--full] [--list]`: mutation testing (StrykerJS with the vitest
 * runner) of the modules whose tests must fail when the code is wrong. Each module is mutated on
 * its own, with just the test files meant to cover it, one at a time, on one core (the npm script
 * runs this under `nice`). A mutant is a small change to the code (a `<` made `<=`, a string
 * emptied, a list entry removed); one no test notices "survives" and shows a behaviour no test
 * asserts. Equivalent mutants (changes no behaviour can tell apart) are listed, each with why, in
 * scripts/mutate-equivalent.ts (or marked in the source, `// Stryker disable next-line <mutator>:
 * <reason>`); the run counts them apart and prints them.
 *
 * Results are kept in .mutation/ (git-ignored): an HTML report per module and the incremental
 * file that lets the next run test again only the mutants whose code or tests changed.
 * Exits 1 when a module scores under the threshold.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { Stryker } from '@stryker-mutator/core';
import { EQUIVALENT_MUTANTS, type EquivalentMutant } from './mutate-equivalent.ts';

interface MutatedModule {
  /** The file Stryker mutates. */
  readonly file: string;
  /** The test files meant to cover it: only these run against its mutants. */
  readonly tests: readonly string[];
  /** Its tests drive the deployed function against a real database: the run starts the suite's server. */
  readonly postgres?: boolean;
}

type StrykerOptions = ConstructorParameters<typeof Stryker>[0];

/** The score a module must reach: killed (or timed out) mutants over all but the equivalent ones. */
const THRESHOLD = 85;

const MODULES: Record<string, MutatedModule> = {
  graph: {
    file: 'lib/engine/graph.ts',
    tests: [
      'test/engine/graph.test.ts',
      'test/engine/graph-messages.test.ts',
      'test/engine/alembic-scenarios.test.ts',
    ],
  },
  plan: {
    file: 'lib/engine/plan.ts',
    tests: [
      'test/engine/plan.test.ts',
      'test/engine/plan-messages.test.ts',
      'test/engine/alembic-scenarios.test.ts',
    ],
  },
  target: {
    file: 'lib/engine/target.ts',
    tests: [
      'test/engine/target.test.ts',
      'test/engine/target-edges.test.ts',
      'test/engine/alembic-scenarios.test.ts',
    ],
  },
  'lock-modes': {
    file: 'lib/lint/model/lock-modes.ts',
    // Both tables are module constants: Stryker reruns every mapped test for each of their mutants,
    // so the unit tests that check them entry by entry are the whole set (the linter's own tests
    // would cost ten times as much and add no entry they do not check).
    tests: ['test/lint/lock-table.test.ts'],
  },
  'rewrite-rules': {
    file: 'lib/lint/model/rewrite-rules.ts',
    tests: ['test/lint/rewrite-rules.test.ts'],
  },
  failure: {
    file: 'lambda/failure.ts',
    tests: ['test/lambda/handler-config.test.ts', 'test/lambda/failure-limits.test.ts'],
  },
  // The deploy lifecycle's phases: their tests drive the handler with CloudFormation's and the
  // Provider framework's events against the real database (the suite's embedded server).
  'on-delete': {
    file: 'lambda/deploy/on-delete.ts',
    tests: [
      'test/lambda/handler.test.ts',
      'test/lambda/handler-config.test.ts',
      'test/lambda/hostile-events.test.ts',
    ],
    postgres: true,
  },
  'on-event': {
    file: 'lambda/deploy/on-event.ts',
    tests: ['test/lambda/handler.test.ts', 'test/lambda/deploy-requests.test.ts'],
    postgres: true,
  },
  'deploy-plan': {
    file: 'lambda/deploy/plan.ts',
    tests: [
      'test/lambda/handler.test.ts',
      'test/lambda/hostile-events.test.ts',
      'test/lambda/deploy-gates.test.ts',
    ],
    postgres: true,
  },
  answers: {
    file: 'lambda/deploy/answers.ts',
    tests: ['test/lambda/handler.test.ts', 'test/lambda/handler-config.test.ts'],
    postgres: true,
  },
  // The snapshot phase: the policy, the busy database and taken names (deploy-requests), the
  // time budget and the snapshot's pace (deploy-time), its failure and pruning (handler).
  snapshot: {
    file: 'lambda/deploy/snapshot.ts',
    tests: [
      'test/lambda/handler.test.ts',
      'test/lambda/deploy-time.test.ts',
      'test/lambda/deploy-requests.test.ts',
    ],
    postgres: true,
  },
  // The polls: what they answer (handler) and what they refuse (hostile-events).
  'is-complete': {
    file: 'lambda/deploy/is-complete.ts',
    tests: ['test/lambda/handler.test.ts', 'test/lambda/hostile-events.test.ts'],
    postgres: true,
  },
};

const HELP = `Usage: npm run mutate [-- <module>... ] [--full] [--list] [--report]

Mutation testing: Stryker changes a module's code in small ways and runs the module's tests
against each change. A change no test notices ("survived") is a behaviour no test asserts.

  <module>   one or more of: ${Object.keys(MODULES).join(', ')}
             (or the module's path, e.g. lib/engine/graph.ts); default: all, one after another
  --full     test every mutant again (by default only mutants whose code or tests changed
             since the last run are tested; the others keep their result, from .mutation/)
  --list     print the modules and the test files each is mutated against, and exit
  --report   print the table of the last run of each module again (from .mutation/), running nothing

Reports: .mutation/<module>.html (open in a browser: each surviving mutant in its line).
Exits 1 when a module scores under ${THRESHOLD}%.`;

interface Tally {
  readonly name: string;
  readonly mutants: number;
  readonly killed: number;
  readonly survived: number;
  readonly equivalent: number;
  readonly score: number;
}

function parseArguments(args: readonly string[]): { names: string[]; full: boolean } {
  const full = args.includes('--full');
  const unknownFlag = args.find((arg) => arg.startsWith('-') && arg !== '--full');
  if (unknownFlag) throw new Error(`Unknown option ${unknownFlag}.\n\n${HELP}`);
  const names = args.filter((arg) => !arg.startsWith('-')).map(moduleName);
  return { names: names.length > 0 ? names : Object.keys(MODULES), full };
}

/** A module's name from its name or its path. */
function moduleName(given: string): string {
  if (given in MODULES) return given;
  const byPath = Object.entries(MODULES).find(([, module]) => module.file === given.replace(/^\.\//, ''));
  if (byPath) return byPath[0];
  throw new Error(`No module "${given}" to mutate: choose one of ${Object.keys(MODULES).join(', ')}.`);
}

async function mutateModule(name: string, module: MutatedModule, full: boolean): Promise<Tally> {
  console.log(`\n== ${name}: ${module.file} against ${module.tests.join(', ')}`);
  // Read by scripts/mutate.vitest.config.ts in Stryker's test runner process.
  process.env.RDS_MIGRATE_MUTATE_TESTS = module.tests.join(',');
  process.env.RDS_MIGRATE_MUTATE_POSTGRES = module.postgres ? '1' : '0';
  const stryker = new Stryker({
    mutate: [module.file],
    testRunner: 'vitest',
    vitest: { configFile: 'scripts/mutate.vitest.config.ts', related: false },
    plugins: ['@stryker-mutator/vitest-runner'],
    coverageAnalysis: 'perTest',
    concurrency: 1,
    incremental: true,
    incrementalFile: `.mutation/${name}.incremental.json`,
    force: full,
    reporters: ['clear-text', process.stdout.isTTY ? 'progress' : 'progress-append-only', 'html'],
    htmlReporter: { fileName: `.mutation/${name}.html` },
    clearTextReporter: { allowColor: process.stdout.isTTY, logTests: false, reportScoreTable: false },
    tempDirName: '.mutation/tmp',
    // Stryker rewrites the tsconfig's extends and references with TypeScript's JS API, which the
    // native TypeScript 7 has not; ours has neither, so it is given no tsconfig to rewrite.
    tsconfigFile: '.mutation/no-tsconfig-to-rewrite.json',
    ignorePatterns: ['dist', 'cdk.out', 'bench', '.rds-migrate', 'coverage', '.scratch', '.bench'],
    thresholds: { high: 95, low: THRESHOLD, break: null },
    // Stryker types its log levels as a const enum, which type-only imports cannot reach.
    logLevel: 'warn' as StrykerOptions['logLevel'],
    fileLogLevel: 'off' as StrykerOptions['fileLogLevel'],
  });
  const results = await stryker.runMutationTest();
  return tally(name, module, results, (await readFile(module.file, 'utf8')).split('\n'));
}

/** What `npm run mutate -- --report` reads back: each module's last results, from its incremental file. */
async function lastTally(name: string, module: MutatedModule): Promise<Tally | undefined> {
  const text = await readFile(`.mutation/${name}.incremental.json`, 'utf8').catch(() => undefined);
  const file = text === undefined ? undefined : JSON.parse(text).files?.[module.file];
  if (!file) return undefined;
  console.log(`\n== ${name}: ${module.file} (last run)`);
  return tally(name, module, file.mutants as MutantOutcome[], String(file.source).split('\n'));
}

/** Counts `results`, telling the equivalent mutants of scripts/mutate-equivalent.ts apart, and prints them. */
function tally(
  name: string,
  module: MutatedModule,
  results: readonly MutantOutcome[],
  sourceLines: readonly string[],
): Tally {
  const entries = EQUIVALENT_MUTANTS.filter((entry) => entry.file === module.file);
  const matched = new Set<EquivalentMutant>();
  const equivalentOf = (result: MutantOutcome): EquivalentMutant | undefined => {
    const entry = entries.find((candidate) => matches(candidate, result, sourceLines));
    if (entry) matched.add(entry);
    return entry;
  };
  let killed = 0;
  let survived = 0;
  const equivalent: string[] = [];
  for (const result of results) {
    const where = `${module.file}:${result.location.start.line}`;
    if (result.status === 'Killed' || result.status === 'Timeout') {
      killed++;
      const entry = equivalentOf(result);
      if (entry && result.status === 'Killed') {
        console.log(
          `  NOT equivalent (killed), delete its entry: ${where} ${entry.original} -> ${entry.replacement}`,
        );
      } else if (entry) {
        console.log(
          `  listed as equivalent yet timed out (a slow machine?), check it again: ${where} ${entry.original}`,
        );
      }
    } else if (result.status === 'Survived' || result.status === 'NoCoverage') {
      const entry = equivalentOf(result);
      if (entry)
        equivalent.push(
          `  equivalent  ${where} ${oneLine(entry.original)} -> ${oneLine(entry.replacement)}: ${entry.reason}`,
        );
      else survived++;
    } else if (result.status === 'Ignored') {
      equivalent.push(`  equivalent  ${where} ${result.mutatorName}: ${result.statusReason}`);
    }
  }
  for (const line of equivalent) console.log(line);
  for (const entry of entries.filter((candidate) => !matched.has(candidate))) {
    console.log(
      `  stale entry in scripts/mutate-equivalent.ts (no such mutant): ${entry.line} / ${entry.original} -> ${entry.replacement}`,
    );
  }
  const valid = killed + survived;
  return {
    name,
    mutants: results.length,
    killed,
    survived,
    equivalent: equivalent.length,
    score: valid === 0 ? 100 : (100 * killed) / valid,
  };
}

/** The parts of a Stryker mutant result read here (the incremental file holds the same). */
interface MutantOutcome {
  readonly status: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly statusReason?: string;
  readonly location: {
    readonly start: { readonly line: number; readonly column: number };
    readonly end: { readonly line: number; readonly column: number };
  };
}

function oneLine(code: string): string {
  return code.replace(/\s+/g, ' ');
}

/** Whether `result` is the mutant `entry` names: on a line holding `entry.line`, the same change. */
function matches(entry: EquivalentMutant, result: MutantOutcome, sourceLines: readonly string[]): boolean {
  const { start, end } = result.location;
  if (result.replacement !== entry.replacement || !sourceLines[start.line - 1]?.includes(entry.line))
    return false;
  const original =
    start.line === end.line
      ? sourceLines[start.line - 1]?.slice(start.column - 1, end.column - 1)
      : [
          sourceLines[start.line - 1]?.slice(start.column - 1),
          ...sourceLines.slice(start.line, end.line - 1),
          sourceLines[end.line - 1]?.slice(0, end.column - 1),
        ].join('\n');
  return original === entry.original;
}

function printTable(tallies: readonly Tally[]): void {
  console.log('\n| module | mutants | killed | survived | equivalent | score |\n|---|---|---|---|---|---|');
  for (const tally of tallies) {
    const flag = tally.score < THRESHOLD ? ` (under ${THRESHOLD}%)` : '';
    console.log(
      `| ${MODULES[tally.name]?.file} | ${tally.mutants} | ${tally.killed} | ${tally.survived} | ${tally.equivalent} | ` +
        `${tally.score.toFixed(1)}%${flag} |`,
    );
  }
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(HELP);
} else if (args.includes('--report')) {
  const tallies: Tally[] = [];
  for (const [name, module] of Object.entries(MODULES)) {
    const last = await lastTally(name, module);
    if (last) tallies.push(last);
  }
  printTable(tallies);
} else if (args.includes('--list')) {
  for (const [name, module] of Object.entries(MODULES))
    console.log(`${name}: ${module.file}\n  ${module.tests.join('\n  ')}`);
} else {
  try {
    const { names, full } = parseArguments(args);
    await mkdir('.mutation', { recursive: true });
    const tallies: Tally[] = [];
    for (const name of names) {
      const tally = await mutateModule(name, MODULES[name] as MutatedModule, full);
      printTable([tally]);
      tallies.push(tally);
    }
    if (tallies.length > 1) printTable(tallies);
    if (tallies.some((tally) => tally.score < THRESHOLD)) process.exitCode = 1;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
