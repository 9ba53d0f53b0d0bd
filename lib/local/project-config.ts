/**
 * The project's `rds-migrate.config.json`, in the working directory: settings a project keeps
 * beside its code rather than typing on every command. Read here are the ones the local server
 * needs (`postgres`, the PostgreSQL major the project runs in production); `check` and
 * `create --autogenerate` read `wantedSchema` from the same file (check/wanted-schema.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../engine/errors.ts';
import { CONFIG_FILE } from '../engine/project-files.ts';

export { CONFIG_FILE };

/** The oldest and newest PostgreSQL majors a pin may name (the oldest is the oldest doctor accepts). */
const PIN_RANGE = { oldest: 12, newest: 99 } as const;

interface ProjectConfig {
  /**
   * The PostgreSQL major production runs, e.g. 16: the embedded server is expected to run it
   * (the project installs that major's binaries), `doctor` compares the server with it, and
   * `check` lints with its rules. @default none: nothing is compared, `check` lints with the server's
   */
  readonly postgres?: number;
}

/** The file is not what it should be: the message names the file, the field and what to write. */
class ProjectConfigError extends UsageError {}

/** The config of the project in `cwd`; empty when it has no config file. */
export async function readProjectConfig(cwd: string): Promise<ProjectConfig> {
  let text: string;
  try {
    text = await readFile(join(cwd, CONFIG_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new ProjectConfigError(`${CONFIG_FILE} is not valid JSON (${(error as Error).message}); fix it`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ProjectConfigError(`${CONFIG_FILE} must hold one JSON object, e.g. { "postgres": 16 }`);
  }
  const postgres = (config as { postgres?: unknown }).postgres;
  return postgres === undefined ? {} : { postgres: pinnedMajor(postgres) };
}

/** `16` or `"16"`: a major alone, since the binaries, the rules and the data folder go by major. */
function pinnedMajor(value: unknown): number {
  const major = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (
    Number.isInteger(major) &&
    (major as number) >= PIN_RANGE.oldest &&
    (major as number) <= PIN_RANGE.newest
  ) {
    return major as number;
  }
  throw new ProjectConfigError(
    `${CONFIG_FILE}: "postgres" is ${JSON.stringify(value)}; give the PostgreSQL major your production ` +
      `database runs, ${PIN_RANGE.oldest} or later, e.g. { "postgres": 16 } (a major alone: 16, not 16.4)`,
  );
}
