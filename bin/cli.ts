#!/usr/bin/env -S npx tsx
/** The rds-migrate command line. */
import { runCli } from '../lib/cli.ts';

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
