/**
 * CDK integration test (@aws-cdk/integ-tests-alpha): one database through its life, one test
 * case per step, run in this order against a real account (`npm run integ:deploy`):
 * 1. FirstDeploy: the stack is created and the database migrated to the first two revisions;
 * 2. Update: a deploy adding one migration, a background one, which Step Functions completes;
 * 3. FailedUpdate: a deploy adding one more, whose later resource fails, so CloudFormation rolls
 *    the stack back (the deploy is expected to fail);
 * 4. RolledBack: the database is back at the revision before it; then everything is destroyed;
 * 5. AfterDestroy: the database's final snapshot and the tool's own snapshot are left.
 * The steps keep the stack for the next one: only the last two cases destroy (a destroy removes
 * every stack of the app). Assertions go through the APIs a person would use: the function's
 * status invoke, RDS DescribeDBSnapshots, Step Functions ListExecutions, CloudFormation
 * DescribeStacks. `npm test` compares the synthesized templates with the committed snapshot,
 * offline, and runs the synthesized function assets through the same life (lifecycle.test.ts).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ExpectedResult,
  type IApiCall,
  type IDeployAssert,
  IntegTest,
  IntegTestCaseStack,
} from '@aws-cdk/integ-tests-alpha';
import { App, Aws, CfnWaitConditionHandle, Duration, Stack, Validations } from 'aws-cdk-lib';
import type { TestOptions } from 'aws-cdk-lib/cloud-assembly-schema';
import type { Construct } from 'constructs';
import {
  INSTANCE_IDENTIFIER,
  LIFECYCLE_STACK_NAME,
  Lifecycle,
  type LifecycleOptions,
  lifecycleStackProps,
  REVISION,
} from './lifecycle-stack.ts';

/** Every case: no update workflow (it would deploy the committed snapshot first, assets and all). */
const KEEP_STACKS: TestOptions = {
  stackUpdateWorkflow: false,
  cdkCommandOptions: { destroy: { enabled: false } },
};
const DESTROY_ALL: TestOptions = { stackUpdateWorkflow: false };

/** What the assertions of one test case look up and invoke. */
class Lookups {
  constructor(
    private readonly assertions: IDeployAssert,
    private readonly lifecycle: Lifecycle,
  ) {}

  /** The physical id of one of the lifecycle stack's resources, as CloudFormation has it. */
  physicalId(construct: Construct): string {
    return this.assertions
      .awsApiCall(
        'CloudFormation',
        'describeStackResource',
        { StackName: LIFECYCLE_STACK_NAME, LogicalResourceId: this.lifecycle.logicalIdOf(construct) },
        ['StackResourceDetail.PhysicalResourceId'],
      )
      .getAttString('StackResourceDetail.PhysicalResourceId');
  }

  /**
   * `{"action":"status"}` to the migrations function, asserting one value of its answer (one path,
   * so the assertion's response stays within CloudFormation's 4096 bytes). Not `invokeFunction`:
   * its IAM statement names the function, a token here, which makes the assertion provider's role
   * depend on the lookup that needs the role (CloudFormation: circular dependency).
   */
  status(functionName: string, path: string, expected: ExpectedResult): IApiCall {
    const call = this.assertions.awsApiCall('Lambda', 'invoke', {
      FunctionName: functionName,
      Payload: JSON.stringify({ action: 'status' }),
    });
    call.provider.addToRolePolicy({
      Effect: 'Allow',
      Action: ['lambda:InvokeFunction'],
      Resource: [
        `arn:${Aws.PARTITION}:lambda:${Aws.REGION}:${Aws.ACCOUNT_ID}:function:${LIFECYCLE_STACK_NAME}-*`,
      ],
    });
    return call.assertAtPath(`Payload.${path}`, expected);
  }

  /** The newest snapshot the function lists is available in RDS. */
  newestSnapshotAvailable(functionName: string): void {
    const id = this.status(functionName, 'snapshots.0.id', ExpectedResult.stringLikeRegexp('^rds-migrate-'));
    this.assertions
      .awsApiCall('RDS', 'describeDBSnapshots', {
        DBSnapshotIdentifier: id.getAttString('Payload.snapshots.0.id'),
      })
      .assertAtPath('DBSnapshots.0.Status', ExpectedResult.exact('available'));
  }
}

/** The empty assertion stack of IntegTestCaseStack.assertions, which nothing deploys. */
function acknowledgeUnusedDeployAssert(stack: IntegTestCaseStack): void {
  Validations.of(stack.node.findChild('DeployAssert')).acknowledge({
    id: 'CloudFormation-Validate::F0001',
    reason:
      "IntegTestCaseStack's own assertion stack, never deployed: the case's assertions are in its test case's",
  });
}

/** A step of the lifecycle deployed as its own test case. */
function stepCase(app: App, id: string, options: LifecycleOptions, test: TestOptions) {
  const stack = new IntegTestCaseStack(app, id, { ...lifecycleStackProps(options.step), ...test });
  acknowledgeUnusedDeployAssert(stack);
  // The case's own assertions: IntegTestCaseStack.assertions is another DeployAssert stack, one
  // that integ-runner never deploys (integ-tests-alpha 2.245).
  return { stack, lifecycle: new Lifecycle(stack, options), assertions: stack._testCase.assertions };
}

/** A case that deploys nothing of its own, to assert on the lifecycle stack as an earlier case left it. */
function probeCase(app: App, id: string, test: TestOptions) {
  const stack = new IntegTestCaseStack(app, id, {
    stackName: `${LIFECYCLE_STACK_NAME}-${id.toLowerCase()}`,
    ...test,
  });
  new CfnWaitConditionHandle(stack, 'Nothing');
  acknowledgeUnusedDeployAssert(stack);
  return { stack, assertions: stack._testCase.assertions };
}

export function lifecycleApp(app: App = new App()): App {
  const firstStack = new Stack(app, 'FirstDeploy', lifecycleStackProps('firstDeploy'));
  const first = new Lifecycle(firstStack, { step: 'firstDeploy' });
  const update = stepCase(app, 'Update', { step: 'update' }, KEEP_STACKS);
  const failedUpdate = stepCase(
    app,
    'FailedUpdate',
    { step: 'failingUpdate', failAfterMigrations: true },
    {
      stackUpdateWorkflow: false,
      cdkCommandOptions: {
        deploy: { expectError: true, expectedMessage: 'UPDATE_ROLLBACK_COMPLETE' },
        destroy: { enabled: false },
      },
    },
  );
  // After a deploy it expects to fail, integ-runner skips the case's assertions: they come next.
  Validations.of(failedUpdate.stack._testCase.node.findChild('DeployAssert')).acknowledge({
    id: 'CloudFormation-Validate::F0001',
    reason: 'No assertions: none would run after the deploy that is expected to fail',
  });
  const rolledBack = probeCase(app, 'RolledBack', DESTROY_ALL);
  const afterDestroy = probeCase(app, 'AfterDestroy', DESTROY_ALL);
  // The cases run in this order: the default one (FirstDeploy's stack), then the case stacks.
  const integ = new IntegTest(app, 'Lifecycle', {
    testCases: [firstStack, update.stack, failedUpdate.stack, rolledBack.stack, afterDestroy.stack],
    ...KEEP_STACKS,
  });

  {
    const look = new Lookups(integ.assertions, first);
    const fn = look.physicalId(first.migrations.function);
    look.status(fn, 'current.0', ExpectedResult.exact(REVISION.addEmailNormalized));
    look.status(fn, 'snapshots.0.tags.rds-migrate:to', ExpectedResult.exact(REVISION.addEmailNormalized));
    look.newestSnapshotAvailable(fn);
  }
  {
    const look = new Lookups(update.assertions, update.lifecycle);
    const fn = look.physicalId(update.lifecycle.migrations.function);
    const stateMachineArn = look.physicalId(update.lifecycle.migrations.backgroundStateMachine);
    look.status(fn, 'current.0', ExpectedResult.exact(REVISION.backfillEmailNormalized));
    look.status(fn, 'snapshots.0.tags.rds-migrate:from', ExpectedResult.exact(REVISION.addEmailNormalized));
    look.status(
      fn,
      'snapshots.0.tags.rds-migrate:to',
      ExpectedResult.exact(REVISION.backfillEmailNormalized),
    );
    look.newestSnapshotAvailable(fn);
    // The deploy started the background migration; Step Functions runs it to the end.
    update.assertions
      .awsApiCall('StepFunctions', 'listExecutions', { stateMachineArn }, ['executions.0.status'])
      .assertAtPath('executions.0.status', ExpectedResult.exact('SUCCEEDED'))
      .waitForAssertions({ totalTimeout: Duration.minutes(20), interval: Duration.seconds(30) })
      .next(look.status(fn, 'background.0.state', ExpectedResult.exact('completed')));
  }
  {
    const look = new Lookups(rolledBack.assertions, update.lifecycle);
    rolledBack.assertions
      .awsApiCall('CloudFormation', 'describeStacks', { StackName: LIFECYCLE_STACK_NAME }, [
        'Stacks.0.StackStatus',
      ])
      .assertAtPath('Stacks.0.StackStatus', ExpectedResult.exact('UPDATE_ROLLBACK_COMPLETE'));
    const fn = look.physicalId(update.lifecycle.migrations.function);
    look.status(fn, 'current.0', ExpectedResult.exact(REVISION.backfillEmailNormalized));
    look.status(fn, 'recent.0.revision', ExpectedResult.exact(REVISION.addPlan));
    look.status(fn, 'recent.0.direction', ExpectedResult.exact('down'));
  }
  // The instance is gone; its manual snapshots are the tool's newest (snapshot.retain: 1) and the
  // final one CloudFormation took (RemovalPolicy.SNAPSHOT). `npm run integ:clean` removes both.
  for (const index of [0, 1]) {
    afterDestroy.assertions
      .awsApiCall(
        'RDS',
        'describeDBSnapshots',
        { DBInstanceIdentifier: INSTANCE_IDENTIFIER, SnapshotType: 'manual' },
        [`DBSnapshots.${index}.Status`],
      )
      .assertAtPath(`DBSnapshots.${index}.Status`, ExpectedResult.exact('available'));
  }
  return app;
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) lifecycleApp().synth();
