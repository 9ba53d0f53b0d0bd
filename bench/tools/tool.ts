/**
 * What the harness needs of each tool: given a fresh database and a folder of its own, the
 * phases to time. Setup (writing files, connecting) happens before any clock starts.
 */
import type { BenchMigration } from '../workload.ts';

export type Phase = 'up' | 'no-op up' | 'down';

export const PHASES: readonly Phase[] = ['up', 'no-op up', 'down'];

export interface RunSetup {
  /** Connection string of a database created for this run alone. */
  readonly url: string;
  /** An empty folder for this run's files. */
  readonly folder: string;
  readonly migrations: readonly BenchMigration[];
  /**
   * How many of `migrations` (the first ones) an earlier run of the same tool applied to this
   * database already: `up` applies the rest. @default 0
   */
  readonly applied?: number;
}

/** Parts of a phase timed on their own, in ms, e.g. rds-migrate's load time. */
export type PhaseDetails = Readonly<Record<string, number>>;

export type PhaseRun = () => Promise<PhaseDetails | undefined>;

export interface ToolRun {
  /** In the order of PHASES; a tool without a phase (raw SQL has no no-op up) leaves it out. */
  readonly phases: Partial<Record<Phase, PhaseRun>>;
  close(): Promise<void>;
}

export interface Tool {
  readonly name: string;
  /** How it wraps the work in transactions, for the table's legend. */
  readonly transactions: string;
  prepare(setup: RunSetup): Promise<ToolRun>;
}
