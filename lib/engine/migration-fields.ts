/**
 * What SQL files and modules share: the checksum, revision and name rules, the message a
 * migration falls back to, and where a linked file may point (inside the folder only).
 */
import { hash } from 'node:crypto';
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { MigrationLoadError } from './errors.ts';
import { printable } from './printable.ts';
import { isValidName } from './target.ts';

/** sha256 of a file's text with line endings normalised, so a checkout with CRLF is not drift. */
export function checksumOf(text: string): string {
  return sha256Hex(text.includes('\r') ? text.replace(/\r\n/g, '\n') : text);
}

// One-shot hashing: no Hash object per file (loading every file is most of a no-op `up`).
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

// ---------- shared ----------

/** Compiler errors span lines; the CLI promises one. */
export function oneLine(message: string): string {
  const text = message
    .replace(/Transform failed with \d+ errors?:/, '')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/** What a revision id or branch label may be (isValidName), as messages say it. */
export const NAME_RULE = '1 to 64 of a-z, A-Z, 0-9, _; not base/head/heads/current';

export function validRevision(source: string, revision: string): string {
  if (!isValidName(revision)) {
    throw new MigrationLoadError(
      source,
      `has revision '${revision}', which is not a valid id (${NAME_RULE})`,
    );
  }
  return revision;
}

export function validName(source: string, key: string, name: string): string {
  if (!isValidName(name)) {
    const what = key.startsWith('branch') ? 'a branch label' : 'a revision id or branch label';
    throw new MigrationLoadError(source, `has ${key} '${name}', which is not ${what} (${NAME_RULE})`);
  }
  return name;
}

export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** `202611251030_add_user_profile.sql` → `add user profile`. */
export function messageFromFileName(source: string): string {
  return basename(source)
    .replace(/\.(sql|ts)$/, '')
    .replace(/^\d+_/, '')
    .replace(/_/g, ' ');
}

/** A file or link of the migrations folder that resolves outside it: the loader reads only the folder. */
export class MigrationOutsideFolder extends MigrationLoadError {
  constructor(
    source: string,
    /** Where the link leads, every link on the way resolved. */
    readonly target: string,
    folder: string,
  ) {
    super(
      source,
      `is a symbolic link to ${printable(target)}, outside the migrations folder ${printable(folder)}; ` +
        'copy the migration into the folder instead (a link may only lead to a file inside it)',
    );
  }
}

/** A link must resolve into the folder itself (its real path, so a linked folder is fine). */
export function checkInsideFolder(directory: string, name: string, path: string): void {
  const folder = realpathSync(directory);
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    throw new MigrationLoadError(
      name,
      `is a symbolic link to ${printable(resolve(dirname(path), readlinkSync(path)))}, which does not exist; ` +
        'remove the link or put the migration in its place',
    );
  }
  const inside = relative(folder, target);
  if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new MigrationOutsideFolder(name, target, folder);
  }
}

export function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    // Missing: the read that follows says so.
    return false;
  }
}

/** `{ [key]: names }` when there are any, so a migration without them has no such field. */
export function optionalNames<K extends 'branchLabels' | 'dependsOn' | 'replaces'>(
  key: K,
  names: readonly string[],
): Partial<Record<K, readonly string[]>> {
  return names.length === 0 ? {} : ({ [key]: names } as Partial<Record<K, readonly string[]>>);
}
