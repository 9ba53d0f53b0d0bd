/**
 * What `rds-migrate invoke` may ask the deployed function. Apart from remote.ts, which sends the
 * request, so the command lists them in --help without loading the AWS SDK.
 */
export const REMOTE_ACTIONS = [
  'status',
  'history',
  'show',
  'heads',
  'up',
  'down',
  'stamp',
  'pause',
  'resume',
  'cancel',
] as const;
export type RemoteAction = (typeof REMOTE_ACTIONS)[number];
