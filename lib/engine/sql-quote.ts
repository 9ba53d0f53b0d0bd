/**
 * Quoting for SQL the engine writes as text: pg's escapeIdentifier and escapeLiteral, the same to
 * the character (test/engine/sql-quote.test.ts compares them), in a module that loads nothing.
 * Importing them from pg loads the whole driver (its pool, protocol and type parsers): about a
 * fifth of what `rds-migrate heads` took to start, for a command that never connects.
 */

/** `"name"`, inner double quotes doubled. */
export function escapeIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * `'text'`, quotes and backslashes doubled; with a backslash in it, an escape string (` E'...'`,
 * with pg's leading space), which reads the same whatever standard_conforming_strings says.
 */
export function escapeLiteral(text: string): string {
  const doubled = text.replace(/['\\]/g, (char) => char + char);
  return text.includes('\\') ? ` E'${doubled}'` : `'${doubled}'`;
}
