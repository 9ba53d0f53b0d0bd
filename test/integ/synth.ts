/**
 * Synthesizes the integration tests' app as integ-runner does: its recommended feature flags as
 * context, no path or asset metadata, no version reporting. The offline snapshot check, the
 * snapshot update and the deploy driver all synthesize through here, so what is compared is
 * what is deployed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { lifecycleApp } from './integ.lifecycle.ts';

const require = createRequire(import.meta.url);

/** The feature flags integ-runner synthesizes every integration test with. */
function integRunnerContext(): Record<string, unknown> {
  const runner = join(require.resolve('@aws-cdk/integ-runner/package.json'), '..');
  return JSON.parse(readFileSync(join(runner, 'lib', 'recommended-feature-flags.json'), 'utf8'));
}

export interface SynthOptions {
  /**
   * Run aws-cdk-lib's CloudFormation template validation (it found a circular dependency in an
   * assertion stack once); it takes seconds per stack, so the offline check leaves it out.
   * @default true
   */
  readonly validate?: boolean;
}

/** Synthesizes the lifecycle app into `outdir`; returns the cloud assembly's folder. */
export function synthLifecycle(outdir: string, options: SynthOptions = {}): string {
  const app = new App({
    outdir,
    context: {
      ...integRunnerContext(),
      'aws:cdk:enable-path-metadata': false,
      'aws:cdk:enable-asset-metadata': false,
      'aws:cdk:version-reporting': false,
    },
    builtinCloudFormationValidation: options.validate ?? true,
  });
  return lifecycleApp(app).synth().directory;
}
