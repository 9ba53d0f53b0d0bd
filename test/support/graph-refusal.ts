/**
 * A GraphError as data, for tests that assert a refusal whole: the problem, the message users
 * read, and the revisions it names.
 */
import { GraphError } from '../../lib/engine/errors.ts';

export interface GraphRefusal {
  readonly problem: string;
  readonly message: string;
  readonly revisions: readonly string[];
}

/** The GraphError `run` throws; any other outcome fails the test. */
export function graphRefusal(run: () => unknown): GraphRefusal {
  try {
    run();
  } catch (error) {
    if (!(error instanceof GraphError)) throw error;
    return { problem: error.problem, message: error.message, revisions: error.revisions };
  }
  throw new Error('expected a GraphError');
}
