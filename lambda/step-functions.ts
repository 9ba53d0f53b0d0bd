/**
 * The background state machine's executions, through Step Functions: start one under a name
 * the caller derives (so a retried call starts nothing twice), stop one, and ask how one is.
 * The ARN of an execution follows from the state machine's and the name, so a run records its
 * owner before the execution exists, and the execution's first task finds it recorded.
 */
import { createHash } from 'node:crypto';
import {
  DescribeExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { Revision } from '../lib/engine/migration.ts';

export interface ExecutionStatus {
  /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE; NOT_FOUND when there is none. */
  readonly status: string;
  readonly startDate?: Date;
  readonly stopDate?: Date;
  readonly error?: string;
}

export interface BackgroundExecutions {
  readonly stateMachineArn: string;
  /** Starts `name` with `input`; an execution of that name already there (running or not) is not an error. */
  start(name: string, input: Record<string, unknown>): Promise<string>;
  stop(executionArn: string, cause: string): Promise<void>;
  describe(executionArn: string): Promise<ExecutionStatus>;
}

/** `arn:...:stateMachine:<machine>` → `arn:...:execution:<machine>:<name>`. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/**
 * An execution name (at most 80 of [A-Za-z0-9-_]) for `revision`: `why` says what started it
 * (`deploy`, `resume`) and `from` makes it unique and stable (the deploy request, the resume).
 */
export function executionName(revision: Revision, why: string, from: string): string {
  const digest = createHash('sha256').update(from).digest('hex').slice(0, 16);
  return `rds-migrate-${revision.slice(0, 40)}-${why}-${digest}`;
}

export class StepFunctionsExecutions implements BackgroundExecutions {
  constructor(
    private readonly client: SFNClient,
    readonly stateMachineArn: string,
  ) {}

  async start(name: string, input: Record<string, unknown>): Promise<string> {
    try {
      const started = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return started.executionArn ?? executionArnOf(this.stateMachineArn, name);
    } catch (error) {
      // The same name again: a retried call whose first try started it (it may have finished since).
      if ((error as Error).name === 'ExecutionAlreadyExists')
        return executionArnOf(this.stateMachineArn, name);
      throw error;
    }
  }

  async stop(executionArn: string, cause: string): Promise<void> {
    try {
      await this.client.send(new StopExecutionCommand({ executionArn, cause: cause.slice(0, 32_000) }));
    } catch (error) {
      // Never started, or already over: nothing runs that could be stopped.
      if ((error as Error).name === 'ExecutionDoesNotExist') return;
      throw error;
    }
  }

  async describe(executionArn: string): Promise<ExecutionStatus> {
    try {
      const found = await this.client.send(new DescribeExecutionCommand({ executionArn }));
      return {
        status: found.status ?? 'UNKNOWN',
        ...(found.startDate ? { startDate: found.startDate } : {}),
        ...(found.stopDate ? { stopDate: found.stopDate } : {}),
        ...(found.error ? { error: `${found.error}: ${found.cause ?? ''}`.trim() } : {}),
      };
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') return { status: 'NOT_FOUND' };
      throw error;
    }
  }
}
