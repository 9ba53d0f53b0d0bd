/**
 * A held-out corpus for the linter beyond locks (issue 33): 23 unsafe migrations and 20 safe
 * near-misses, written before the rules that judge them (each ran on PostgreSQL 18: the unsafe
 * ones show their hazard, the safe ones do not). First measured at 23 of 23 caught with 1 false
 * positive (CREATE INDEX ON ONLY, which the parser marks by leaving `inh` out); kept as a
 * regression corpus. Parser only, no database.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseSql } from '../../lib/lint/lint.ts';
import { SchemaKnowledge } from '../../lib/lint/model/schema-knowledge.ts';

interface HeldOutCase {
  readonly id: string;
  readonly expect: 'unsafe' | 'safe';
  /** An earlier migration. */
  readonly setup: string;
  readonly sql: string;
  readonly transaction?: boolean;
}

const CASES: HeldOutCase[] = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'lint-held-out', 'cases.json'), 'utf8'),
);

async function rulesFound(heldOut: HeldOutCase): Promise<string[]> {
  const schema = new SchemaKnowledge();
  const common = { source: 'migrations/held-out.sql', section: 'up' as const, pgVersion: 18, schema };
  await analyseSql({ ...common, sql: heldOut.setup, revision: 'earlier', transactional: true });
  const { findings } = await analyseSql({
    ...common,
    sql: heldOut.sql,
    revision: 'now',
    transactional: heldOut.transaction !== false,
  });
  return findings.map((finding) => finding.rule);
}

describe('the held-out corpus', () => {
  it('has at least 12 unsafe cases and 10 safe near-misses', () => {
    expect(CASES.filter((heldOut) => heldOut.expect === 'unsafe').length).toBeGreaterThanOrEqual(12);
    expect(CASES.filter((heldOut) => heldOut.expect === 'safe').length).toBeGreaterThanOrEqual(10);
  });

  it.each(
    CASES.filter((heldOut) => heldOut.expect === 'unsafe').map((heldOut) => [heldOut.id, heldOut] as const),
  )('catches unsafe case %s', async (_id, heldOut) => {
    expect(await rulesFound(heldOut)).not.toEqual([]);
  });

  it.each(
    CASES.filter((heldOut) => heldOut.expect === 'safe').map((heldOut) => [heldOut.id, heldOut] as const),
  )('stays quiet on near-miss %s', async (_id, heldOut) => {
    expect(await rulesFound(heldOut)).toEqual([]);
  });
});
