/**
 * One call of the deployed function in a process of its own, as Lambda runs it, so that a trial
 * can SIGKILL it at any moment: `node --import tsx deploy-call.ts <state dir> <event file>`.
 * AWS is faked at the handler's seams with state in files (the snapshots, the stack status), so
 * it survives the kill; the database is real. Prints `{"result": ...}` or `{"error": "..."}`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { createHandler } from '../../lambda/handler.ts';
import { FUNCTION_ENV, propertiesFingerprint } from '../../lib/engine/function-contract.ts';
import type {
  SnapshotInfo,
  SnapshotRequest,
  SnapshotService,
  SnapshotState,
} from '../../lib/engine/snapshot.ts';
import { SnapshotExistsError, snapshotStamp } from '../../lib/engine/snapshot.ts';
import {
  CONSTRUCT_ENV,
  DB_IDENTIFIER,
  LOGICAL_ID,
  lambdaContext,
  SECRET_ARN,
  secretFor,
  silentLogger,
} from '../fixtures/handler/harness.ts';

export const DEPLOY_CRASH_BUNDLE = join(import.meta.dirname, '..', 'fixtures', 'deploy-crash');

export interface TrialState {
  readonly url: string;
  readonly stackStatus: string;
}

interface StoredSnapshot {
  readonly createdAt: string;
  readonly tags: Record<string, string>;
  polls: number;
}

/** RDS snapshots kept in a file: `creating` for one look, then available. */
export class FileSnapshots implements SnapshotService {
  private readonly file: string;

  constructor(private readonly folder: string) {
    this.file = join(folder, 'snapshots.json');
  }

  nameAt(at: Date, sequence = 1): string {
    return `rds-migrate-${DB_IDENTIFIER}-${snapshotStamp(at)}${sequence > 1 ? `-${sequence}` : ''}`;
  }

  async create(request: SnapshotRequest): Promise<string> {
    const snapshots = this.read();
    const id = request.name ?? this.nameAt(new Date());
    if (snapshots[id]) throw new SnapshotExistsError(`a snapshot named ${id} exists already`);
    snapshots[id] = { createdAt: new Date().toISOString(), tags: { ...request.tags }, polls: 0 };
    this.write(snapshots);
    // Where a trial aims its kill: right after RDS accepted the snapshot.
    writeFileSync(join(this.folder, 'snapshot-requested'), id);
    return id;
  }

  async state(id: string): Promise<SnapshotState> {
    const snapshots = this.read();
    const snapshot = snapshots[id];
    if (!snapshot) throw new Error(`snapshot ${id} does not exist`);
    snapshot.polls += 1;
    this.write(snapshots);
    return snapshot.polls > 1 ? 'available' : 'creating';
  }

  async list(): Promise<SnapshotInfo[]> {
    return Object.entries(this.read())
      .map(([id, snapshot]) => ({
        id,
        createdAt: new Date(snapshot.createdAt),
        state: (snapshot.polls > 1 ? 'available' : 'creating') as SnapshotState,
        tags: snapshot.tags,
      }))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  async delete(id: string): Promise<void> {
    // Where a trial aims its kill: after the final COMMIT, before the answer.
    writeFileSync(join(this.folder, 'pruning'), id);
    await new Promise((done) => setTimeout(done, 600));
    const snapshots = this.read();
    delete snapshots[id];
    this.write(snapshots);
  }

  read(): Record<string, StoredSnapshot> {
    return existsSync(this.file)
      ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, StoredSnapshot>)
      : {};
  }

  private write(snapshots: Record<string, StoredSnapshot>): void {
    writeFileSync(this.file, JSON.stringify(snapshots));
  }
}

async function main(): Promise<void> {
  const [folder, eventFile] = process.argv.slice(2) as [string, string];
  const state = JSON.parse(readFileSync(join(folder, 'state.json'), 'utf8')) as TrialState;
  const event = JSON.parse(readFileSync(eventFile, 'utf8')) as Record<string, unknown>;
  // CloudFormation as it stands while it sends this request: the resource in progress for it,
  // and the function deployed with the request's properties.
  const resourceStatus = `${String(event.RequestType).toUpperCase()}_IN_PROGRESS`;
  const handler = createHandler({
    rds: {} as never,
    secrets: { send: async () => ({ SecretString: secretFor(state.url) }) } as never,
    cloudformation: {
      send: async (command: unknown) =>
        command instanceof DescribeStackResourceCommand
          ? { StackResourceDetail: { LogicalResourceId: LOGICAL_ID, ResourceStatus: resourceStatus } }
          : { Stacks: [{ StackName: 'MyAppStack', StackStatus: state.stackStatus }] },
    } as never,
    env: {
      SECRET_ARN,
      DB_KIND: 'instance',
      DB_IDENTIFIER,
      AUTH_MODE: 'secret',
      ...CONSTRUCT_ENV,
      [FUNCTION_ENV.propertiesSha256]: propertiesFingerprint(
        event.ResourceProperties as Record<string, unknown>,
      ),
    },
    migrationsDir: DEPLOY_CRASH_BUNDLE,
    tls: false,
    snapshots: new FileSnapshots(folder),
    logger: silentLogger(),
  });
  try {
    const result = await handler(event, lambdaContext());
    process.stdout.write(JSON.stringify({ result }));
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: (error as Error).message }));
  }
}

if (process.argv[1] === import.meta.filename) {
  await main();
  process.exit(0);
}
