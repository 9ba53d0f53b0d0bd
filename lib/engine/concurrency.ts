/** Work over many databases at once, bounded: `fleet status` and `fleet check` read their targets this way. */

/**
 * `work` on every item, at most `concurrency` at a time, the results in the items' order. A worker
 * takes the next item as soon as it finishes one, so a slow target holds up only its own slot.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
