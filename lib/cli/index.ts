/**
 * The command line: program.ts (global options, error → exit code) registers one module per
 * command or command group from commands/; session.ts holds what they share (options, the
 * database or embedded server, output); report.ts formats the engine's results as text;
 * graph-drawing.ts draws `history --graph` and `--format dot`; json-output.ts says what each
 * `--json` prints (the types schemas/ is generated from); offline-sql.ts renders `--sql`;
 * remote.ts asks the deployed function; terminal.ts asks the person at the terminal.
 *
 * It may import everything below it (engine, check, schema, lint, local); never construct/ or
 * lambda/.
 * bin/cli.ts is its entry.
 *
 * Layering, as test/layering.test.ts reads it: may import engine, lint, local, schema, check; may
 * load commander, @aws-sdk/client-lambda.
 */
export { runCli } from './program.ts';
export { askOnTerminal, canAsk } from './terminal.ts';
