/**
 * The embedded server's superuser password: random, made when its data folder is initialised,
 * kept in a file beside the folder (`.rds-migrate/pgdata.password`) that only its owner can read.
 * The server itself gets only the SCRAM verifier (what PostgreSQL stores), so the password never
 * passes through a temporary file, a SQL statement or the server's log.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Where the password of the server on `dataDir` is kept. */
export function passwordFile(dataDir: string): string {
  return join(dirname(dataDir), `${basename(dataDir)}.password`);
}

/** 256 random bits, URL-safe: it goes into connection strings as it is. */
export function randomPassword(): string {
  return randomBytes(32).toString('base64url');
}

/** The password kept in `file`, or undefined when there is none. */
export async function readPassword(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Writes `password` to `file`, mode 0600 from its creation on (a new file renamed over the old). */
export async function writePassword(file: string, password: string): Promise<string> {
  const written = `${file}.${process.pid}.tmp`;
  await writeFile(written, `${password}\n`, { mode: 0o600, flag: 'wx' });
  await rename(written, file);
  return password;
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (as `\password` in psql computes
 * it). Given to initdb or `ALTER ROLE ... PASSWORD`, it is stored as it is.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest('base64');
  const serverKey = createHmac('sha256', salted).update('Server Key').digest('base64');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey}:${serverKey}`;
}
