/** The person at the terminal: a yes/no question on stderr, answered on stdin; what Ctrl-C leaves. */
import { createInterface } from 'node:readline/promises';

/** Only `y` or `yes` (any case) is yes; anything else, an empty line included, is no. */
export async function askOnTerminal(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

/** Whether there is a person to ask: stdin and stderr both terminals. */
export function canAsk(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Who tells of Ctrl-C: the process, or a test's stand-in. */
export type InterruptSource = Pick<NodeJS.Process, 'on' | 'off' | 'listenerCount' | 'kill' | 'pid'>;

/**
 * Until the returned function is called, Ctrl-C (SIGINT) first runs `say` (what the interruption
 * leaves and how to go on); the process then ends as it would have: by another SIGINT listener
 * (the embedded server's exit hook), or by the signal raised again once this listener is gone.
 */
export function sayOnInterrupt(say: () => void, source: InterruptSource = process): () => void {
  const listener = () => {
    source.off('SIGINT', listener);
    say();
    if (source.listenerCount('SIGINT') === 0) source.kill(source.pid, 'SIGINT');
  };
  source.on('SIGINT', listener);
  return () => source.off('SIGINT', listener);
}
