/**
 * Stand-ins for the AWS APIs a deploy of the function touches, on one HTTP endpoint on
 * 127.0.0.1 that AWS SDK v3 reaches through AWS_ENDPOINT_URL: the calls arrive in the SDK's own
 * wire protocols, told apart by the service in their SigV4 credential scope.
 * - secretsmanager (JSON 1.1): GetSecretValue of the one secret;
 * - cloudformation (query, XML): DescribeStacks, DescribeStackResource, in the state `stack` says;
 * - rds (query, XML): CreateDBSnapshot, DescribeDBSnapshots, DeleteDBSnapshot, DescribeDBInstances;
 *   a snapshot is `creating` until it has been described once, then `available`;
 * - states (JSON 1.0): StartExecution (recorded: the framework's waiter, the function's background
 *   runs), DescribeExecution (RUNNING, for those started);
 * - lambda (REST-JSON): Invoke, handed to `invoke` (the function's current code).
 * Anything else is answered with an error naming it, so a new call shows up as a failure.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Invocation } from './asset-container.ts';

export interface StandInSnapshot {
  readonly id: string;
  readonly instance: string;
  readonly createdAt: Date;
  readonly tags: Readonly<Record<string, string>>;
  status: 'creating' | 'available';
}

export interface StandInOptions {
  readonly region: string;
  readonly secret: { readonly arn: string; readonly value: Readonly<Record<string, unknown>> };
  readonly instance: string;
  readonly stack: { readonly id: string; readonly name: string; readonly resourceLogicalId: string };
  readonly invoke: (functionName: string, event: unknown) => Promise<Invocation>;
}

export class AwsStandIns {
  /** `service:Action` of every call, in order. */
  readonly calls: string[] = [];
  readonly snapshots = new Map<string, StandInSnapshot>();
  /** StartExecution requests: the waiter's input is the request the framework polls with. */
  readonly executions: { readonly stateMachineArn: string; readonly name: string; readonly input: string }[] =
    [];
  /** What CloudFormation reports while it sends the current request. */
  stack = { status: 'CREATE_IN_PROGRESS', resourceStatus: 'CREATE_IN_PROGRESS' };
  private server?: Server;

  constructor(private readonly options: StandInOptions) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.answer(request, Buffer.concat(chunks).toString('utf8'))
          .catch((error: Error) => reply(500, 'text/plain', error.stack ?? error.message))
          .then((answer) => {
            response.writeHead(answer.status, {
              'content-type': answer.type,
              'x-amzn-requestid': randomUUID(),
              ...answer.headers,
            });
            response.end(answer.body);
          });
      });
    });
    await new Promise<void>((listening) => this.server?.listen(0, '127.0.0.1', listening));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((closed) => (this.server ? this.server.close(() => closed()) : closed()));
  }

  private async answer(request: IncomingMessage, body: string): Promise<Reply> {
    const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(
      request.headers.authorization ?? '',
    )?.[1];
    switch (service) {
      case 'secretsmanager':
        return this.secretsManager(String(request.headers['x-amz-target']), JSON.parse(body));
      case 'states':
        return this.stepFunctions(String(request.headers['x-amz-target']), JSON.parse(body));
      case 'cloudformation':
        return this.cloudFormation(new URLSearchParams(body));
      case 'rds':
        return this.rds(new URLSearchParams(body));
      case 'lambda':
        return this.lambda(request.url ?? '', body);
      default:
        return reply(400, 'text/plain', `no stand-in for service ${service} (${request.url})`);
    }
  }

  private secretsManager(target: string, input: { SecretId?: string }): Reply {
    this.calls.push(`secretsmanager:${target.split('.')[1]}`);
    if (target !== 'secretsmanager.GetSecretValue' || input.SecretId !== this.options.secret.arn) {
      return jsonError('application/x-amz-json-1.1', 'AccessDeniedException', `not ${target} of the secret`);
    }
    return reply(
      200,
      'application/x-amz-json-1.1',
      JSON.stringify({
        ARN: this.options.secret.arn,
        Name: 'integ-secret',
        SecretString: JSON.stringify(this.options.secret.value),
      }),
    );
  }

  private stepFunctions(target: string, input: Record<string, string>): Reply {
    const action = target.split('.')[1] ?? target;
    this.calls.push(`states:${action}`);
    const type = 'application/x-amz-json-1.0';
    if (action === 'StartExecution') {
      const { stateMachineArn = '', name = randomUUID(), input: executionInput = '{}' } = input;
      this.executions.push({ stateMachineArn, name, input: executionInput });
      const executionArn = executionArnOf({ stateMachineArn, name });
      return reply(200, type, JSON.stringify({ executionArn, startDate: Date.now() / 1000 }));
    }
    if (action === 'DescribeExecution') {
      const started = this.executions.find((execution) => executionArnOf(execution) === input.executionArn);
      if (!started) return jsonError(type, 'ExecutionDoesNotExist', `no execution ${input.executionArn}`);
      const { stateMachineArn, name } = started;
      const description = { executionArn: input.executionArn, stateMachineArn, name, status: 'RUNNING' };
      return reply(200, type, JSON.stringify({ ...description, startDate: Date.now() / 1000 }));
    }
    return jsonError(type, 'UnknownOperationException', `no stand-in for states:${action}`);
  }

  private cloudFormation(params: URLSearchParams): Reply {
    const action = params.get('Action') ?? '';
    this.calls.push(`cloudformation:${action}`);
    const { id, name, resourceLogicalId } = this.options.stack;
    const ours = params.get('StackName') === id || params.get('StackName') === name;
    if (!ours)
      return queryError(400, 'ValidationError', `Stack with id ${params.get('StackName')} does not exist`);
    if (action === 'DescribeStacks') {
      return queryReply(
        'cloudformation',
        action,
        `<Stacks><member><StackName>${name}</StackName><StackId>${id}</StackId>` +
          `<CreationTime>2026-12-01T09:00:00.000Z</CreationTime><StackStatus>${this.stack.status}</StackStatus>` +
          '</member></Stacks>',
      );
    }
    if (action === 'DescribeStackResource' && params.get('LogicalResourceId') === resourceLogicalId) {
      return queryReply(
        'cloudformation',
        action,
        `<StackResourceDetail><StackName>${name}</StackName><StackId>${id}</StackId>` +
          `<LogicalResourceId>${resourceLogicalId}</LogicalResourceId><ResourceType>Custom::RdsMigrate</ResourceType>` +
          `<LastUpdatedTimestamp>${new Date().toISOString()}</LastUpdatedTimestamp>` +
          `<ResourceStatus>${this.stack.resourceStatus}</ResourceStatus></StackResourceDetail>`,
      );
    }
    return queryError(400, 'ValidationError', `no stand-in for cloudformation:${action} of that resource`);
  }

  private rds(params: URLSearchParams): Reply {
    const action = params.get('Action') ?? '';
    this.calls.push(`rds:${action}`);
    const instance = params.get('DBInstanceIdentifier');
    if (instance !== null && instance !== this.options.instance) {
      return queryError(404, 'DBInstanceNotFound', `DBInstance ${instance} not found.`);
    }
    switch (action) {
      case 'DescribeDBInstances':
        return queryReply(
          'rds',
          action,
          `<DBInstances><DBInstance><DBInstanceIdentifier>${this.options.instance}</DBInstanceIdentifier>` +
            '<DBInstanceStatus>available</DBInstanceStatus><BackupRetentionPeriod>1</BackupRetentionPeriod>' +
            `<LatestRestorableTime>${new Date(Date.now() - 300_000).toISOString()}</LatestRestorableTime>` +
            '</DBInstance></DBInstances>',
        );
      case 'CreateDBSnapshot': {
        const id = params.get('DBSnapshotIdentifier') ?? '';
        if (this.snapshots.has(id)) return queryError(400, 'DBSnapshotAlreadyExists', `${id} exists`);
        const snapshot: StandInSnapshot = {
          id,
          instance: this.options.instance,
          createdAt: new Date(),
          tags: queryTags(params),
          status: 'creating',
        };
        this.snapshots.set(id, snapshot);
        return queryReply('rds', action, snapshotXml(snapshot));
      }
      case 'DescribeDBSnapshots': {
        const id = params.get('DBSnapshotIdentifier');
        if (id !== null && !this.snapshots.has(id)) {
          return queryError(404, 'DBSnapshotNotFound', `DBSnapshot ${id} not found.`);
        }
        const found =
          id === null ? [...this.snapshots.values()] : [this.snapshots.get(id) as StandInSnapshot];
        const listed = found.map((snapshot) => snapshotXml(snapshot)).join('');
        // RDS takes a while: a snapshot is available from the look after the first.
        for (const snapshot of found) snapshot.status = 'available';
        return queryReply('rds', action, `<DBSnapshots>${listed}</DBSnapshots>`);
      }
      case 'DeleteDBSnapshot': {
        const id = params.get('DBSnapshotIdentifier') ?? '';
        const snapshot = this.snapshots.get(id);
        if (!snapshot) return queryError(404, 'DBSnapshotNotFound', `DBSnapshot ${id} not found.`);
        this.snapshots.delete(id);
        return queryReply('rds', action, snapshotXml(snapshot));
      }
      default:
        return queryError(400, 'InvalidAction', `no stand-in for rds:${action}`);
    }
  }

  private async lambda(url: string, body: string): Promise<Reply> {
    const name = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(url)?.[1];
    this.calls.push('lambda:Invoke');
    if (!name) return reply(404, 'application/json', JSON.stringify({ Type: 'User', message: url }));
    const invocation = await this.options.invoke(decodeURIComponent(name), JSON.parse(body || 'null'));
    return reply(200, 'application/json', JSON.stringify(invocation.payload), {
      'x-amz-executed-version': '$LATEST',
      ...(invocation.functionError ? { 'x-amz-function-error': invocation.functionError } : {}),
    });
  }
}

function executionArnOf(execution: { readonly stateMachineArn: string; readonly name: string }): string {
  return `${execution.stateMachineArn.replace(':stateMachine:', ':execution:')}:${execution.name}`;
}

/** An HTTP answer, written by the server. */
interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

function reply(status: number, type: string, body: string, headers?: Record<string, string>): Reply {
  return { status, type, body, ...(headers ? { headers } : {}) };
}

function jsonError(type: string, code: string, message: string): Reply {
  return reply(400, type, JSON.stringify({ __type: code, message }));
}

const NAMESPACES = {
  cloudformation: 'http://cloudformation.amazonaws.com/doc/2010-05-15/',
  rds: 'http://rds.amazonaws.com/doc/2014-10-31/',
};

function queryReply(service: keyof typeof NAMESPACES, action: string, result: string): Reply {
  return reply(
    200,
    'text/xml',
    `<${action}Response xmlns="${NAMESPACES[service]}"><${action}Result>${result}</${action}Result>` +
      `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  );
}

function queryError(status: number, code: string, message: string): Reply {
  return reply(
    status,
    'text/xml',
    `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>` +
      `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

/** `Tags.Tag.1.Key=...&Tags.Tag.1.Value=...`, as the query protocol serializes RDS's tag list. */
function queryTags(params: URLSearchParams): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let index = 1; params.has(`Tags.Tag.${index}.Key`); index++) {
    tags[params.get(`Tags.Tag.${index}.Key`) ?? ''] = params.get(`Tags.Tag.${index}.Value`) ?? '';
  }
  return tags;
}

function snapshotXml(snapshot: StandInSnapshot): string {
  const tags = Object.entries(snapshot.tags)
    .map(([key, value]) => `<Tag><Key>${escapeXml(key)}</Key><Value>${escapeXml(value)}</Value></Tag>`)
    .join('');
  return (
    `<DBSnapshot><DBSnapshotIdentifier>${snapshot.id}</DBSnapshotIdentifier>` +
    `<DBInstanceIdentifier>${snapshot.instance}</DBInstanceIdentifier><SnapshotType>manual</SnapshotType>` +
    `<SnapshotCreateTime>${snapshot.createdAt.toISOString()}</SnapshotCreateTime><Status>${snapshot.status}</Status>` +
    `<PercentProgress>${snapshot.status === 'available' ? 100 : 0}</PercentProgress><TagList>${tags}</TagList></DBSnapshot>`
  );
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
