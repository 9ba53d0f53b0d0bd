/**
 * The bad-input corpus for the deployed function (test/fixtures/bad/{events,payloads,secrets}):
 * malformed custom resource events, manual payloads and secrets, and an unreachable host. Each
 * gets a clear error naming what is wrong, never quotes a secret, takes no snapshot, and leaves
 * the database exactly as it was (catalog, history, heads).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { schemaSnapshot } from '../../lib/engine/catalog.ts';
import type { Connection } from '../../lib/engine/connection.ts';
import type { Database } from '../../lib/engine/database.ts';
import { cfnEvent, type Fakes, fakes, lambdaContext, REV, runProvider } from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

type Json = Record<string, unknown>;
const corpus = resolve(import.meta.dirname, '../fixtures/bad');
const load = (kind: string) =>
  JSON.parse(readFileSync(resolve(corpus, kind, 'cases.json'), 'utf8')) as Record<string, Json>;
const events = load('events');
const payloads = load('payloads');
const secrets = load('secrets');
const SECRET_PASSWORD = 'Bad-Input-Secret-9c1f';

let database: TestDatabase;
let connection: Connection;
let aws: Fakes;

beforeEach(async () => {
  database = await freshDatabase();
  connection = await database.connect('inspector');
  aws = fakes(database.url);
  const created = await runProvider(aws.handler('v1'), cfnEvent('cfn-create', { TargetRevision: REV.name }));
  expect(created.status).toBe('SUCCESS');
  aws.rdsMock.resetHistory();
});
afterEach(async () => {
  await database.drop();
});

async function databaseState(db: Database): Promise<unknown> {
  return {
    catalog: await schemaSnapshot(db, 'none'),
    log: (await db.query('SELECT * FROM rds_migrate.log ORDER BY id')).rows,
    heads: (await db.query('SELECT * FROM rds_migrate.heads ORDER BY 1')).rows,
    inProgress: (await db.query('SELECT * FROM rds_migrate.in_progress')).rows,
  };
}

function badEvent(spec: Json): Json {
  const event = cfnEvent(
    spec.base as 'cfn-update',
    { TargetRevision: REV.tenant },
    { TargetRevision: REV.name },
  );
  const properties = event.ResourceProperties as Json;
  for (const key of (spec.remove as string[] | undefined) ?? []) delete properties[key];
  Object.assign(properties, spec.set ?? {});
  for (const key of (spec.removeTop as string[] | undefined) ?? []) delete event[key];
  return { ...event, ...(spec.top as Json | undefined) };
}

describe('the bad-input corpus', () => {
  it('has 30 cases', () => {
    expect(Object.keys(events).length + Object.keys(payloads).length + Object.keys(secrets).length).toBe(30);
  });
});

describe('a malformed custom resource event', () => {
  it.each(Object.keys(events))(
    '%s: FAILED with a clear reason, no snapshot, database untouched',
    async (name) => {
      const spec = events[name] as Json;
      const before = await databaseState(connection.db);
      const outcome = await runProvider(aws.handler('v2'), badEvent(spec));
      expect(outcome.status).toBe('FAILED');
      expect(outcome.reason).toContain(spec.expect);
      expect(outcome.reason?.length).toBeLessThan(1000);
      expect(aws.rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
      expect(await databaseState(connection.db)).toEqual(before);
    },
  );
});

describe('a bad manual payload', () => {
  it.each(Object.keys(payloads))('%s: an error that says what to send, database untouched', async (name) => {
    const spec = payloads[name] as Json;
    const before = await databaseState(connection.db);
    await expect(aws.handler('v2')(spec.payload as Json, lambdaContext())).rejects.toThrow(
      spec.expect as string,
    );
    expect(await databaseState(connection.db)).toEqual(before);
  });
});

describe('a bad secret or an unreachable host', () => {
  it.each(Object.keys(secrets))(
    '%s: an error naming the field, never the value, database untouched',
    async (name) => {
      const spec = secrets[name] as Json;
      const secret = spec.secret as Json | undefined;
      const text = secret
        ? JSON.stringify({ ...secret, password: secret.password && SECRET_PASSWORD })
        : (spec.raw as string);
      aws.secretsMock.on(GetSecretValueCommand).resolves({ SecretString: text });
      const before = await databaseState(connection.db);
      const error = await aws
        .handler('v2', { connectTimeoutMs: 2000 })({ action: 'status' }, lambdaContext())
        .catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(spec.expect);
      expect((error as Error).message).not.toContain(SECRET_PASSWORD);
      expect((error as Error).message).not.toContain('username=u password=p');
      expect(await databaseState(connection.db)).toEqual(before);
    },
  );
});
