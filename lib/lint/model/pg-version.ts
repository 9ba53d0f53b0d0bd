/**
 * The PostgreSQL major version the linter reasons about. Some lock and rewrite rules changed
 * between releases (a constant default stopped rewriting in 11, ALTER TYPE ... ADD VALUE became
 * legal in a transaction in 12, ...), so the model asks for the version rather than assuming one.
 * `check` takes it from `--pg-version`, else from the configured server, else `DEFAULT_PG_VERSION`.
 */
import { UsageError } from '../../engine/errors.ts';

/** A PostgreSQL major version: 16 for 16.4 (server_version_num 160004). */
export type PgVersion = number;

/** What `check --static` (and so `cdk synth`) assumes when nobody says. */
export const DEFAULT_PG_VERSION: PgVersion = 16;

/** The oldest release whose rules the model knows; older ones are out of support anyway. */
const OLDEST_PG_VERSION: PgVersion = 10;

/**
 * Reads `16`, `16.4`, `9.6` or a server_version_num such as `160004`. Versions before 10 had
 * two-part major numbers and predate every rule the model knows, so they are refused (a usage error).
 */
export function parsePgVersion(text: string): PgVersion {
  const trimmed = text.trim();
  const major = /^\d{5,6}$/.test(trimmed)
    ? Math.floor(Number(trimmed) / 10_000)
    : /^\d+(\.\d+)?$/.test(trimmed)
      ? Number(trimmed.split('.')[0])
      : Number.NaN;
  if (!Number.isInteger(major) || major < OLDEST_PG_VERSION || major > 99) {
    throw new UsageError(
      `--pg-version '${text}' is not a PostgreSQL version the linter knows: give a major version from ` +
        `${OLDEST_PG_VERSION} on (e.g. 16 or 16.4), or a server_version_num such as 160004`,
    );
  }
  return major;
}

/** The major version of `SHOW server_version_num` (e.g. '170002' → 17). */
export function versionFromServerNum(serverVersionNum: string | number): PgVersion {
  return Math.floor(Number(serverVersionNum) / 10_000);
}
