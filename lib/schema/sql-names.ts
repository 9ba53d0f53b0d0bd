/**
 * Names as SQL writes them: plain (`public.users`), quoted only where needed (ours), and always
 * quoted (`"public"."users"`, as the diff library writes them).
 */

/** `"public"."users"` and `public.users` alike: `public.users`. */
export function plainName(quoted: string): string {
  return quoted
    .split('.')
    .map((part) => part.replace(/^"|"$/g, '').replace(/""/g, '"'))
    .join('.');
}

export function quoted(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export function quotedQualified(plain: string): string {
  return plain.split('.').map(quoted).join('.');
}

/** A name as the diff library writes it: always in double quotes (`"public"."users"`). */
export function libraryQuoted(plain: string): string {
  return plain
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}
