/**
 * The package as a user gets it: `npm pack` (prepack builds dist/), the tarball installed into a
 * new CDK app in a temporary folder outside the repository, then `cdk synth` (a TypeScript app
 * run by tsx, a plain .mjs app, and the same app installed by pnpm's strict layout), the CLI on
 * the embedded PostgreSQL, and a type-check of a TS migration against the installed types.
 * Only the npm registry is needed (a shared cache makes the installs quick); synth is offline.
 */
import { execFileSync, spawnSync } from 'node:child_process';
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
import { startEmbedded } from '../../lib/local/embedded.ts';
import { answerUnknownAction, invokeAsset, testCertificates } from '../support/function-asset.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const INSTALL_TIMEOUT = 300_000;
const STEP_TIMEOUT = 120_000;

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
const TOOLS = ['aws-cdk-lib', 'constructs', 'aws-cdk', 'tsx', 'typescript', '@types/node'].map(
  (name) => `${name}@${installedVersion(name)}`,
);
const PNPM = 'pnpm@12.4.2';

/** The environment of a user's shell: no database configured, CDK kept offline and quiet. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'DATABASE_URL' || key.startsWith('PG') || key.startsWith('VITEST') || key === 'NODE_OPTIONS')
      continue;
    env[key] = value;
  }
  return { ...env, CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_DISABLE_VERSION_CHECK: 'true', NO_COLOR: '1' };
}

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], cwd: string): Run {
  const result = spawnSync(command, args, {
    cwd,
    env: userEnv(),
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

/**
 * An install, retried once: npm has been seen to stall on a cache hit here (a stuck extraction
 * that never ends), and the step timeout turns that into a kill rather than a hung suite.
 */
function install(command: string, args: readonly string[], cwd: string): void {
  const first = run(command, args, cwd);
  if (first.status === 0) return;
  ok(command, args, cwd);
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

const app = new App({ outdir: 'cdk.out.mjs' });
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

describe.sequential('the packed package, installed into a CDK app outside the repository', () => {
  const work = mkdtempSync(join(tmpdir(), 'rds-migrate-consumer-'));
  // The embedded PostgreSQL runs as user postgres when we are root: it must reach the app folder.
  chmodSync(work, 0o755);
  const app = join(work, 'app');
  let packed: Packed;
  let tarball: string;
  let head: string;

  beforeAll(() => {
    const output = ok('npm', ['pack', '--json', '--pack-destination', work], ROOT);
    packed = (JSON.parse(output.slice(output.indexOf('[\n'))) as Packed[])[0] as Packed;
    tarball = join(work, packed.filename);

    mkdirSync(join(app, 'bin'), { recursive: true });
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer-app', private: true, type: 'module' }, null, 2),
    );
    install(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...TOOLS],
      app,
    );
    writeFileSync(join(app, 'bin', 'app.ts'), TS_APP);
    writeFileSync(join(app, 'app.mjs'), MJS_APP);
    writeFileSync(join(app, 'cdk.json'), JSON.stringify({ app: 'npx tsx bin/app.ts' }));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  }, INSTALL_TIMEOUT);

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
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

  it('declares a publishable package: public, typed exports, CDK as peers', () => {
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
    ]);
    expect(manifest.peerDependenciesMeta['drizzle-kit']).toEqual({ optional: true });
    expect(manifest.dependencies['aws-cdk-lib']).toBeUndefined();
    expect(manifest.keywords).toEqual(
      expect.arrayContaining(['aws-cdk', 'cdk-construct', 'rds', 'postgresql']),
    );
    // One aws-cdk-lib in the app: the user's (a second copy breaks construct scope checks).
    expect(existsSync(join(app, 'node_modules', 'rds-migrate', 'node_modules', 'aws-cdk-lib'))).toBe(false);
  });

  it('runs the CLI: create a SQL and a TS migration, up and status on the embedded PostgreSQL', () => {
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
  });

  it('autogenerates from schema/ and checks the result with the installed package', () => {
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
  });

  it("draws the revision graph and writes check's report for CI with the installed package", () => {
    const graph = ok('npx', ['rds-migrate', 'history', '--graph'], app);
    expect(graph).toContain(head);
    expect(graph).toContain('label widgets');
    const sarif = JSON.parse(ok('npx', ['rds-migrate', 'check', '--static', '--format', 'sarif'], app));
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0].tool.driver.name).toBe('rds-migrate');
  });

  it('says to install drizzle-kit when the wanted schema is Drizzle models and the app lacks it', () => {
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
  });

  it('type-checks the TS migration and the app against the installed types', () => {
    ok('npx', ['tsc', '-p', '.'], app);
    // The types are real, not `any`: a wrong call is an error.
    const wrong = join(app, 'migrations', 'wrong.ts');
    writeFileSync(
      wrong,
      "import type { MigrationContext } from 'rds-migrate';\n" +
        'export const up = async (ctx: MigrationContext) => { await ctx.batch({ table: 1 }); };\n',
    );
    const checked = run('npx', ['tsc', '-p', '.'], app);
    rmSync(wrong);
    expect(checked.status).not.toBe(0);
    expect(checked.stdout).toMatch(/wrong\.ts\(\d+,\d+\): error TS\d+/);
  });

  it("synths a TypeScript app (tsx) with the app's head and its migrations in the function asset", () => {
    ok('npx', ['cdk', 'synth', '--no-notices', '--quiet'], app);
    const outdir = join(app, 'cdk.out');
    const resource = resourceOfType(template(outdir, 'ConsumerStack'), 'Custom::RdsMigrate');
    expect(resource.Properties.TargetRevision).toBe(head);

    const asset = functionAsset(outdir, 'ConsumerStack');
    const installed = join(app, 'node_modules', 'rds-migrate', 'dist', 'handler');
    for (const name of ['index.mjs', 'libpg-query.wasm']) {
      expect(readFileSync(join(asset, name)).equals(readFileSync(join(installed, name)))).toBe(true);
    }
    const migrations = readdirSync(join(app, 'migrations')).sort();
    const compiled = migrations
      .filter((name) => name.endsWith('.ts'))
      .map((name) => name.replace(/\.ts$/, '.mjs'));
    expect(readdirSync(join(asset, 'migrations')).sort()).toEqual([...migrations, ...compiled].sort());
  });

  it('synths a plain JavaScript .mjs app', () => {
    ok(
      'npx',
      ['cdk', 'synth', '--no-notices', '--quiet', '--app', 'node app.mjs', '--output', 'cdk.out.mjs'],
      app,
    );
    const resource = resourceOfType(
      template(join(app, 'cdk.out.mjs'), 'ConsumerMjsStack'),
      'Custom::RdsMigrate',
    );
    expect(resource.Properties.TargetRevision).toBe(head);
  });

  it("loads the asset's handler under plain node, without node_modules, and answers a manual invoke", () => {
    const output = answerUnknownAction(functionAsset(join(app, 'cdk.out'), 'ConsumerStack'));
    expect(output).toMatch(/unknown action 'no-such-action'/);
  });

  it("applies the app's migrations through the asset's handler, over TLS it verifies, under plain node", async () => {
    // A PostgreSQL of its own with TLS on, its certificate signed by a CA only this test trusts:
    // the handler verifies the server as it does in Lambda against the RDS CAs.
    const certificates = join(work, 'tls');
    mkdirSync(certificates);
    const serverUser = process.getuid?.() === 0 ? postgresUser() : undefined;
    const files = testCertificates(certificates, serverUser);
    const server = await startEmbedded({
      dataDir: join(work, 'tls-pg'),
      throwaway: true,
      database: 'postgres',
    });
    const admin = new pg.Client({ connectionString: server.url('postgres') });
    try {
      await admin.connect();
      await admin.query(`ALTER SYSTEM SET ssl_cert_file = ${escapeLiteral(files.cert)}`);
      await admin.query(`ALTER SYSTEM SET ssl_key_file = ${escapeLiteral(files.key)}`);
      await admin.query('ALTER SYSTEM SET ssl = on');
      await admin.query('SELECT pg_reload_conf()');
      await untilTlsServes(server.url('postgres'), files.ca);
      await admin.query('CREATE DATABASE appdb');
      const database = {
        host: '127.0.0.1',
        port: server.port,
        username: 'postgres',
        // The embedded server's own password (each data folder gets a random one).
        password: decodeURIComponent(new URL(server.url('postgres')).password),
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
      const appdb = new pg.Client({ connectionString: server.url('appdb') });
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
      await admin.end().catch(() => undefined);
      await server.stop();
    }
  });

  it("fails cdk synth on a broken migrations folder with the engine's message", () => {
    const broken = join(app, 'broken');
    cpSync(join(app, 'migrations'), broken, { recursive: true });
    const [first] = readdirSync(broken).filter((name) => name.endsWith('.sql'));
    const copy = readFileSync(join(broken, String(first)), 'utf8');
    writeFileSync(join(broken, `000000000000_copy_${first}`), copy);

    const result = spawnSync(
      'npx',
      ['cdk', 'synth', '--no-notices', '--quiet', '--output', 'cdk.out.broken'],
      {
        cwd: app,
        env: { ...userEnv(), MIGRATIONS_DIR: 'broken' },
        encoding: 'utf8',
        timeout: STEP_TIMEOUT,
      },
    );
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/migrationsDir .*broken cannot be deployed: .*is defined twice/);
  });

  describe("with pnpm's strict node_modules", () => {
    const pnpmApp = join(work, 'pnpm-app');

    beforeAll(() => {
      mkdirSync(join(pnpmApp, 'bin'), { recursive: true });
      writeFileSync(
        join(pnpmApp, 'package.json'),
        JSON.stringify({ name: 'consumer-pnpm-app', private: true, type: 'module' }, null, 2),
      );
      // The dependencies' install scripts stay unapproved, as a new pnpm user's do; pnpm then
      // only warns instead of failing the install.
      writeFileSync(join(pnpmApp, 'pnpm-workspace.yaml'), 'strictDepBuilds: false\n');
      install('npx', ['--yes', PNPM, 'add', '--reporter=silent', tarball, ...TOOLS], pnpmApp);
      writeFileSync(join(pnpmApp, 'bin', 'app.ts'), TS_APP);
      writeFileSync(join(pnpmApp, 'cdk.json'), JSON.stringify({ app: 'npx tsx bin/app.ts' }));
      cpSync(join(app, 'migrations'), join(pnpmApp, 'migrations'), { recursive: true });
    }, INSTALL_TIMEOUT);

    it("keeps the dependencies out of the app's top level", () => {
      expect(readdirSync(join(pnpmApp, 'node_modules'))).not.toContain('esbuild');
      expect(readdirSync(join(pnpmApp, 'node_modules'))).not.toContain('libpg-query');
    });

    it('synths the same function asset as the npm app', () => {
      ok('npx', ['cdk', 'synth', '--no-notices', '--quiet'], pnpmApp);
      const resource = resourceOfType(
        template(join(pnpmApp, 'cdk.out'), 'ConsumerStack'),
        'Custom::RdsMigrate',
      );
      expect(resource.Properties.TargetRevision).toBe(head);
      const asset = functionAsset(join(pnpmApp, 'cdk.out'), 'ConsumerStack');
      expect(asset.split('asset.')[1]).toBe(
        functionAsset(join(app, 'cdk.out'), 'ConsumerStack').split('asset.')[1],
      );
    });
  });
});
