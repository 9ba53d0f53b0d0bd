/**
 * The handler driven by the CDK Provider framework's own runtime code (`framework.js` of the
 * installed aws-cdk-lib), as it runs in the framework's Lambdas: onEvent invokes our function,
 * starts the waiter, isComplete polls until done, and the framework PUTs the response to
 * CloudFormation. Only its outbound calls are replaced: Lambda's invoke (serialising a thrown
 * error exactly as the Node.js runtime does), Step Functions' StartExecution, and the HTTPS PUT,
 * whose body is what CloudFormation would receive (and reject over 4096 bytes).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Handler } from '../../lambda/handler.ts';
import { cfnEvent, type Fakes, fakes, lambdaContext, REV } from '../fixtures/handler/harness.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const require = createRequire(import.meta.url);
const runtimeDir = join(
  require.resolve('aws-cdk-lib/package.json'),
  '..',
  'custom-resources/lib/provider-framework/runtime',
);
type Json = Record<string, unknown>;
const framework = require(join(runtimeDir, 'framework.js')) as Record<
  string,
  (event: unknown) => Promise<void>
>;
const outbound = require(join(runtimeDir, 'outbound.js')) as Record<string, unknown>;
const cfnResponse = require(join(runtimeDir, 'cfn-response.js')) as { Retry: new () => Error };

const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:MyAppStack-DbMigrationsFunction-AbC123';
/** CloudFormation's limit for a custom resource response body. */
const RESPONSE_LIMIT = 4096;

let database: TestDatabase;
let aws: Fakes;
let bundle: string;
const saved = { ...outbound };

beforeAll(() => {
  process.env.USER_ON_EVENT_FUNCTION_ARN = FUNCTION_ARN;
  process.env.USER_IS_COMPLETE_FUNCTION_ARN = FUNCTION_ARN;
  process.env.WAITER_STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:waiter';
});
afterAll(() => {
  Object.assign(outbound, saved);
});
beforeEach(async () => {
  database = await freshDatabase();
  aws = fakes(database.url);
  bundle = mkdtempSync(join(tmpdir(), 'rds-migrate-framework-'));
  // The framework logs every step with console.log; keep the test output readable.
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
});
afterEach(async () => {
  vi.restoreAllMocks();
  rmSync(bundle, { recursive: true, force: true });
  await database.drop();
});

interface Submitted {
  readonly body: string;
  readonly json: Json;
}

/** Runs one request through the framework; returns the body it PUT to the ResponseURL. */
async function throughFramework(handler: Handler, event: Json): Promise<Submitted> {
  const submitted: Submitted[] = [];
  const waiters: string[] = [];
  outbound.invokeFunction = async (request: { Payload: string }) => {
    try {
      const result = await handler(JSON.parse(request.Payload), lambdaContext());
      return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(result)) };
    } catch (error) {
      // What the Lambda Node.js runtime returns for an error thrown by the handler.
      const thrown = error as Error;
      const payload = {
        errorType: thrown.name,
        errorMessage: thrown.message,
        trace: String(thrown.stack).split('\n'),
      };
      return {
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      };
    }
  };
  outbound.startExecution = async (request: { input: string }) => {
    waiters.push(request.input);
    return {};
  };
  outbound.httpRequest = async (_options: unknown, body: string) => {
    submitted.push({ body, json: JSON.parse(body) as Json });
  };
  await framework.onEvent?.(event);
  for (let poll = 0; submitted.length === 0 && poll < 20; poll++) {
    const input = waiters[waiters.length - 1];
    if (input === undefined) break;
    try {
      await framework.isComplete?.(JSON.parse(input));
    } catch (error) {
      if (!(error instanceof cfnResponse.Retry)) throw error;
    }
  }
  const [response] = submitted;
  if (!response) throw new Error('the framework submitted no response');
  return response;
}

function migration(name: string, text: string): void {
  writeFileSync(join(bundle, name), text);
}

function handlerFor(): Handler {
  return aws.handler('v1', { migrationsDir: bundle });
}

const BASE = `-- revision: aaaa00000001
-- down_revision: none

-- migrate:up
CREATE TABLE t (id int);

-- migrate:down
DROP TABLE t;
`;

describe('through the Provider framework', () => {
  it('answers SUCCESS with the Data CloudFormation reads', async () => {
    migration('001_base.sql', BASE);
    const response = await throughFramework(
      handlerFor(),
      cfnEvent('cfn-create', { TargetRevision: 'aaaa00000001' }),
    );
    expect(response.json.Status).toBe('SUCCESS');
    expect(response.json.PhysicalResourceId).toBe('rds-migrate/app-db');
    expect(response.json.Data).toMatchObject({ Revision: 'aaaa00000001', Applied: '1' });
  });

  it('keeps a TS migration’s multi-line error on one line, sent once', async () => {
    migration('001_base.sql', BASE);
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i + 1} of what went wrong, with some detail`);
    migration(
      '002_throws.ts',
      `export default {
  revision: 'aaaa00000002',
  downRevision: 'aaaa00000001',
  async up() { throw new Error(${JSON.stringify(lines.join('\n'))}); },
  async down() {},
};
`,
    );
    const response = await throughFramework(
      handlerFor(),
      cfnEvent('cfn-create', { TargetRevision: 'aaaa00000002' }),
    );
    const reason = String(response.json.Reason);
    expect(response.json.Status).toBe('FAILED');
    expect(Buffer.byteLength(response.body)).toBeLessThanOrEqual(RESPONSE_LIMIT);
    expect(reason).toContain('migration aaaa00000002 (002_throws.ts) failed up: line 1 of what went wrong');
    // The message is one line, and nothing of it comes twice (the framework appends the trace).
    const [message, ...rest] = reason.split('\n');
    expect(message).not.toMatch(/\n/);
    expect(rest.join('\n')).not.toContain('of what went wrong');
    expect(reason.match(/line 2 of what went wrong/g)).toHaveLength(1);
    expect(reason).toContain(`Logs: /aws/lambda/MyAppStack-DbMigrationsFunction-AbC123`);
  });

  it('stays within 4096 bytes when the error is full of control characters and multi-byte text', async () => {
    migration('001_base.sql', BASE);
    const control = Array.from(
      { length: 120 },
      (_, i) => `\\x${(1 + (i % 30)).toString(16).padStart(2, '0')}`,
    ).join('');
    migration(
      '002_raise.sql',
      `-- revision: aaaa00000002
-- down_revision: aaaa00000001

-- migrate:up
DO $$ BEGIN
  RAISE EXCEPTION '%', E'${control}' || repeat('€ü漢字', 150) || E'${control}'
    USING DETAIL = E'${control}' || repeat('Ω', 300);
END $$;

-- migrate:down
`,
    );
    const response = await throughFramework(
      handlerFor(),
      cfnEvent('cfn-create', { TargetRevision: 'aaaa00000002' }),
    );
    expect(response.json.Status).toBe('FAILED');
    expect(Buffer.byteLength(response.body)).toBeLessThanOrEqual(RESPONSE_LIMIT);
    const reason = String(response.json.Reason);
    expect(reason).toContain('migration aaaa00000002 (002_raise.sql) failed up [P0001]: ');
    expect(reason).toContain('€ü漢字');
    expect(reason.split('\n')[0]).not.toMatch(/\p{Cc}/u);
  });

  it('fails a rollback of revisions the bundle lacks only while not rolling back, within the limit', async () => {
    migration('001_base.sql', BASE);
    const response = await throughFramework(
      handlerFor(),
      cfnEvent('cfn-update', { TargetRevision: REV.tenant }, { TargetRevision: 'aaaa00000001' }),
    );
    expect(response.json.Status).toBe('FAILED');
    expect(String(response.json.Reason)).toContain(
      `TargetRevision ${REV.tenant} is not among this function's migrations`,
    );
    expect(Buffer.byteLength(response.body)).toBeLessThanOrEqual(RESPONSE_LIMIT);
  });
});
