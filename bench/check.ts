import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type CheckReport, checkMigrations, formatProblem } from '../lib/check/check.ts';
import { startEmbedded } from '../lib/local/embedded.ts';
import { scratchParent } from './scratch.ts';
import { workload } from './workload.ts';

export interface CheckBenchResult {
  readonly migrations: number;
  readonly loadMs: number;
  readonly lintMs: number;
  readonly driftMs: number;
  readonly roundTripMs: number;
  /** `check` with the round trip, wall clock. */
  readonly checkMs: number;
  /** `check --static`, wall clock: no database. */
  readonly staticMs: number;
  /** Lint of as many migrations of varied DDL (type changes, indexes, constraints, backfills, allow comments). */
  readonly lintMixedMs: number;
  /** The aim: lint of 500 migrations (both workloads) under 1 s. */
  readonly lintAimMet: boolean;
  /** The aim: the round trip of 500 migrations under 10 s (issue 18). */
  readonly roundTripAimMet: boolean;
}

/** The linter's aim: 500 migrations in under a second, so CI and `cdk synth` never wait on it. */
const LINT_AIM_MS = 1000;
/** The round trip's aim: 500 migrations in under 10 s, so CI does not wait on it (issue 18). */
const ROUND_TRIP_AIM_MS = 10_000;

export async function benchCheck(count = 500): Promise<CheckBenchResult> {
  const root = await mkdtemp(join(await scratchParent(), 'rds-migrate-bench-check-'));
  const migrationsDir = join(root, 'migrations');
  await writeMigrations(migrationsDir, count);
  const server = await startEmbedded({ dataDir: join(root, 'data'), throwaway: true, database: 'postgres' });
  try {
    const serverOptions = { databaseUrl: server.url('postgres'), env: {}, cwd: root };
    // Warm-up: the parser's WASM and the first connections, outside the clock.
    await checkMigrations({ migrationsDir, cwd: root, static: true });

    let started = performance.now();
    const full = await checkMigrations({ migrationsDir, cwd: root, server: serverOptions });
    const checkMs = performance.now() - started;
    assertClean(full);
    started = performance.now();
    assertClean(await checkMigrations({ migrationsDir, cwd: root, static: true }));
    const staticMs = performance.now() - started;

    const mixedDir = join(root, 'mixed');
    await writeMixedMigrations(mixedDir, count);
    const mixed = await checkMigrations({ migrationsDir: mixedDir, cwd: root, static: true });

    const result: CheckBenchResult = {
      migrations: count,
      loadMs: full.timingsMs.load,
      lintMs: full.timingsMs.lint,
      driftMs: full.timingsMs.drift,
      roundTripMs: full.timingsMs.roundTrip,
      checkMs: Math.round(checkMs),
      staticMs: Math.round(staticMs),
      lintMixedMs: mixed.timingsMs.lint,
      lintAimMet: Math.max(full.timingsMs.lint, mixed.timingsMs.lint) * (500 / count) < LINT_AIM_MS,
      roundTripAimMet: count >= 500 && full.timingsMs.roundTrip < ROUND_TRIP_AIM_MS,
    };
    process.stdout.write(`${formatResult(result, full)}\n`);
    await writeResult(result);
    return result;
  } finally {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

async function writeMigrations(directory: string, count: number): Promise<void> {
  await mkdir(directory, { recursive: true });
  let parent = 'none';
  for (const migration of workload(count)) {
    const text =
      `-- revision: ${migration.revision}\n-- down_revision: ${parent}\n\n` +
      `-- migrate:up\n${migration.up}\n\n-- migrate:down\n${migration.down}\n`;
    await writeFile(join(directory, `${migration.ordinal}_bench_${migration.index}.sql`), text);
    parent = migration.revision;
  }
}

/**
 * Migrations that exercise the whole lock model: ten tables made first, then each migration a
 * rotation of changes to them, some findings, some allowed, every seventh outside a transaction.
 */
async function writeMixedMigrations(directory: string, count: number): Promise<void> {
  await mkdir(directory, { recursive: true });
  const tables = Array.from({ length: 10 }, (_, index) => `mixed_${index}`);
  const changes = [
    (t: string, i: number) => `ALTER TABLE ${t} ADD COLUMN c_${i} varchar(40);`,
    (t: string, i: number) => `ALTER TABLE ${t} ALTER COLUMN name TYPE varchar(${100 + i});`,
    (t: string, i: number) => `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${t}_c_${i} ON ${t} (name);`,
    (t: string, i: number) => `ALTER TABLE ${t} ADD CONSTRAINT ${t}_k_${i} CHECK (id > 0) NOT VALID;`,
    (t: string, i: number) => `ALTER TABLE ${t} VALIDATE CONSTRAINT ${t}_k_${Math.max(1, i - 1)};`,
    (t: string, i: number) => `UPDATE ${t} SET name = lower(name) WHERE id BETWEEN ${i} AND ${i + 1000};`,
    (t: string, i: number) =>
      `-- rds-migrate:allow create-index-non-concurrently ${t} stays small\nCREATE INDEX ${t}_n_${i} ON ${t} (created_at);`,
    (t: string, i: number) =>
      `ALTER TABLE ${t} ALTER COLUMN c_${Math.max(1, i - 7)} SET DEFAULT 'x', ALTER COLUMN name DROP NOT NULL;`,
  ];
  let parent = 'none';
  for (let index = 1; index <= count; index += 1) {
    const revision = createHash('sha256').update(`mixed ${index}`).digest('hex').slice(0, 12);
    const transactional = index % 7 !== 0;
    const up =
      index === 1
        ? tables
            .map(
              (t) => `CREATE TABLE ${t} (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz);`,
            )
            .join('\n')
        : transactional
          ? [0, 1, 3, 4, 5, 6, 7]
              .map((k) => changes[(index + k) % changes.length]?.(tables[index % 10] ?? '', index) ?? '')
              .filter((sql) => !sql.includes('CONCURRENTLY'))
              .slice(0, 4)
              .join('\n')
          : (changes[2]?.(tables[index % 10] ?? '', index) ?? '');
    const header = `-- revision: ${revision}\n-- down_revision: ${parent}\n${transactional ? '' : '-- transaction: false\n'}`;
    await writeFile(
      join(directory, `${String(index).padStart(4, '0')}_mixed_${index}.sql`),
      `${header}\n-- migrate:up\n${up}\n\n-- migrate:down\nSELECT 1;\n`,
    );
    parent = revision;
  }
}

function assertClean(report: CheckReport): void {
  if (report.ok) return;
  const problems = report.problems.slice(0, 5).flatMap(formatProblem).join('\n');
  throw new Error(`check found problems in the bench workload:\n${problems}`);
}

function formatResult(result: CheckBenchResult, report: CheckReport): string {
  const per = (ms: number) => `${(ms / result.migrations).toFixed(2)} ms per migration`;
  const row = (name: string, ms: number, note = '') =>
    `  ${name.padEnd(22)} ${String(ms).padStart(7)} ms  ${note}`;
  return [
    `rds-migrate check on ${result.migrations} generated migrations`,
    row('load + graph', result.loadMs),
    row('lint', result.lintMs, `${per(result.lintMs)}, up and down sections`),
    row('drift', result.driftMs, '(no history: connect and look)'),
    row(
      'round trip',
      result.roundTripMs,
      `${per(result.roundTripMs)}; ${report.checks.roundTrip.summary.split(' on ')[0]}`,
    ),
    row('check (wall)', result.checkMs),
    row('check --static (wall)', result.staticMs, 'what cdk synth runs'),
    row(
      'lint, mixed DDL',
      result.lintMixedMs,
      `${per(result.lintMixedMs)}: type changes, constraints, indexes, plan units`,
    ),
    `lint of 500 migrations < 1 s: ${result.lintAimMet ? 'met' : 'missed'}`,
    `round trip of 500 migrations < 10 s: ${result.roundTripAimMet ? 'met' : 'missed'} (${(result.roundTripMs / 1000).toFixed(1)} s)`,
  ].join('\n');
}

async function writeResult(result: CheckBenchResult): Promise<void> {
  const folder = fileURLToPath(new URL('../.bench/', import.meta.url));
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'check.json'), `${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const count = Number(process.argv[2] ?? 500);
  if (!Number.isInteger(count) || count < 1)
    throw new Error('usage: tsx bench/check.ts [migrations, e.g. 500]');
  await benchCheck(count);
}
