/** The person at the terminal: a yes/no question on stderr, answered on stdin. */
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
