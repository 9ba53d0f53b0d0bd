/**
 * Placeholder entry: the lifecycle handler is being written. The construct bundles this file.
 * It exports one `handler` for onEvent, isComplete and manual invokes.
 */
export async function handler(event: unknown): Promise<unknown> {
  return { received: typeof event };
}
