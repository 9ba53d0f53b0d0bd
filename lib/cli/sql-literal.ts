/**
 * Bound parameters written as SQL literals, so that the recorded SQL of a TS migration runs as
 * text (`up --sql > plan.sql; psql -f plan.sql`). Each value becomes the text `pg` would bind for
 * it (its prepareValue), quoted as its escapeLiteral quotes: an untyped literal, which PostgreSQL
 * types from its context exactly as it types an untyped parameter. (The CLI may not load `pg`
 * itself, so the two short rules are restated here; the tests compare both on a real server.)
 */

/** `text` with each `$n` outside strings, quoted names, comments and dollar-quoted bodies replaced. */
export function inlineParameters(text: string, values: readonly unknown[]): string {
  if (values.length === 0) return text;
  let out = '';
  let at = 0;
  while (at < text.length) {
    const end = skipLexeme(text, at);
    if (end > at) {
      out += text.slice(at, end);
      at = end;
      continue;
    }
    const placeholder = /^\$(\d+)/.exec(text.slice(at));
    const index = placeholder ? Number(placeholder[1]) : 0;
    if (placeholder && index >= 1 && index <= values.length) {
      out += parameterLiteral(values[index - 1]);
      at += placeholder[0].length;
      continue;
    }
    out += text[at];
    at += 1;
  }
  return out;
}

/**
 * Where the lexeme at `at` ends when it is one that may contain a `$n` that is not a parameter:
 * a word (identifiers may hold `$`), a string, a quoted name, a comment, a dollar-quoted body.
 * Returns `at` for anything else.
 */
function skipLexeme(text: string, at: number): number {
  const rest = text.slice(at);
  const word = /^[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/.exec(rest);
  if (word) {
    // E'...' strings take backslash escapes.
    if (/^[Ee]$/.test(word[0]) && rest[1] === "'") return quotedEnd(text, at + 1, "'", true);
    return at + word[0].length;
  }
  if (rest.startsWith("'")) return quotedEnd(text, at, "'", false);
  if (rest.startsWith('"')) return quotedEnd(text, at, '"', false);
  if (rest.startsWith('--')) {
    const newline = text.indexOf('\n', at);
    return newline === -1 ? text.length : newline;
  }
  if (rest.startsWith('/*')) {
    const close = text.indexOf('*/', at + 2);
    return close === -1 ? text.length : close + 2;
  }
  const tag = /^\$([A-Za-z_][\w]*)?\$/.exec(rest);
  if (tag) {
    const close = text.indexOf(tag[0], at + tag[0].length);
    return close === -1 ? text.length : close + tag[0].length;
  }
  return at;
}

/** The end of a quoted string or name starting at `at`; a doubled quote stays inside. */
function quotedEnd(text: string, at: number, quote: string, backslashEscapes: boolean): number {
  let i = at + 1;
  while (i < text.length) {
    if (backslashEscapes && text[i] === '\\') i += 2;
    else if (text[i] === quote && text[i + 1] === quote) i += 2;
    else if (text[i] === quote) return i + 1;
    else i += 1;
  }
  return text.length;
}

/** A value as the literal of the text `pg` would bind for it: `NULL`, or a quoted string. */
export function parameterLiteral(value: unknown): string {
  const text = parameterText(value);
  return text === null ? 'NULL' : quoteLiteral(text);
}

/** What `pg` sends for a parameter (its prepareValue). */
function parameterText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (ArrayBuffer.isView(value)) return `\\x${bytesHex(value)}`;
  if (value instanceof Date) return dateText(value);
  if (Array.isArray(value)) return arrayText(value);
  if (typeof value === 'object') {
    const custom = value as { toPostgres?: (prepare: (v: unknown) => string | null) => unknown };
    if (typeof custom.toPostgres === 'function') return parameterText(custom.toPostgres(parameterText));
    return JSON.stringify(value);
  }
  return String(value);
}

/** A JS array as a PostgreSQL array literal: `{"a","b",NULL}`, nested arrays nested. */
function arrayText(values: readonly unknown[]): string {
  const elements = values.map((value) => {
    if (value === null || value === undefined) return 'NULL';
    if (Array.isArray(value)) return arrayText(value);
    if (ArrayBuffer.isView(value)) return `\\\\x${bytesHex(value)}`;
    const text = parameterText(value) ?? '';
    return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  });
  return `{${elements.join(',')}}`;
}

function bytesHex(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('hex');
}

/** Local time with its offset, as `pg` sends a Date (so `timestamp` columns get the same value). */
function dateText(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const year = date.getFullYear();
  const offset = -date.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return (
    `${pad(year < 1 ? 1 - year : year, 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}` +
    `${zone}${year < 1 ? ' BC' : ''}`
  );
}

/** Quoted as pg's escapeLiteral quotes: quotes doubled; with a backslash, an E'' string. */
function quoteLiteral(text: string): string {
  const escaped = text.replaceAll("'", "''").replaceAll('\\', '\\\\');
  return text.includes('\\') ? `E'${escaped}'` : `'${escaped}'`;
}
