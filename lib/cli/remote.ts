/**
 * `rds-migrate invoke`: asks the deployed function, as `aws lambda invoke` would, and hands
 * back its answer as data. The function's own errors come back as `RemoteError`s.
 */
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { RdsMigrateError } from '../engine/errors.ts';
import type { ManualAction } from '../engine/function-contract.ts';

interface RemotePayload {
  readonly action: ManualAction;
  readonly revision?: string;
  readonly confirm?: boolean;
  readonly args?: Readonly<Record<string, string>>;
  readonly limit?: number;
  /** false: up or down without taking a snapshot first. */
  readonly snapshot?: boolean;
  /** A snapshot taken by an earlier invoke that ran out of time waiting for it. */
  readonly snapshotId?: string;
  /** stamp: forget the current revisions first, those the bundle lacks included. */
  readonly purge?: boolean;
}

/** The function answered with an error (its message is the function's own). */
class RemoteError extends RdsMigrateError {
  override readonly name = 'RemoteError';
}

export async function invokeFunction(
  functionName: string,
  payload: RemotePayload,
  client: LambdaClient = new LambdaClient({}),
): Promise<Record<string, unknown>> {
  let response: InvokeCommandOutput;
  try {
    response = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
  } catch (error) {
    const name = (error as Error).name;
    throw new RemoteError(
      `cannot invoke ${functionName}: ${name}: ${(error as Error).message}. Check the name (the stack's ` +
        'FunctionName output), the region (AWS_REGION) and that your credentials may invoke it',
    );
  }
  const text = response.Payload ? new TextDecoder().decode(response.Payload) : '';
  const body = parseJson(text);
  if (response.FunctionError) {
    const message = typeof body.errorMessage === 'string' ? body.errorMessage : text;
    throw new RemoteError(`${functionName} answered with an error: ${message}`);
  }
  return body;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text, reviveDates) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : { value };
  } catch {
    return { raw: text };
  }
}

/** `startedAt`, `updatedAt`, `createdAt`: the dates of the results, back from JSON. */
function reviveDates(key: string, value: unknown): unknown {
  if (typeof value === 'string' && /At$/.test(key) && /^\d{4}-\d\d-\d\dT/.test(value)) return new Date(value);
  return value;
}
