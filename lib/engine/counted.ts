/** A count and its noun, agreeing: `1 statement`, `4 statements`, `0 heads`. */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
