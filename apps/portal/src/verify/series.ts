/**
 * Counts over time for the pages' charts (Chart.tsx's LineChart): items
 * summed per series in equal time buckets from the first item to just past
 * the last.
 */

/** Time buckets of a chart. */
export const CHART_BUCKETS = 12;

export interface CountSeries {
  /** Bucket boundaries (RFC 3339), one more than the buckets, or none without items. */
  readonly edges: readonly string[];
  /** Series name → its sum in each bucket. */
  readonly series: Readonly<Record<string, readonly number[]>>;
}

export interface TimedCount {
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly series: string;
  /** What the item adds to its bucket (default 1). */
  readonly count?: number;
}

export function countsOverTime(items: readonly TimedCount[], buckets = CHART_BUCKETS): CountSeries {
  if (items.length === 0) return { edges: [], series: {} };
  const times = items.map((e) => e.time);
  const first = Math.min(...times);
  // One second past the last, so the last item falls inside the last bucket.
  const span = Math.max(Math.max(...times) - first + 1000, 1000);
  const width = span / buckets;
  const edges = Array.from({ length: buckets + 1 }, (_, i) =>
    new Date(Math.round(first + i * width)).toISOString(),
  );
  const series: Record<string, number[]> = {};
  for (const e of items) {
    const row = (series[e.series] ??= new Array<number>(buckets).fill(0));
    const b = Math.min(buckets - 1, Math.floor((e.time - first) / width));
    row[b] = (row[b] ?? 0) + (e.count ?? 1);
  }
  return { edges, series };
}
