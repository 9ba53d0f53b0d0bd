/** The engine's quoting is pg's, to the character, without loading pg's driver. */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { escapeIdentifier, escapeLiteral } from '../../lib/engine/sql-quote.ts';

const SAMPLES = [
  '',
  'plain',
  "it's",
  'back\\slash',
  "both ' and \\",
  '"quoted"',
  'ünï\u00a0"\n\'\\\\',
  'a"b"c',
];

describe('sql quoting', () => {
  it('quotes as pg does', () => {
    for (const sample of SAMPLES) {
      expect(escapeIdentifier(sample)).toBe(pg.escapeIdentifier(sample));
      expect(escapeLiteral(sample)).toBe(pg.escapeLiteral(sample));
    }
  });
});
