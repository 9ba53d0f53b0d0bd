/**
 * The benchmark's workload: N generated migrations, each one table and one index, with a down
 * step. Every tool runs exactly this SQL; only how it is wrapped (files, transactions, history)
 * differs.
 */
import { createHash } from 'node:crypto';

export interface BenchMigration {
  /** 1-based position in the chain. */
  readonly index: number;
  /** A 12-hex revision id, stable across runs. */
  readonly revision: string;
  /** `0001`..: sorts in chain order as text. */
  readonly ordinal: string;
  readonly up: string;
  readonly down: string;
}

export function workload(count: number): BenchMigration[] {
  return Array.from({ length: count }, (_, offset) => {
    const index = offset + 1;
    return {
      index,
      revision: createHash('sha256').update(`bench ${index}`).digest('hex').slice(0, 12),
      ordinal: String(index).padStart(4, '0'),
      up:
        `CREATE TABLE bench_${index} (id bigserial PRIMARY KEY, name text NOT NULL, ` +
        'created_at timestamptz NOT NULL DEFAULT now());\n' +
        `CREATE INDEX bench_${index}_name ON bench_${index} (name);`,
      down: `DROP TABLE bench_${index};`,
    };
  });
}
