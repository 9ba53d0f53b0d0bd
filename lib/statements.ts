/**
 * Splits SQL text into statements with the real PostgreSQL parser, for migrations that run
 * outside a transaction: PostgreSQL runs a multi-statement query as one implicit transaction,
 * where CREATE INDEX CONCURRENTLY is refused, so each statement has to travel alone.
 */
export interface Statement {
  readonly text: string;
  /** 1-based line of the statement's first character within the given text. */
  readonly line: number;
}

export async function splitStatements(sql: string): Promise<Statement[]> {
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
