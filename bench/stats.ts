/** Medians and the ratios the table prints. */

export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle] as number;
  return ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** `value / base`, or undefined when there is no base to compare with. */
export function ratio(value: number, base: number | undefined): number | undefined {
  return base === undefined || base <= 0 ? undefined : value / base;
}
