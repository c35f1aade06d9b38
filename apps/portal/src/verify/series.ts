/**
 * Counts over time for the pages' charts (Chart.tsx's LineChart): items
 * summed per series in time buckets of a whole, readable width (1 s, 5 s,
 * 1 min, 1 h, 1 day, …), aligned to that width in UTC: the narrowest width
 * that covers the items in at most `maxBuckets` buckets. A demo whose events
 * all fall within a second gets one bucket, not a dozen of 80 ms.
 */

/** Most time buckets of a chart. */
export const CHART_BUCKETS = 12;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Bucket widths a reader takes in at a glance, narrowest first. */
const WIDTHS = [
  SECOND,
  2 * SECOND,
  5 * SECOND,
  10 * SECOND,
  15 * SECOND,
  30 * SECOND,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
  30 * DAY,
  90 * DAY,
  365 * DAY,
];

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

export function countsOverTime(
  items: readonly TimedCount[],
  maxBuckets = CHART_BUCKETS,
): CountSeries {
  if (items.length === 0) return { edges: [], series: {} };
  let first = Infinity;
  let last = -Infinity;
  for (const e of items) {
    first = Math.min(first, e.time);
    last = Math.max(last, e.time);
  }
  const fits = (w: number): boolean =>
    Math.floor(last / w) - Math.floor(first / w) + 1 <= Math.max(1, maxBuckets);
  // Past the widest listed width (centuries of items): doubled until it fits.
  let width = WIDTHS.find(fits) ?? 365 * DAY;
  while (!fits(width)) width *= 2;
  const start = Math.floor(first / width) * width;
  const buckets = Math.floor((last - start) / width) + 1;
  const edges = Array.from({ length: buckets + 1 }, (_, i) =>
    new Date(start + i * width).toISOString(),
  );
  const series: Record<string, number[]> = {};
  for (const e of items) {
    const row = (series[e.series] ??= new Array<number>(buckets).fill(0));
    const b = Math.floor((e.time - start) / width);
    row[b] = (row[b] ?? 0) + (e.count ?? 1);
  }
  return { edges, series };
}
