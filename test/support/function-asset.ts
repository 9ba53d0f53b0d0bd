/** Runs a function asset the way Lambda would: plain `node`, the asset folder as the task root. */

import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  FUNCTION_ENV,
  MANUAL_WITHOUT_SNAPSHOT_ALLOWED,
  MANUAL_WRITES_ON,
  OPERATE_ALIAS_NAME,
} from '../../lib/engine/function-contract.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf';

/** A copy of `asset` in a bare folder: no node_modules anywhere above it, as in Lambda. */
function taskRootOf(asset: string): string {
  const taskRoot = join(mkdtempSync(join(tmpdir(), 'rds-migrate-task-')), 'task');
  cpSync(asset, taskRoot, { recursive: true });
  return taskRoot;
}

/** The environment the construct gives the function, with the task root's migrations. */
function functionEnvironment(taskRoot: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AWS_REGION: 'eu-west-1',
    MIGRATIONS_DIR: join(taskRoot, 'migrations'),
    DB_KIND: 'instance',
    DB_IDENTIFIER: 'app-db',
    AUTH_MODE: 'secret',
    SECRET_ARN,
    LOG_LEVEL: 'CRITICAL',
    // As the construct sets them with operations: { writes: true, allowWithoutSnapshot: true }.
    [FUNCTION_ENV.manualWrites]: MANUAL_WRITES_ON,
    [FUNCTION_ENV.manualWithoutSnapshot]: MANUAL_WITHOUT_SNAPSHOT_ALLOWED,
    [FUNCTION_ENV.operateAlias]: OPERATE_ALIAS_NAME,
  };
}

/**
 * Imports `asset`'s index.mjs from a bare task root with the environment the construct sets,
 * and sends a manual invoke with an unknown action. Returns what the handler answered (its
 * error message).
 */
export function answerUnknownAction(asset: string): string {
  const taskRoot = taskRootOf(asset);
  const script =
    "const { handler } = await import('./index.mjs');" +
    "await handler({ action: 'no-such-action' }).then(() => console.log('resolved'), (error) => console.log(error.message));";
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: taskRoot,
    encoding: 'utf8',
    env: functionEnvironment(taskRoot),
  });
}

export interface AssetDatabase {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly dbname: string;
}

/**
 * Runs `asset` as Lambda would (plain node, a bare task root), with the construct's environment
 * and the database credentials from a stand-in for Secrets Manager on 127.0.0.1 (the SDK's
 * endpoint variable points there; every other AWS call gets an error). TLS is verified as in
 * Lambda, against `caFile` in DB_CA_BUNDLE, which replaces the RDS CAs the function pins. Sends the
 * payloads in order, in one process; returns each answer, or `{ error }` with its message.
 */
export async function invokeAsset(
  asset: string,
  options: {
    readonly database: AssetDatabase;
    readonly caFile: string;
    /**
     * How the CA reaches the function: DB_CA_BUNDLE replaces the pinned RDS CAs;
     * NODE_EXTRA_CA_CERTS only adds to Node's roots, which the database's TLS does not use.
     * @default 'DB_CA_BUNDLE'
     */
    readonly caVariable?: 'DB_CA_BUNDLE' | 'NODE_EXTRA_CA_CERTS';
    readonly payloads: readonly object[];
  },
): Promise<unknown[]> {
  const taskRoot = taskRootOf(asset);
  const aws = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.headers['x-amz-target'] === 'secretsmanager.GetSecretValue') {
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(
          JSON.stringify({ ARN: SECRET_ARN, Name: 'app-db', SecretString: JSON.stringify(options.database) }),
        );
        return;
      }
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ __type: 'AccessDeniedException', message: 'not in this test' }));
    });
  });
  await new Promise<void>((listening) => aws.listen(0, '127.0.0.1', listening));
  const endpoint = `http://127.0.0.1:${(aws.address() as AddressInfo).port}`;
  const script = `
const { handler } = await import('./index.mjs');
const context = { awsRequestId: 'asset-test', functionName: 'ConsumerStack-Migrations', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ConsumerStack-Migrations:${OPERATE_ALIAS_NAME}', getRemainingTimeInMillis: () => 120000 };
for (const payload of JSON.parse(process.env.PAYLOADS)) {
  const answer = await handler(payload, context).catch((error) => ({ error: error.message }));
  console.log('ANSWER ' + JSON.stringify(answer));
}`;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: taskRoot,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...functionEnvironment(taskRoot),
        AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'not-a-secret',
        AWS_ENDPOINT_URL: endpoint,
        AWS_MAX_ATTEMPTS: '1',
        [options.caVariable ?? FUNCTION_ENV.caBundle]: options.caFile,
        PAYLOADS: JSON.stringify(options.payloads),
      },
    });
    return stdout
      .split('\n')
      .filter((line) => line.startsWith('ANSWER '))
      .map((line) => JSON.parse(line.slice('ANSWER '.length)));
  } finally {
    aws.close();
    rmSync(dirname(taskRoot), { recursive: true, force: true });
  }
}

/**
 * A CA and a certificate for 127.0.0.1 that it signed (openssl), in `folder`: the key readable by
 * the server's user only, as PostgreSQL requires. Returns the files.
 */
export function testCertificates(folder: string, owner?: { uid: number; gid: number }) {
  const files = {
    caKey: join(folder, 'ca.key'),
    ca: join(folder, 'ca.pem'),
    key: join(folder, 'server.key'),
    request: join(folder, 'server.csr'),
    cert: join(folder, 'server.pem'),
    extensions: join(folder, 'san.ext'),
  };
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=rds-migrate test CA',
    '-keyout',
    files.caKey,
    '-out',
    files.ca,
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    files.key,
    '-out',
    files.request,
  );
  writeFileSync(files.extensions, 'subjectAltName = IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    files.request,
    '-CA',
    files.ca,
    '-CAkey',
    files.caKey,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    files.extensions,
    '-out',
    files.cert,
  );
  chmodSync(files.key, 0o600);
  if (owner) {
    chownSync(files.key, owner.uid, owner.gid);
    chownSync(files.cert, owner.uid, owner.gid);
  }
  return files;
}
