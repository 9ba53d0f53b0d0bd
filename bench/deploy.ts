/**
 * The deploy's own overhead for a plan of one additive migration under each snapshot policy,
 * in Provider framework polls and simulated seconds (the framework polls every 30 s). The RDS
 * API is faked (test/fixtures/handler/harness.ts): its snapshot is done after `SNAPSHOT_LOOKS`
 * describes, two a poll (its state, its progress), so about five minutes: what a manual snapshot
 * of a small instance takes. The database is real (embedded PostgreSQL).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbedded } from '../lib/local/embedded.ts';
import { cfnEvent, deployWith, fakes, ManualClock, timedHandler } from '../test/fixtures/handler/harness.ts';
import { scratchParent } from './scratch.ts';

/** Describes of the snapshot until it is available: two a poll, so ten polls, five minutes. */
const SNAPSHOT_LOOKS = 20;
const POLICIES = ['always', 'when-risky', 'never'] as const;

export interface DeployBenchRow {
  readonly policy: (typeof POLICIES)[number];
  readonly polls: number;
  readonly simulatedSeconds: number;
  readonly snapshot: boolean;
  readonly wallMs: number;
}

export async function benchDeploy(): Promise<DeployBenchRow[]> {
  const root = await mkdtemp(join(await scratchParent(), 'rds-migrate-bench-deploy-'));
  const server = await startEmbedded({ dataDir: join(root, 'data'), throwaway: true, database: 'postgres' });
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  const bundle = join(root, 'migrations');
  await import('node:fs/promises').then(({ mkdir }) => mkdir(bundle));
  await writeFile(
    join(bundle, '202611250001_accounts.sql'),
    '-- revision: bbbb00000001\n-- down_revision: none\n\n-- migrate:up\n' +
      'CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n\n-- migrate:down\nDROP TABLE accounts;\n',
  );
  const rows: DeployBenchRow[] = [];
  try {
    for (const [index, policy] of POLICIES.entries()) {
      const database = `bench_deploy_${index}`;
      await admin.query(`CREATE DATABASE ${database}`);
      const aws = fakes(server.url(database));
      aws.rds.describesUntilDone = SNAPSHOT_LOOKS;
      const clock = new ManualClock();
      const started = performance.now();
      const outcome = await deployWith(
        timedHandler(aws, bundle, clock),
        clock,
        cfnEvent('cfn-create', { TargetRevision: 'bbbb00000001', Snapshot: { Policy: policy } }),
      );
      if (outcome.status !== 'SUCCESS') throw new Error(`${policy}: ${outcome.reason ?? outcome.status}`);
      rows.push({
        policy,
        polls: outcome.polls,
        simulatedSeconds: outcome.polls * 30,
        snapshot: String(outcome.data.SnapshotId ?? '') !== '',
        wallMs: performance.now() - started,
      });
      await admin.query(`DROP DATABASE ${database} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
  process.stdout.write(
    `\ndeploy overhead, one additive migration (a snapshot takes about 5 min; polls are 30 s apart):\n` +
      rows
        .map(
          (row) =>
            `  ${row.policy.padEnd(11)} ${row.snapshot ? 'snapshot   ' : 'no snapshot'}  ${String(row.polls).padStart(2)} polls  ` +
            `${String(row.simulatedSeconds).padStart(4)} s simulated  (${row.wallMs.toFixed(0)} ms wall)`,
        )
        .join('\n') +
      '\n',
  );
  return rows;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) await benchDeploy();
