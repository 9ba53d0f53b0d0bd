/**
 * Whether a section holds a statement is answered without the parser's WebAssembly when the text
 * starts with one, and always as PostgreSQL's scanner answers it.
 */
import { scan } from 'libpg-query';
import { describe, expect, it } from 'vitest';
import { hasStatements, startsWithToken } from '../../lib/engine/statements.ts';

/** What the scanner says: any token but comments and semicolons ('refused' when it refuses the text). */
async function scannerSays(sql: string): Promise<boolean | 'refused'> {
  if (sql.trim() === '') return false;
  const scanned = await scan(sql).catch(() => undefined);
  if (!scanned) return 'refused';
  return scanned.tokens.some((token) => !['SQL_COMMENT', 'C_COMMENT', 'ASCII_59'].includes(token.tokenName));
}

const SECTIONS = [
  'CREATE TABLE accounts (id bigint)',
  '-- why\nCREATE INDEX i ON t (a);',
  '-- why\r\nSELECT 1',
  '/* a /* nested */ still inside */ SELECT 1',
  '/* a /* nested */ still inside */',
  '/*/ odd opener */ ;',
  '/**/SELECT 1',
  '/* stars **/ -- and a line\n;;',
  '-- only a comment',
  ';;\n;',
  '/* never closed',
  '/* closed */ /* never closed',
  ' \t\f\v\n',
  "SELECT '-- not a comment'",
  '\u00a0SELECT 1',
];

describe('hasStatements', () => {
  it('answers as the scanner does, and without it only when a token comes first', async () => {
    for (const sql of SECTIONS) {
      const expected = await scannerSays(sql);
      const has = await hasStatements(sql).catch(() => 'refused' as const);
      expect({ sql, has }).toEqual({ sql, has: expected });
      if (startsWithToken(sql)) expect({ sql, scanner: expected }).toEqual({ sql, scanner: true });
    }
    expect(startsWithToken('-- why\nCREATE TABLE t ()')).toBe(true);
    expect(startsWithToken('/* a /* b */ c */')).toBe(false);
  });
});
