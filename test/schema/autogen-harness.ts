/**
 * A project in a temporary folder for autogenerate tests: `migrations/` and the wanted schema,
 * on the run's embedded server (shadow databases are made there, as on a user's server). Each
 * step autogenerates from the wanted schema as it is now; `check` then proves what was written.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { type CheckReport, checkMigrations } from '../../lib/check/check.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { History } from '../../lib/engine/history.ts';
import { loadMigrations } from '../../lib/engine/loader.ts';
import { versionFromServerNum } from '../../lib/lint/model/pg-version.ts';
import { openServer, type Server } from '../../lib/local/server.ts';
import { type AutogenerateReport, autogenerate } from '../../lib/schema/autogenerate.ts';
import { withReasons } from '../../lib/schema/generated-migration.ts';
import type { RenameRequests } from '../../lib/schema/rename-decisions.ts';
import { findWantedSchema } from '../../lib/schema/wanted-schema.ts';

export class AutogenProject {
  private constructor(
    readonly dir: string,
    readonly databaseUrl: string,
    private readonly server: Server,
  ) {}

  static async create(): Promise<AutogenProject> {
    const dir = await mkdtemp(join(tmpdir(), 'rds-migrate-autogen-'));
    await mkdir(join(dir, 'migrations'));
    const databaseUrl = inject('postgresAdminUrl');
    const server = await openServer({ databaseUrl, env: {}, cwd: dir });
    return new AutogenProject(dir, databaseUrl, server);
  }

  get migrationsDir(): string {
    return join(this.dir, 'migrations');
  }

  /** The wanted schema as one SQL file in schema/. */
  async wantSql(sql: string): Promise<void> {
    await rm(join(this.dir, 'schema'), { recursive: true, force: true });
    await mkdir(join(this.dir, 'schema'));
    await writeFile(join(this.dir, 'schema', '010_schema.sql'), sql);
  }

  /** `create --autogenerate` from `wanted` (default: schema/), with `--rename` / `--drop-add` as `renames` says, and `--fill`s. */
  async autogenerate(
    message: string,
    wanted?: string,
    renames?: RenameRequests,
    fills?: readonly string[],
  ): Promise<AutogenerateReport> {
    const found = await findWantedSchema({ option: wanted, cwd: this.dir });
    if (!found) throw new Error('no wanted schema in the test project');
    const graph = RevisionGraph.from(await loadMigrations(this.migrationsDir));
    return autogenerate({
      server: this.server,
      graph,
      migrationsDir: this.migrationsDir,
      cwd: this.dir,
      message,
      wanted: found,
      history: new History(),
      actor: 'test',
      renames,
      fills,
      // Distinct file names for the steps of one test.
      now: new Date(Date.UTC(2026, 0, 1, 0, (await readdir(this.migrationsDir)).length)),
    });
  }

  /** `rds-migrate check` on the folder, with the round trip and the wanted schema's comparison (`static`: the linter alone). */
  async check(wanted?: string, options: { readonly static?: boolean } = {}): Promise<CheckReport> {
    return checkMigrations({
      migrationsDir: this.migrationsDir,
      cwd: this.dir,
      server: { databaseUrl: this.databaseUrl, env: {}, cwd: this.dir },
      actor: 'test',
      wantedSchema: wanted,
      static: options.static,
      // Without a server, the linter would apply PostgreSQL 16's rules: autogenerate linted with the server's.
      pgVersion: options.static ? await this.serverVersion() : undefined,
    });
  }

  /** Every allow line of the folder given a reason, as the author would after deciding; then `check --static`. */
  async checkWithReasons(): Promise<CheckReport> {
    for (const name of await readdir(this.migrationsDir)) {
      const path = join(this.migrationsDir, name);
      await writeFile(path, withReasons(await readFile(path, 'utf8'), 'decided in review'));
    }
    return checkMigrations({
      migrationsDir: this.migrationsDir,
      cwd: this.dir,
      static: true,
      pgVersion: await this.serverVersion(),
    });
  }

  /** The major version of the test server, whose rules autogenerate's linter applied. */
  private async serverVersion(): Promise<number> {
    const connection = await this.server.connect();
    try {
      const result = await connection.db.query<{ version: string }>(
        "SELECT current_setting('server_version_num') AS version",
      );
      return versionFromServerNum(result.rows[0]?.version ?? '');
    } finally {
      await connection.close();
    }
  }

  async text(file: string): Promise<string> {
    return readFile(join(this.dir, file), 'utf8');
  }

  /** The migrations folder's files, name → text. */
  async migrationFiles(): Promise<Map<string, string>> {
    const names = await readdir(this.migrationsDir);
    return new Map(
      await Promise.all(
        names.map(async (name) => [name, await readFile(join(this.migrationsDir, name), 'utf8')] as const),
      ),
    );
  }

  async writeMigrations(files: ReadonlyMap<string, string>): Promise<void> {
    for (const [name, text] of files) await writeFile(join(this.migrationsDir, name), text);
  }

  async remove(): Promise<void> {
    await this.server.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Problems of a check that are there by design: an allow line awaiting its reason, the finding
 * it will silence once it has one, and the findings kept with no allow line (`kept`: a rename's).
 */
export function problemsBesidesAwaitingReasons(
  report: CheckReport,
  awaiting: readonly string[],
  kept: readonly string[] = [],
): string[] {
  return report.problems
    .filter((problem) => {
      if (problem.kind !== 'lint') return true;
      if (kept.includes(problem.rule)) return false;
      if (problem.rule === 'invalid-allow-comment') return !problem.message.includes('gives no reason');
      return !awaiting.includes(problem.rule);
    })
    .map((problem) => `${problem.kind} ${problem.rule}: ${problem.message}`);
}
