/**
 * Input from an invoker, as the function may repeat it: in an error, an answer or a log line an
 * echoed value is at most a few hundred bytes, on one line, control characters escaped, so a
 * megabyte sent in is never a megabyte sent back (or logged), and nothing it holds can forge a
 * line of its own.
 */

/** The most characters of an input value any answer or log line repeats. */
const MAX_ECHO_CHARS = 120;

/** `value` as text safe to repeat: control characters as \uXXXX, cut to `max` characters with '...'. */
export function shortText(value: unknown, max: number = MAX_ECHO_CHARS): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return cut.replace(
    /[\p{Cc}\u2028\u2029]/gu,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A string input of at most `max` characters, or undefined when it is not one. */
export function boundedString(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}
