import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cfnEvent, fakes, lambdaContext, REV, runProvider, secretFor } from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;
let role: string;
let password: string;
let url: string;

// A role of its own, so its password is a string that occurs nowhere else.
beforeEach(async () => {
  database = await freshDatabase();
  role = `migrator_${randomBytes(4).toString('hex')}`;
  password = `pw-${randomBytes(12).toString('hex')}`;
  const admin = await database.connect();
  await admin.db.query(`CREATE ROLE ${escapeIdentifier(role)} LOGIN PASSWORD ${escapeLiteral(password)}`);
  await admin.db.query(
    `ALTER DATABASE ${escapeIdentifier(database.name)} OWNER TO ${escapeIdentifier(role)}`,
  );
  const parsed = new URL(database.url);
  parsed.username = role;
  parsed.password = password;
  url = parsed.toString();
});
afterEach(async () => {
  await database.drop();
  const admin = await freshDatabase();
  const session = await admin.connect();
  await session.db.query(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
  await admin.drop();
});

describe('the database password', () => {
  it('appears in no log line, result or error across a whole lifecycle', async () => {
    const output: string[] = [];
    // Powertools writes INFO and DEBUG to stdout, WARN and ERROR to stderr.
    const capture = (chunk: string | Uint8Array): boolean => {
      output.push(String(chunk));
      return true;
    };
    const streams = [vi.spyOn(process.stdout, 'write'), vi.spyOn(process.stderr, 'write')];
    for (const stream of streams) stream.mockImplementation(capture);
    const logger = new Logger({ serviceName: 'rds-migrate', logLevel: 'DEBUG' });
    const aws = fakes(url);
    const handler = (bundle: 'v1' | 'v2' | 'broken') => aws.handler(bundle, { logger });
    const answers: unknown[] = [];
    try {
      answers.push(await runProvider(handler('v1'), cfnEvent('cfn-create', { TargetRevision: REV.name })));
      answers.push(await runProvider(handler('v2'), cfnEvent('cfn-update', { TargetRevision: REV.tenant })));
      aws.stackStatus = 'UPDATE_ROLLBACK_IN_PROGRESS';
      answers.push(
        await runProvider(
          handler('v1'),
          cfnEvent('cfn-rollback-update', { TargetRevision: REV.name }, { TargetRevision: REV.tenant }),
        ),
      );
      answers.push(
        await runProvider(handler('broken'), cfnEvent('cfn-update', { TargetRevision: REV.broken })),
      );
      answers.push(await handler('v2')({ action: 'status' }, lambdaContext()));
      answers.push(
        await handler('v2')({ action: 'up' }, lambdaContext()).catch((error: Error) => error.stack),
      );
      answers.push(await runProvider(handler('v1'), cfnEvent('cfn-delete')));
      // Wrong credentials: the failure names the user, never either password.
      const wrong = `pw-wrong-${randomBytes(8).toString('hex')}`;
      aws.secretsMock
        .on(GetSecretValueCommand)
        .resolves({ SecretString: secretFor(url).replace(password, wrong) });
      const refused = await runProvider(handler('v1'), cfnEvent('cfn-update', { TargetRevision: REV.name }));
      expect(refused.reason).toContain(`password authentication failed for user "${role}"`);
      answers.push(refused);
      expect(JSON.stringify(answers)).not.toContain(wrong);
      expect(output.join('')).not.toContain(wrong);
    } finally {
      for (const stream of streams) stream.mockRestore();
    }

    expect(answers.slice(0, 4).map((answer) => (answer as { status: string }).status)).toEqual([
      'SUCCESS',
      'SUCCESS',
      'SUCCESS',
      'FAILED',
    ]);
    const lines = output.join('').trim().split('\n');
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(20);
    expect(records.every((record) => typeof record.function_request_id === 'string')).toBe(true);
    expect(records.some((record) => record.message === 'planned' && Array.isArray(record.plan))).toBe(true);
    expect(
      records.some((record) => record.message === 'migrated' && typeof record.durationMs === 'number'),
    ).toBe(true);
    expect(
      records.some((record) => record.level === 'ERROR' && String(record.error).includes('[42701]')),
    ).toBe(true);
    expect(output.join('')).not.toContain(password);
    expect(JSON.stringify(answers)).not.toContain(password);
  });
});
