/**
 * The fleet state machine (Standard): the rollout the fleet's custom resource starts.
 *
 *   Deploy or revert? ─(deploy)─→ Stage canary (Map) ─→ [Gate canary] ─→ Stage wave (Map) ─→ ... ─→ Rolled out
 *                     └(revert)─→ Revert targets (Map, every target) ─→ Report revert ─→ Reverted
 *   per target: Start ─→ Done? ─(no)─→ Wait ─→ Poll ─→ Done? ─(yes)─→ Target done
 *   (Start and Poll made again when the invocation died: Lambda.Unknown)
 *
 * Stages run one after the other, each an inline Map with its own MaxConcurrency. A stage that
 * tolerates no failure has no Catch: its first failing target fails the Map, which stops the
 * stage's other iterations and every later stage, and the execution's error names the target. A
 * stage that tolerates failures catches each one as a result, and its Gate stops the rollout
 * after the stage when more failed than it tolerates. A revert catches every failure, so each
 * target is reverted whatever another does, and the report names the ones that could not be.
 *
 * Inline, not Distributed: the first failure stops the stage at once and its cause is the
 * target's own error (a Distributed Map reports States.ExceedToleratedFailureThreshold), at the
 * cost of Map's 40 iterations at once and one execution history (25,000 events: about a thousand
 * targets).
 */
import {
  Duration,
  type aws_lambda as lambda,
  type aws_logs as logs,
  aws_stepfunctions as sfn,
  aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { FLEET_TASK_KEY } from '../../engine/function-contract.ts';
import { type BackgroundNames, stateMachineRole } from '../background.ts';

export interface ResolvedStage {
  readonly name: string;
  readonly maxConcurrency: number;
  /** True when the stage tolerates failures: its targets' failures are caught and gated. */
  readonly tolerant: boolean;
}

/** What Step Functions reports for an invocation that died without an answer (crash, out of memory, timeout). */
const LAMBDA_DIED = 'Lambda.Unknown';

/** How often a target waiting for its snapshot is polled. */
const TARGET_POLL_INTERVAL = Duration.seconds(30);

export function fleetStateMachine(
  scope: Construct,
  fn: lambda.IFunction,
  names: BackgroundNames,
  stages: readonly ResolvedStage[],
  revertConcurrency: number,
  logGroup: logs.ILogGroup,
): sfn.StateMachine {
  const invoke = (id: string, body: Record<string, unknown>, resultPath: string) =>
    new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({ [FLEET_TASK_KEY]: body }),
      resultPath,
    });
  // The execution's id lets the function check that the task is this rollout's own (verify-task.ts).
  const target = {
    'target.$': '$.target',
    'request.$': '$.request',
    'properties.$': '$.properties',
    'execution.$': '$$.Execution.Id',
  };

  /** One target's deploy, states named after its stage; failures caught as results when `tolerant`. */
  const targetChain = (label: string, tolerant: boolean, revert = false): sfn.IChainable => {
    const start = invoke(
      `${label}: start target`,
      // A revert leaves a target behind the stack's old revision where it is (target-run.ts).
      { task: 'start', ...target, 'deadline.$': '$.deadline', ...(revert ? { revert: true } : {}) },
      '$.step',
    );
    const poll = invoke(
      `${label}: poll target`,
      { task: 'poll', ...target, 'marker.$': '$.step.marker', 'budgetSeconds.$': '$.step.budgetSeconds' },
      '$.step',
    );
    const done = new sfn.Choice(scope, `${label}: target done?`)
      .when(
        sfn.Condition.booleanEquals('$.step.done', true),
        new sfn.Succeed(scope, `${label}: target done`, { outputPath: '$.step.outcome' }),
      )
      .otherwise(
        new sfn.Wait(scope, `${label}: wait`, { time: sfn.WaitTime.duration(TARGET_POLL_INTERVAL) }).next(
          poll,
        ),
      );
    poll.next(done);
    // A call that died (crash, out of memory: Lambda.Unknown) is made again: its target joins the
    // request it recorded, so nothing is applied twice (npm run soak:fleet kills calls mid-wave, and
    // test/lambda/fleet.test.ts kills two mid-migration in a fleet of 50).
    for (const state of [start, poll]) {
      state.addRetry({
        errors: [LAMBDA_DIED],
        interval: Duration.seconds(5),
        maxAttempts: 3,
        backoffRate: 2,
      });
    }
    if (tolerant) {
      const failed = new sfn.Pass(scope, `${label}: target failed`, {
        parameters: { 'name.$': '$.target.Name', failed: true, 'cause.$': '$.error.Cause' },
      });
      for (const state of [start, poll])
        state.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
    }
    return start.next(done);
  };
  const itemSelector = {
    'target.$': '$$.Map.Item.Value',
    'request.$': '$.request',
    'properties.$': '$.properties',
    'deadline.$': '$.deadline',
  };

  let deploy: sfn.Chain | undefined;
  stages.forEach((stage, index) => {
    const map = new sfn.Map(scope, `Stage ${stage.name}`, {
      itemsPath: `$.stages[${index}]`,
      itemSelector,
      maxConcurrency: stage.maxConcurrency,
      resultPath: `$.results.stage${index}`,
    }).itemProcessor(targetChain(stage.name, stage.tolerant));
    let step: sfn.Chain = sfn.Chain.start(map);
    if (stage.tolerant) {
      step = step.next(
        invoke(
          `Gate ${stage.name}`,
          {
            task: 'gate',
            stage: stage.name,
            'tolerated.$': `$.tolerated[${index}]`,
            'results.$': `$.results.stage${index}`,
          },
          sfn.JsonPath.DISCARD,
        ),
      );
    }
    deploy = deploy ? deploy.next(step) : step;
  });
  const rolledOut = (deploy as sfn.Chain).next(
    new sfn.Succeed(scope, 'Rolled out', { outputPath: '$.results' }),
  );

  const revert = new sfn.Map(scope, 'Revert targets', {
    itemsPath: '$.targets',
    itemSelector,
    maxConcurrency: revertConcurrency,
    resultPath: '$.results.revert',
  })
    .itemProcessor(targetChain('revert', true, true))
    .next(invoke('Report revert', { task: 'report', 'results.$': '$.results.revert' }, sfn.JsonPath.DISCARD))
    .next(new sfn.Succeed(scope, 'Reverted', { outputPath: '$.results' }));

  return new sfn.StateMachine(scope, 'Rollout', {
    stateMachineName: names.name,
    stateMachineType: sfn.StateMachineType.STANDARD,
    comment: 'rds-migrate: rolls a deploy out over the fleet in stages, or reverts it on stack rollback',
    definitionBody: sfn.DefinitionBody.fromChainable(
      new sfn.Choice(scope, 'Deploy or revert?')
        .when(sfn.Condition.stringEquals('$.mode', 'revert'), revert)
        .otherwise(rolledOut),
    ),
    role: stateMachineRole(
      scope,
      'RolloutRole',
      names,
      'rds-migrate fleet state machine: invokes the fleet function',
    ),
    // Events only: the inputs carry the targets' secret ARNs and the migrations' context arguments.
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
  });
}
