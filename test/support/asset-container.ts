/**
 * A function asset running as a warm Lambda container would: plain `node` in the asset's folder,
 * index.mjs imported once, invocations one at a time, a thrown error answered as the Node.js
 * runtime answers it (`errorType`, `errorMessage`, `trace`). Invocations go over an IPC channel,
 * so the function's own logging (stdout, stderr) stays its own; it is kept to show on failure.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface Invocation {
  /** What the handler returned, or the runtime's error payload when it threw. */
  readonly payload: unknown;
  /** 'Unhandled' when the handler threw, as Lambda's X-Amz-Function-Error says it. */
  readonly functionError?: string;
}

/** Runs in the container: imports the handler, answers each message from the parent. */
const CONTAINER = `
const { handler } = await import('./index.mjs');
const timeoutMs = Number(process.env.FUNCTION_TIMEOUT_MS);
process.on('message', async ({ id, event, requestId }) => {
  const started = Date.now();
  const context = {
    awsRequestId: requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    invokedFunctionArn: process.env.FUNCTION_ARN,
    getRemainingTimeInMillis: () => timeoutMs - (Date.now() - started),
  };
  try {
    process.send({ id, payload: (await handler(event, context)) ?? null });
  } catch (error) {
    const payload = { errorType: error.name, errorMessage: error.message, trace: String(error.stack).split('\\n') };
    process.send({ id, payload, functionError: 'Unhandled' });
  }
});
process.send({ ready: true });
`;

export class AssetContainer {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (invocation: Invocation) => void>();
  private next = 0;
  private output = '';
  readonly ready: Promise<void>;

  /**
   * @param taskRoot the asset's folder (no node_modules above it, as in Lambda)
   * @param env the function's environment, as the template gives it, plus what Lambda adds
   */
  constructor(taskRoot: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ['--input-type=module', '-e', CONTAINER], {
      cwd: taskRoot,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.ready = new Promise((started, failed) => {
      this.child.once('exit', (code) => {
        const exited = { errorType: 'Runtime.ExitError', errorMessage: `exited (${code}):\n${this.output}` };
        for (const answer of this.waiting.values()) answer({ payload: exited, functionError: 'Unhandled' });
        failed(new Error(`the container ${exited.errorMessage}`));
      });
      this.child.on('message', (message: { ready?: true; id?: number } & Invocation) => {
        if (message.ready) return started();
        this.waiting.get(message.id ?? -1)?.(message);
        this.waiting.delete(message.id ?? -1);
      });
    });
  }

  async invoke(event: unknown, requestId: string): Promise<Invocation> {
    await this.ready;
    const id = this.next++;
    return new Promise((answered) => {
      this.waiting.set(id, answered);
      this.child.send({ id, event, requestId });
    });
  }

  /** What the function printed (its structured logs), the last 20 kB. */
  logs(): string {
    return this.output;
  }

  stop(): void {
    this.child.kill();
  }
}
