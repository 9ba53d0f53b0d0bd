/**
 * Text that came from outside the program (a file name, a row of a database) made safe to show:
 * control characters (C0, DEL, C1) and the Unicode line and paragraph separators are written as
 * escapes (`\x1b`, `\n`, `\u2028`), so a value can neither drive the terminal it is printed on
 * nor start a line of its own (in a report, or out of a SQL comment).
 */

const UNPRINTABLE = /[\p{Cc}\u2028\u2029]/u;
const EVERY_UNPRINTABLE = /[\p{Cc}\u2028\u2029]/gu;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function hasUnprintable(text: string): boolean {
  return UNPRINTABLE.test(text);
}

/** `text` with every control character written as an escape: `\x1b[31m` shows as the 8 characters `\x1b[31m`. */
export function printable(text: string): string {
  return text.replace(EVERY_UNPRINTABLE, (character) => NAMED[character] ?? escapeOf(character));
}

function escapeOf(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` kept on its lines (a multi-line message stays one), each line printable. */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

/**
 * `value` with every string in it printable: objects and arrays are copied, walked; dates and
 * other values are kept. For a result object read from a database, before it is formatted.
 */
export function printableValues<T>(value: T): T {
  if (typeof value === 'string') return printable(value) as T;
  if (Array.isArray(value)) return value.map(printableValues) as T;
  if (value === null || typeof value !== 'object') return value;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, printableValues(entry)])) as T;
}
