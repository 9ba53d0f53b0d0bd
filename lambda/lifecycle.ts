/**
 * The custom resource's lifecycle, as the CDK Provider framework drives it.
 *
 * onEvent (Create/Update): claim the run lease, read the database's revision, plan `sync` to the
 * TargetRevision (upgrade or downgrade), and record the request (history table `deploys`) before
 * any side effect. Nothing to do: done, no snapshot. Otherwise start a snapshot (named and
 * recorded first) and return; the framework then polls isComplete, which waits for the snapshot
 * and migrates. onEvent's result carries an `RdsMigrate` marker, which the framework merges into
 * every isComplete event: that is how a poll is told apart from a new request.
 *
 * The request's row is the truth every call reads: a second delivery of the same request (the
 * framework's onEvent retried) joins the first, with its snapshot and its run; a snapshot the
 * database refuses while busy (a backup, a modification, another snapshot) is tried again in
 * later polls with backoff; and the deploy's answer counts what its own runs applied, from the
 * log, whichever poll gives it.
 *
 * Stack rollback: CloudFormation sends Update with the old properties, most likely to the old
 * code (the function is rolled back before the custom resource that depends on it). That code
 * lacks the newer migrations, so when the stack is UPDATE_ROLLBACK_IN_PROGRESS the plan reverts
 * them with the down steps the history recorded when they were applied.
 *
 * Delete never touches the schema or data, and never fails.
 *
 * By phase: deploy/on-event.ts (and deploy/plan.ts, what it checks and plans), deploy/snapshot.ts,
 * deploy/is-complete.ts (one poll: pollOnce), deploy/on-delete.ts; deploy/answers.ts holds the
 * marker and the Data both answer with.
 */

export {
  type DeleteResult,
  type DeployMarker,
  type IsCompleteResult,
  MARKER_KEY,
  markerOf,
  type OnEventResult,
} from './deploy/answers.ts';
export { isComplete } from './deploy/is-complete.ts';
export { onDelete } from './deploy/on-delete.ts';
export { onEvent } from './deploy/on-event.ts';
export { snapshotBackoffMs } from './deploy/snapshot.ts';
