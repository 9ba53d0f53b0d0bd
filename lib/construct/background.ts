/**
 * The background state machine (a Standard workflow) that runs background migrations beside the
 * deploy, every task on the migrations function:
 *
 *   Split ranges ─→ Ranges (Map over the ranges, maxConcurrency at once) ─→ Complete ─→ Done
 *                    └─ per range: Walk range ─→ Range done? ─(no)─→ Walk range
 *                                                    └─(yes)─→ Range walked
 *   any step that gives up ─→ Record failure ─→ Gave up
 *
 * Each Walk range call walks batches until the function's deadline and answers `done: false`
 * to be called again (never cut off mid-batch); errors and lock timeouts are retried with
 * backoff. The Map is Distributed by default (each range a child execution with its own history:
 * no 25,000-event cap over a long backfill, no 40-at-once cap), or Inline.
 *
 * The state machine has a fixed name, so the function learns its ARN (and may start, stop and
 * describe its executions) without a reference that would make the two depend on each other,
 * and its role trusts Step Functions only on behalf of this state machine.
 */
import {
  ArnFormat,
  Duration,
  aws_iam as iam,
  type aws_lambda as lambda,
  type aws_logs as logs,
  Names,
  Stack,
  aws_stepfunctions as sfn,
  aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** How background migrations run. */
export interface BackgroundMigrationsOptions {
  /**
   * Key ranges each background migration is split into (fewer when the table has fewer keys).
   * @default 8
   */
  readonly ranges?: number;
  /**
   * Ranges walked at once: the Map state's MaxConcurrency, so at most this many sessions
   * write to the database for one background migration.
   * @default 4
   */
  readonly maxConcurrency?: number;
  /**
   * `distributed`: each range runs as a child execution (its own event history, so a backfill
   * of many hours does not reach Step Functions' 25,000-event limit); `inline`: the ranges run
   * inside the one execution (fewer executions, for short backfills).
   * @default 'distributed'
   */
  readonly mapMode?: 'distributed' | 'inline';
}

export interface ResolvedBackground {
  readonly ranges: number;
  readonly maxConcurrency: number;
  readonly mapMode: 'distributed' | 'inline';
}

const DEFAULT_BACKGROUND: ResolvedBackground = {
  ranges: 8,
  maxConcurrency: 4,
  mapMode: 'distributed',
};

export function resolveBackground(options: BackgroundMigrationsOptions | undefined): ResolvedBackground {
  return { ...DEFAULT_BACKGROUND, ...options };
}

/** The state machine's fixed name and the ARNs that follow from it. */
export interface BackgroundNames {
  readonly name: string;
  readonly stateMachineArn: string;
  /** Every execution of it: `arn:...:execution:<name>:*`. */
  readonly executionsArn: string;
}

export function backgroundNames(scope: Construct): BackgroundNames {
  const name = Names.uniqueResourceName(scope, { maxLength: 80, separator: '-' });
  const stack = Stack.of(scope);
  const arn = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  return {
    name,
    stateMachineArn: arn('stateMachine', name),
    executionsArn: arn('execution', `${name}:*`),
  };
}

/** The background state machine; its tasks call `fn`, its events go to `logGroup`. */
export function backgroundStateMachine(
  scope: Construct,
  fn: lambda.IFunction,
  names: BackgroundNames,
  options: ResolvedBackground,
  logGroup: logs.ILogGroup,
): sfn.StateMachine {
  const task = (id: string, payload: Record<string, unknown>, resultPath?: string) =>
    new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        RdsMigrateBackground: {
          'revision.$': '$.revision',
          'execution.$': '$.execution',
          'args.$': '$.args',
          ...payload,
        },
      }),
      ...(resultPath ? { resultPath } : {}),
    });
  const retried = (state: tasks.LambdaInvoke): tasks.LambdaInvoke => {
    state.addRetry({
      errors: ['States.ALL'],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.minutes(5),
      jitterStrategy: sfn.JitterType.FULL,
    });
    return state;
  };

  const split = retried(
    new tasks.LambdaInvoke(scope, 'Split ranges', {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        RdsMigrateBackground: {
          task: 'split',
          'revision.$': '$.revision',
          'execution.$': '$$.Execution.Id',
          'args.$': '$.args',
        },
      }),
    }),
  );
  const walk = retried(task('Walk range', { task: 'range', 'range.$': '$.range' }, '$.result'));
  walk.next(
    new sfn.Choice(scope, 'Range done?')
      .when(sfn.Condition.booleanEquals('$.result.done', true), new sfn.Succeed(scope, 'Range walked'))
      .otherwise(walk),
  );
  const itemSelector = {
    'revision.$': '$.revision',
    'execution.$': '$.execution',
    'args.$': '$.args',
    'range.$': '$$.Map.Item.Value',
  };
  const common = {
    itemsPath: '$.ranges',
    itemSelector,
    maxConcurrency: options.maxConcurrency,
    resultPath: sfn.JsonPath.DISCARD,
  };
  const ranges =
    options.mapMode === 'distributed'
      ? new sfn.DistributedMap(scope, 'Ranges', {
          ...common,
          mapExecutionType: sfn.StateMachineType.STANDARD,
        }).itemProcessor(walk)
      : new sfn.Map(scope, 'Ranges', common).itemProcessor(walk);
  const complete = retried(task('Complete', { task: 'complete' }, '$.completion'));
  const failed = task('Record failure', { task: 'fail', 'error.$': '$.error' }, '$.recorded').next(
    new sfn.Fail(scope, 'Gave up', {
      error: 'BackgroundMigrationFailed',
      cause: 'a step gave up after its retries; the run is failed: invoke resume once the cause is fixed',
    }),
  );
  for (const state of [split, ranges, complete])
    state.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });

  return new sfn.StateMachine(scope, 'Background', {
    stateMachineName: names.name,
    stateMachineType: sfn.StateMachineType.STANDARD,
    comment: 'rds-migrate: runs background migrations over key ranges, beside the deploy',
    definitionBody: sfn.DefinitionBody.fromChainable(
      split.next(ranges).next(complete).next(new sfn.Succeed(scope, 'Done')),
    ),
    role: backgroundRole(scope, names),
    // Every event, without execution data: state inputs and outputs carry the ranges' keys and
    // the migration's context arguments, which are the application's data, not the log's.
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
  });
}

/**
 * The state machine's role, which Step Functions may assume for this state machine only (its
 * fixed name), where aws-cdk-lib's default trusts every state machine of the account
 * (`stateMachine:*`). The source ARN Step Functions gives a Distributed Map's child workflows is
 * not documented, so the state machine's own qualified (`:*`) and map-run (`/*`) forms are
 * trusted too: every one of them names this state machine.
 */
function backgroundRole(scope: Construct, names: BackgroundNames): iam.Role {
  return stateMachineRole(
    scope,
    'BackgroundRole',
    names,
    'rds-migrate background state machine: invokes the migrations function',
  );
}

/** A role Step Functions may assume for the state machine `names` names only (see backgroundRole). */
export function stateMachineRole(
  scope: Construct,
  id: string,
  names: BackgroundNames,
  description: string,
): iam.Role {
  const arn = names.stateMachineArn;
  return new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('states.amazonaws.com', {
      conditions: {
        ArnLike: { 'aws:SourceArn': [arn, `${arn}:*`, `${arn}/*`] },
        StringEquals: { 'aws:SourceAccount': Stack.of(scope).account },
      },
    }),
    description,
  });
}

/** The function may start its state machine's executions, and stop and describe them. */
export function grantBackgroundExecutions(fn: lambda.IFunction, names: BackgroundNames): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [names.stateMachineArn] }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['states:StopExecution', 'states:DescribeExecution'],
      resources: [names.executionsArn],
    }),
  );
}
