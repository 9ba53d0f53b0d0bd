/**
 * Splits SQL text into statements with the real PostgreSQL parser, for migrations that run
 * outside a transaction: PostgreSQL runs a multi-statement query as one implicit transaction,
 * where CREATE INDEX CONCURRENTLY is refused, so each statement has to travel alone.
 */
import type { Database } from './database.ts';

export interface Statement {
  readonly text: string;
  /** 1-based line of the statement's first character within the given text. */
  readonly line: number;
}

export async function splitStatements(sql: string): Promise<Statement[]> {
  // An empty section (a down step that does nothing) has no statements; the parser refuses ''.
  if (sql.trim() === '') return [];
  const { parse } = await import('libpg-query');
  const tree = (await parse(sql)) as { stmts?: { stmt_location?: number; stmt_len?: number }[] };
  // Locations are byte offsets into the UTF-8 text.
  const bytes = Buffer.from(sql, 'utf8');
  return (tree.stmts ?? [])
    .map((stmt) => {
      const start = stmt.stmt_location ?? 0;
      const end = stmt.stmt_len ? start + stmt.stmt_len : bytes.length;
      const raw = bytes.subarray(start, end).toString('utf8');
      const leading = raw.length - raw.trimStart().length;
      const before = bytes.subarray(0, start).toString('utf8') + raw.slice(0, leading);
      return { text: raw.trim(), line: before.split('\n').length };
    })
    .filter((statement) => statement.text !== '');
}

/**
 * Whether `sql` holds anything to run beside comments and semicolons. Read with the scanner, which
 * takes text the parser refuses: a syntax error is the run's to report, with its line.
 */
export async function hasStatements(sql: string): Promise<boolean> {
  if (sql.trim() === '') return false;
  // Nearly every migration starts with a statement after its comments: known without loading
  // the parser (about 15 ms for its WebAssembly, on every run that applies one).
  if (startsWithToken(sql)) return true;
  const { scan } = await import('libpg-query');
  const { tokens } = await scan(sql);
  return tokens.some((token) => !isComment(token) && token.tokenName !== 'ASCII_59');
}

/** The comments of `sql` as PostgreSQL's scanner sees them (not text inside a string), with their lines. */
export async function commentsOf(sql: string): Promise<{ text: string; line: number }[]> {
  const { scan } = await import('libpg-query');
  const { tokens } = await scan(sql);
  // Token offsets are byte offsets into the UTF-8 text.
  const bytes = Buffer.from(sql, 'utf8');
  return tokens.filter(isComment).map((token) => ({
    text: bytes.subarray(token.start, token.end).toString('utf8'),
    line: bytes.subarray(0, token.start).toString('utf8').split('\n').length,
  }));
}

/**
 * Whether the first thing in `sql` past whitespace, semicolons and comments (`--` to the end of
 * the line, nested block comments, as PostgreSQL's scanner reads them) is a token. False when the
 * text ends first, or a block comment is left open: the scanner decides those.
 */
export function startsWithToken(sql: string): boolean {
  let at = 0;
  while (at < sql.length) {
    const char = sql[at] as string;
    if (char === ';' || /\s/.test(char)) {
      at += 1;
    } else if (sql.startsWith('--', at)) {
      const end = sql.slice(at).search(/[\n\r]/);
      if (end === -1) return false;
      at += end;
    } else if (sql.startsWith('/*', at)) {
      const end = blockCommentEnd(sql, at);
      if (end === undefined) return false;
      at = end;
    } else {
      return true;
    }
  }
  return false;
}

/** The offset after the block comment opening at `start` (nested ones included), or undefined when it never closes. */
function blockCommentEnd(sql: string, start: number): number | undefined {
  let depth = 0;
  let at = start;
  while (at < sql.length) {
    if (sql.startsWith('/*', at)) {
      depth += 1;
      at += 2;
    } else if (sql.startsWith('*/', at)) {
      depth -= 1;
      at += 2;
      if (depth === 0) return at;
    } else {
      at += 1;
    }
  }
  return undefined;
}

function isComment(token: { readonly tokenName: string }): boolean {
  return token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT';
}

/**
 * Indexes that the CREATE INDEX CONCURRENTLY statements of `sql` name and that exist INVALID
 * (a build that was interrupted), as schema-qualified, quoted names ready for DROP INDEX.
 */
export async function invalidIndexesLeftBy(db: Database, sql: string): Promise<string[]> {
  const { parse } = await import('libpg-query');
  const tree = (await parse(sql)) as { stmts?: { stmt?: { IndexStmt?: IndexStatement } }[] };
  const names = (tree.stmts ?? [])
    .map((entry) => entry.stmt?.IndexStmt)
    .filter((index): index is IndexStatement => Boolean(index?.concurrent && index.idxname))
    .map((index) => ({ schema: index.relation?.schemaname, name: index.idxname as string }));
  const invalid: string[] = [];
  for (const { schema, name } of names) {
    const result = await db.query<{ qualified: string }>(
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE NOT i.indisvalid AND c.relname = $1 AND ($2::text IS NULL AND pg_table_is_visible(c.oid) OR n.nspname = $2)`,
      [name, schema ?? null],
    );
    invalid.push(...result.rows.map((row) => row.qualified));
  }
  return invalid;
}

interface IndexStatement {
  readonly idxname?: string;
  readonly concurrent?: boolean;
  readonly relation?: { readonly schemaname?: string };
}
