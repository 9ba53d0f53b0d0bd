/**
 * `create --autogenerate` on a project of realistic size: 100 migrations at head building a
 * 50-table schema (tables with foreign keys, then columns and indexes added over time), and a
 * wanted schema/ that adds columns, an index, a foreign key and a NOT NULL column. Timed on the
 * embedded server, already started (as `db start` leaves it): shadow databases, the diff, the
 * rewrite, the proofs, and the files written. The aim: under 3 s wall.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RevisionGraph } from '../lib/engine/graph.ts';
import { History } from '../lib/engine/history.ts';
import { loadMigrations } from '../lib/engine/loader.ts';
import { startEmbedded } from '../lib/local/embedded.ts';
import { openServer } from '../lib/local/server.ts';
import { type AutogenerateReport, autogenerate } from '../lib/schema/autogenerate.ts';
import { findWantedSchema } from '../lib/schema/wanted-schema.ts';
import { scratchParent } from './scratch.ts';

const TABLES = 50;
const MIGRATIONS = 100;
const AIM_MS = 3000;
const RUNS = 3;

export interface AutogenBenchResult {
  readonly migrations: number;
  readonly tables: number;
  /** Wall clock of each run, in ms. */
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  /** The last run's phases: shadow databases built and read, generate (diff, rewrite, downs, lint), verify. */
  readonly phasesMs: AutogenerateReport['timingsMs'];
  /** Nothing to generate (head already matches): the same shadows and one diff. */
  readonly nothingToDoMs: number;
  readonly files: number;
  readonly aimMet: boolean;
}

export async function benchAutogen(): Promise<AutogenBenchResult> {
  const root = await mkdtemp(join(await scratchParent(), 'rds-migrate-bench-autogen-'));
  const embedded = await startEmbedded({
    dataDir: join(root, 'data'),
    throwaway: true,
    database: 'postgres',
  });
  try {
    const migrationsDir = join(root, 'migrations');
    await writeMigrations(migrationsDir);
    const server = await openServer({ databaseUrl: embedded.url('postgres'), env: {}, cwd: root });
    const graph = RevisionGraph.from(await loadMigrations(migrationsDir));
    const run = async (message: string, fills: readonly string[] = []) => {
      const wanted = await findWantedSchema({ cwd: root });
      if (!wanted) throw new Error('bench: no schema/');
      const started = performance.now();
      const report = await autogenerate({
        server,
        graph,
        migrationsDir,
        cwd: root,
        message,
        wanted,
        history: new History(),
        actor: 'bench',
        fills,
      });
      return { report, ms: performance.now() - started };
    };

    await writeWantedSchema(root, false);
    await run('warm up'); // the diff library and parser loaded, the server's caches warm
    const nothing = await run('nothing');
    if (nothing.report.status !== 'nothing-to-generate')
      throw new Error('bench: head and schema/ should agree');

    await writeWantedSchema(root, true);
    const runsMs: number[] = [];
    let last: AutogenerateReport | undefined;
    for (let index = 0; index < RUNS; index++) {
      // What `--fill` says for the NOT NULL column the wanted schema adds (autogenerate asks for it).
      const { report, ms } = await run(`add reviews ${index}`, ["t_3.slug='none'"]);
      if (report.status !== 'written') throw new Error('bench: nothing was generated');
      runsMs.push(ms);
      last = report;
      // Back to 100 migrations for the next run.
      for (const file of report.files) await rm(join(root, file.file));
    }
    const sorted = [...runsMs].sort((a, b) => a - b);
    const medianMs = Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0);
    const result: AutogenBenchResult = {
      migrations: MIGRATIONS,
      tables: TABLES,
      runsMs: runsMs.map(Math.round),
      medianMs,
      phasesMs: (last as AutogenerateReport).timingsMs,
      nothingToDoMs: Math.round(nothing.ms),
      files: (last as AutogenerateReport).files.length,
      aimMet: medianMs < AIM_MS,
    };
    process.stdout.write(`${formatResult(result)}\n`);
    await writeResult(result);
    await server.stop();
    return result;
  } finally {
    await embedded.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** Table i: created by migration i; migrations 51-100 each add a column and an index to one. */
function tableSql(i: number): string {
  const parent = i > 1 ? `,\n  parent_id bigint REFERENCES t_${i - 1} (id)` : '';
  return `CREATE TABLE t_${i} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  status varchar(20) NOT NULL DEFAULT 'new',
  amount numeric(12, 2),
  created_at timestamptz NOT NULL DEFAULT now()${parent}
);`;
}

function laterSql(i: number): { up: string; down: string } {
  return {
    up: `ALTER TABLE t_${i} ADD COLUMN note text;\n-- rds-migrate:allow create-index-non-concurrently generated bench schema\nCREATE INDEX t_${i}_created_at ON t_${i} (created_at);`,
    down: `DROP INDEX t_${i}_created_at;\nALTER TABLE t_${i} DROP COLUMN note;`,
  };
}

async function writeMigrations(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  let parent = 'none';
  for (let index = 1; index <= MIGRATIONS; index++) {
    const revision = `b${String(index).padStart(11, '0')}`;
    const step =
      index <= TABLES ? { up: tableSql(index), down: `DROP TABLE t_${index};` } : laterSql(index - TABLES);
    await writeFile(
      join(directory, `${202601010000 + index}_step_${index}.sql`),
      `-- revision: ${revision}\n-- down_revision: ${parent}\n\n-- migrate:up\n${step.up}\n\n-- migrate:down\n${step.down}\n`,
    );
    parent = revision;
  }
}

/** schema/: head's schema, and with `changed` a realistic change on top. */
async function writeWantedSchema(root: string, changed: boolean): Promise<void> {
  const directory = join(root, 'schema');
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory);
  for (let index = 1; index <= TABLES; index++) {
    const later =
      index <= MIGRATIONS - TABLES
        ? `\nALTER TABLE t_${index} ADD COLUMN note text;\nCREATE INDEX t_${index}_created_at ON t_${index} (created_at);`
        : '';
    await writeFile(
      join(directory, `${String(index).padStart(3, '0')}_t_${index}.sql`),
      `${tableSql(index)}${later}\n`,
    );
  }
  if (!changed) return;
  await writeFile(
    join(directory, '900_reviews.sql'),
    `CREATE TABLE reviews (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  t_1_id bigint NOT NULL REFERENCES t_1 (id),
  stars integer NOT NULL CHECK (stars BETWEEN 1 AND 5),
  body text
);
ALTER TABLE t_2 ADD COLUMN rating numeric(3, 2);
ALTER TABLE t_3 ADD COLUMN slug text NOT NULL;
CREATE INDEX t_4_status ON t_4 (status);
ALTER TABLE t_5 ADD CONSTRAINT t_5_amount_positive CHECK (amount >= 0);
`,
  );
}

function formatResult(result: AutogenBenchResult): string {
  const row = (name: string, ms: number, note = '') =>
    `  ${name.padEnd(30)} ${String(ms).padStart(6)} ms  ${note}`;
  return [
    `rds-migrate create --autogenerate: ${result.migrations} migrations at head, ${result.tables}-table schema, embedded server`,
    row(
      'autogenerate (wall, median)',
      result.medianMs,
      `runs ${result.runsMs.join(', ')} ms; ${result.files} files written`,
    ),
    row('  shadows built and read', result.phasesMs.shadows),
    row('  diff, rewrite, downs, lint', result.phasesMs.generate),
    row('  round trip of the new ones', result.phasesMs.verify),
    row('nothing to generate (wall)', result.nothingToDoMs, 'head already matches schema/'),
    `autogenerate under ${AIM_MS / 1000} s: ${result.aimMet ? 'met' : 'missed'}`,
  ].join('\n');
}

async function writeResult(result: AutogenBenchResult): Promise<void> {
  const folder = fileURLToPath(new URL('../.bench/', import.meta.url));
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'autogen.json'), `${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchAutogen();
}
