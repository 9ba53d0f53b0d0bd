/**
 * How to go back to where a deploy started: the AWS CLI commands that restore the database to
 * the deploy's restore point (point-in-time recovery, when automated backups are on) or from its
 * snapshot. RDS restores into a NEW instance or cluster; the commands name it `<id>-restored`,
 * to be checked and then swapped in (or renamed) by a person.
 */
import type { DatabaseKind } from './config.ts';

interface RestoreTarget {
  readonly kind: DatabaseKind;
  readonly identifier: string;
}

export interface RestoreCommands {
  /** Point-in-time recovery to the restore point; absent when automated backups are off. */
  readonly pointInTime?: string;
  /** From the deploy's snapshot; absent when it took none. */
  readonly fromSnapshot?: string;
  /** What to do after the command (an Aurora cluster restores without instances). */
  readonly afterwards?: string;
}

export function restoreCommands(
  target: RestoreTarget,
  restorePoint: Date | undefined,
  backupRetentionDays: number | undefined,
  snapshotId: string | undefined,
): RestoreCommands {
  const restored = `${target.identifier}-restored`;
  const time = restorePoint?.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const pitr = restorePoint !== undefined && backupRetentionDays !== 0;
  if (target.kind === 'cluster') {
    return {
      ...(pitr
        ? {
            pointInTime:
              `aws rds restore-db-cluster-to-point-in-time --source-db-cluster-identifier ${target.identifier} ` +
              `--db-cluster-identifier ${restored} --restore-to-time ${time}`,
          }
        : {}),
      ...(snapshotId
        ? {
            fromSnapshot:
              `aws rds restore-db-cluster-from-snapshot --db-cluster-identifier ${restored} ` +
              `--snapshot-identifier ${snapshotId} --engine aurora-postgresql`,
          }
        : {}),
      afterwards:
        `a restored cluster has no instances: add one with aws rds create-db-instance --db-cluster-identifier ${restored} ` +
        `--db-instance-identifier ${restored}-1 --engine aurora-postgresql --db-instance-class <class>`,
    };
  }
  return {
    ...(pitr
      ? {
          pointInTime:
            `aws rds restore-db-instance-to-point-in-time --source-db-instance-identifier ${target.identifier} ` +
            `--target-db-instance-identifier ${restored} --restore-time ${time}`,
        }
      : {}),
    ...(snapshotId
      ? {
          fromSnapshot:
            `aws rds restore-db-instance-from-db-snapshot --db-instance-identifier ${restored} ` +
            `--db-snapshot-identifier ${snapshotId}`,
        }
      : {}),
  };
}
