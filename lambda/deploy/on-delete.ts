/**
 * Delete: never touches the schema or data, and never fails.
 */
import { RunLease } from '../../lib/engine/lease.ts';
import type { LifecycleRequest } from '../config.ts';
import type { Runtime } from '../runtime.ts';
import { DELETE_NOTE, type DeleteResult, MARKER_KEY, messageOf } from './answers.ts';
import { confirmWithCloudFormation } from './plan.ts';

/**
 * Delete succeeds whatever happens: a failed Delete blocks the stack's deletion or rollback.
 * `runtime` is a thunk because even a broken environment must not fail it.
 */
export async function onDelete(
  request: LifecycleRequest,
  runtime: () => Runtime,
  logger: Runtime['logger'],
): Promise<DeleteResult> {
  // Stop any poll of an abandoned Create/Update from migrating later; best effort, never fatal.
  // Only for a Delete CloudFormation confirms: a forged one must not stop a deploy in flight.
  const leaseClaimed = await Promise.resolve()
    .then(async () => {
      const current = runtime();
      await confirmWithCloudFormation(request, current);
      return current.withDatabase((db) =>
        new RunLease(current.history).claimIfPresent(db, request.requestId),
      );
    })
    .catch((error: unknown) => {
      logger.warn('did not claim the run lease on Delete; continuing', { error: messageOf(error) });
      return false;
    });
  logger.info('delete: schema and data left in place', {
    physicalResourceId: request.physicalResourceId,
    leaseClaimed,
  });
  return {
    ...(request.physicalResourceId ? { PhysicalResourceId: request.physicalResourceId } : {}),
    Data: { Note: DELETE_NOTE },
    [MARKER_KEY]: { phase: 'done', requestId: request.requestId, target: '', from: [], plan: [] },
  };
}
