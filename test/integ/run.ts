/**
 * Runs the integration tests as integ-runner runs a test file, with this project's CDK CLI:
 * integ-runner 2.197.10 (the newest on npm) reads cloud assemblies up to schema 53, and
 * aws-cdk-lib 2.276 writes 55, so integ-runner cannot synthesize this app yet.
 *
 *   tsx test/integ/run.ts snapshot            synthesize, validate, replace the committed snapshot
 *   tsx test/integ/run.ts deploy [cdk args]   run every test case in order against an account
 *   tsx test/integ/run.ts clean [cdk args]    destroy the stacks, delete the snapshots a run left
 *
 * Per test case, in integ.json's order: deploy its stacks (a failure it expects must carry its
 * expected message), deploy its assertion stack without rollback and read the assertion results
 * from its outputs, then destroy every stack of the app unless the case keeps them for the next.
 * The first failure stops the run and destroys everything. The account and region are the AWS
 * CLI's: AWS_PROFILE / AWS_REGION, or `-- --profile name` passed on to every cdk call.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DeleteDBSnapshotCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { INSTANCE_IDENTIFIER } from './lifecycle-stack.ts';
import { type IntegTestCase, testCases, writeSnapshot } from './snapshot.ts';
import { synthLifecycle } from './synth.ts';

const OUTDIR = join(import.meta.dirname, 'cdk.out');
const CDK = createRequire(import.meta.url).resolve('aws-cdk/bin/cdk');

class IntegFailure extends Error {
  override readonly name = 'IntegFailure';
}

/** Runs the CDK CLI on the synthesized assembly; resolves with its exit code and what it printed. */
function cdk(
  args: readonly string[],
  passThrough: readonly string[],
): Promise<{ code: number; output: string }> {
  return new Promise((done, failed) => {
    const child = spawn(process.execPath, [CDK, ...args, '--app', OUTDIR, ...passThrough], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
      process.stderr.write(chunk);
    });
    child.on('error', failed);
    child.on('close', (code) => done({ code: code ?? 1, output }));
  });
}

async function destroyAll(passThrough: readonly string[]): Promise<void> {
  const { code } = await cdk(['destroy', '--all', '--force'], passThrough);
  if (code !== 0) throw new IntegFailure('cdk destroy failed: delete the stacks by hand (see the README)');
}

/** What integ-tests-alpha wrote to the assertion stack's outputs: `AssertionResults...` as JSON. */
function assertionFailures(outputsFile: string, stackName: string): string[] {
  const outputs = JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>;
  return Object.entries(outputs[stackName] ?? {})
    .filter(([key]) => key.startsWith('AssertionResults'))
    .map(([key, value]) => [key, JSON.parse(value) as { status: string; message?: string }] as const)
    .filter(([, result]) => result.status === 'fail')
    .map(([key, result]) => `${key}: ${result.message ?? 'failed'}`);
}

async function runCase(name: string, testCase: IntegTestCase, passThrough: readonly string[]): Promise<void> {
  console.log(`\n=== ${name}: deploy ${testCase.stacks.join(', ')}`);
  const deploy = testCase.cdkCommandOptions?.deploy;
  const deployed = await cdk(
    ['deploy', ...testCase.stacks, '--exclusively', '--require-approval', 'never'],
    passThrough,
  );
  if (deploy?.expectError) {
    if (deployed.code === 0) throw new IntegFailure(`${name}: the deploy was expected to fail and succeeded`);
    if (deploy.expectedMessage && !new RegExp(deploy.expectedMessage).test(deployed.output)) {
      throw new IntegFailure(`${name}: the deploy failed without '${deploy.expectedMessage}'`);
    }
    console.log(`=== ${name}: failed as expected`);
    return;
  }
  if (deployed.code !== 0) throw new IntegFailure(`${name}: cdk deploy failed`);
  if (testCase.assertionStack && testCase.assertionStackName) {
    const outputsFile = join(OUTDIR, 'assertion-results.json');
    rmSync(outputsFile, { force: true });
    const asserted = await cdk(
      [
        'deploy',
        testCase.assertionStack,
        '--exclusively',
        '--require-approval',
        'never',
        '--no-rollback',
        '--outputs-file',
        outputsFile,
      ],
      passThrough,
    );
    if (asserted.code !== 0) throw new IntegFailure(`${name}: the assertions could not be deployed`);
    const failures = existsSync(outputsFile)
      ? assertionFailures(outputsFile, testCase.assertionStackName)
      : [];
    if (failures.length > 0)
      throw new IntegFailure(`${name}: assertions failed:\n  ${failures.join('\n  ')}`);
  }
  console.log(`=== ${name}: passed`);
  if (testCase.cdkCommandOptions?.destroy?.enabled ?? true) await destroyAll(passThrough);
}

/** Manual snapshots of the test's instance: a run leaves two; another run needs none there. */
async function leftSnapshots(rds: RDSClient): Promise<string[]> {
  const found = await rds.send(
    new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: INSTANCE_IDENTIFIER, SnapshotType: 'manual' }),
  );
  return (found.DBSnapshots ?? []).flatMap((snapshot) => snapshot.DBSnapshotIdentifier ?? []);
}

async function deployAll(passThrough: readonly string[]): Promise<void> {
  const left = await leftSnapshots(new RDSClient({})).catch((error: Error) => {
    throw new IntegFailure(
      `cannot list the snapshots of ${INSTANCE_IDENTIFIER} (${error.name}: ${error.message}); ` +
        'give an account and region as the AWS CLI takes them (AWS_PROFILE, AWS_REGION)',
    );
  });
  if (left.length > 0) {
    throw new IntegFailure(
      `snapshots of ${INSTANCE_IDENTIFIER} from an earlier run are there (${left.join(', ')}); ` +
        'the last test case counts them, so run npm run integ:clean first',
    );
  }
  try {
    for (const [name, testCase] of Object.entries(testCases(OUTDIR)))
      await runCase(name, testCase, passThrough);
  } catch (error) {
    console.error(`\n${(error as Error).message}\n=== destroying every stack of the test`);
    await destroyAll(passThrough);
    throw error;
  }
  console.log('\nAll test cases passed. npm run integ:clean deletes the two snapshots the run left.');
}

async function clean(passThrough: readonly string[]): Promise<void> {
  await destroyAll(passThrough);
  const rds = new RDSClient({});
  for (const id of await leftSnapshots(rds)) {
    console.log(`deleting snapshot ${id}`);
    await rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: id }));
  }
}

async function main(): Promise<void> {
  const [command, ...passThrough] = process.argv.slice(2);
  if (!['snapshot', 'deploy', 'clean'].includes(command ?? '')) {
    throw new IntegFailure('usage: tsx test/integ/run.ts snapshot | deploy [cdk args] | clean [cdk args]');
  }
  // The SDK calls made here (the snapshots) use the account the cdk calls are given.
  const profile = passThrough.indexOf('--profile');
  if (profile >= 0 && passThrough[profile + 1]) process.env.AWS_PROFILE = passThrough[profile + 1];
  rmSync(OUTDIR, { recursive: true, force: true });
  mkdirSync(OUTDIR, { recursive: true });
  synthLifecycle(OUTDIR);
  if (command === 'snapshot') return writeSnapshot(OUTDIR);
  if (command === 'deploy') return deployAll(passThrough);
  return clean(passThrough);
}

main().catch((error) => {
  console.error(error instanceof IntegFailure ? error.message : error);
  process.exitCode = 1;
});
