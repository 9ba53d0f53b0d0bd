import { type AddressInfo, createServer } from 'node:net';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DatabaseTarget } from '../../lambda/connect.ts';
import { cfnEvent, fakes, REV, runProvider } from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;

beforeEach(async () => {
  database = await freshDatabase();
});
afterEach(async () => {
  await database.drop();
});

function iamEnv(host: string, port: string, user: string, name: string): Record<string, string> {
  return { AUTH_MODE: 'iam', DB_HOST: host, DB_PORT: port, DB_USER: user, DB_NAME: name, SECRET_ARN: '' };
}

describe('connecting', () => {
  it('logs in with an IAM auth token as the password, without reading the secret', async () => {
    const url = new URL(database.url);
    const aws = fakes(database.url, iamEnv(url.hostname, url.port, url.username, database.name));
    const asked: DatabaseTarget[] = [];
    const authToken = async (target: DatabaseTarget, region?: string) => {
      asked.push(target);
      expect(region).toBeUndefined();
      return decodeURIComponent(url.password);
    };
    const outcome = await runProvider(
      aws.handler('v1', { authToken }),
      cfnEvent('cfn-create', { TargetRevision: REV.name }),
    );
    expect(outcome.status).toBe('SUCCESS');
    expect(asked[0]).toEqual({
      host: url.hostname,
      port: Number(url.port),
      user: url.username,
      database: database.name,
    });
    expect(aws.secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('requires TLS unless told otherwise', async () => {
    const aws = fakes(database.url);
    const outcome = await runProvider(
      aws.handler('v1', { tls: true }),
      cfnEvent('cfn-create', { TargetRevision: REV.name }),
    );
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toContain('The server does not support SSL connections');
  });

  it('says the function may lack a route when the database does not answer in time', async () => {
    // Like a security group that drops packets: the connection never gets an answer.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = String((silent.address() as AddressInfo).port);
    try {
      const aws = fakes(database.url, iamEnv('127.0.0.1', port, 'migrator', 'app'));
      const handler = aws.handler('v1', { authToken: async () => 'token', connectTimeoutMs: 300 });
      const outcome = await runProvider(handler, cfnEvent('cfn-create', { TargetRevision: REV.name }));
      expect(outcome.status).toBe('FAILED');
      expect(outcome.reason).toContain(`cannot connect to PostgreSQL at migrator@127.0.0.1:${port}/app`);
      expect(outcome.reason).toContain('timeout');
      expect(outcome.reason).toContain('The function may lack a route to the database');
      expect(outcome.reason).toContain(`the database's security group must allow port ${port}`);
    } finally {
      silent.close();
    }
  });
});
