/** Runs the CLI in-process, as a test would from a shell: exit code, stdout and stderr. */
import { runCli } from '../../lib/cli/program.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCliCaptured(
  argv: readonly string[],
  where: {
    readonly env: NodeJS.ProcessEnv;
    readonly cwd: string;
    readonly terminal?: boolean;
    /** Answers the CLI's questions as a person at a terminal would; absent: no terminal to ask on. */
    readonly confirm?: (question: string) => Promise<boolean>;
  },
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdoutIsTerminal: where.terminal ?? false,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: where.env,
    cwd: where.cwd,
    ...(where.confirm ? { confirm: where.confirm } : {}),
  });
  return { code, stdout, stderr };
}
