/**
 * The one table every benchmark prints: Markdown, so it pastes into a
 * README or a review as is. Columns listed in `rightAligned` (numbers) are
 * padded on the left and marked `:` in the separator line.
 */
export function formatTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: readonly number[] = [1],
): string {
  const right = new Set(rightAligned);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${widths
      .map((w, i) => (right.has(i) ? (cells[i] ?? '').padStart(w) : (cells[i] ?? '').padEnd(w)))
      .join(' | ')} |`;
  const rule = `|${widths.map((w, i) => `${'-'.repeat(w + 1)}${right.has(i) ? ':' : '-'}`).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

/** A rate for a table cell: rounded, with thousands separators; `—` when unmeasured. */
export function formatRate(x: number | undefined): string {
  return x === undefined ? '—' : Math.round(x).toLocaleString('en-US');
}

/** The rows of the common measurement / rate / unit / note table. */
export interface RateRow {
  what: string;
  rate: number | undefined;
  unit: string;
  note: string;
}

/** Prints `rows` as the measurement / rate / unit / note table on stdout. */
export function printRateTable(rows: readonly RateRow[]): void {
  const body = rows.map((r) => [r.what, formatRate(r.rate), r.unit, r.note]);
  process.stdout.write(`${formatTable(['measurement', 'rate', 'unit', 'note'], body)}\n`);
}
