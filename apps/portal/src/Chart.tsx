/**
 * A small SVG line chart of counts over time buckets, one line per series,
 * with a title and description for assistive technology, each point labelled
 * with its number, and the same numbers in a table beside it.
 */
import { useId } from 'react';

export interface ChartProps {
  readonly title: string;
  /** Bucket boundaries (RFC 3339): one more than each series' length. */
  readonly edges: readonly string[];
  readonly series: Readonly<Record<string, readonly number[]>>;
  /** What one unit is ("events"). */
  readonly unit: string;
}

const W = 560;
const H = 200;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };
const COLOURS = ['#1f5fbf', '#b3261e', '#136c2e', '#8a5a00', '#6b3fa0', '#00707a'];

const hhmm = (iso: string): string => iso.slice(11, 19);

/** A bucket's width in the largest whole unit: "5 s", "15 min", "1 h", "7 days". */
function widthLabel(edges: readonly string[]): string {
  const ms = Date.parse(edges[1] ?? '') - Date.parse(edges[0] ?? '');
  if (!(ms > 0)) return 'bucket';
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, name] of units) {
    if (ms % size === 0) {
      const k = ms / size;
      return name === 'day' ? `${k} day${k === 1 ? '' : 's'}` : `${k} ${name}`;
    }
  }
  return `${ms} ms`;
}

export function LineChart({ title, edges, series, unit }: ChartProps) {
  const id = useId();
  const names = Object.keys(series).sort();
  const n = Math.max(0, edges.length - 1);
  const max = Math.max(1, ...names.flatMap((k) => series[k] ?? []));
  const x = (i: number): number => PAD.left + ((i + 0.5) * (W - PAD.left - PAD.right)) / n;
  const y = (v: number): number => H - PAD.bottom - (v * (H - PAD.top - PAD.bottom)) / max;
  const span = n === 0 ? '' : `from ${edges[0] ?? ''} to ${edges[n] ?? ''}`;
  return (
    <figure className="chart-figure">
      <svg
        className="chart"
        viewBox={`0 0 ${W} ${H}`}
        width={W}
        height={H}
        role="img"
        aria-labelledby={`${id}-t ${id}-d`}
      >
        <title id={`${id}-t`}>{title}</title>
        <desc id={`${id}-d`}>
          {`${unit} per ${widthLabel(edges)} (${n} time bucket${n === 1 ? '' : 's'}) ${span}; ` +
            names.map((k) => `${k}: ${(series[k] ?? []).join(', ')}`).join('; ')}
        </desc>
        <line
          x1={PAD.left}
          y1={H - PAD.bottom}
          x2={W - PAD.right}
          y2={H - PAD.bottom}
          stroke="#555"
        />
        <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} stroke="#555" />
        <text x={PAD.left - 6} y={PAD.top + 4} textAnchor="end" fontSize="11">
          {max}
        </text>
        <text x={PAD.left - 6} y={H - PAD.bottom} textAnchor="end" fontSize="11">
          0
        </text>
        <text x={PAD.left} y={H - 8} fontSize="11">
          {hhmm(edges[0] ?? '')}
        </text>
        <text x={W - PAD.right} y={H - 8} textAnchor="end" fontSize="11">
          {hhmm(edges[n] ?? '')} UTC
        </text>
        {names.map((k, s) => {
          const values = series[k] ?? [];
          const colour = COLOURS[s % COLOURS.length];
          return (
            <g key={k} data-series={k}>
              <polyline
                fill="none"
                stroke={colour}
                strokeWidth="2"
                points={values.map((v, i) => `${x(i)},${y(v)}`).join(' ')}
              />
              {values.map((v, i) => (
                <circle key={i} cx={x(i)} cy={y(v)} r="3" fill={colour}>
                  <title>{`${k}, ${edges[i] ?? ''} to ${edges[i + 1] ?? ''}: ${v} ${unit}`}</title>
                </circle>
              ))}
            </g>
          );
        })}
      </svg>
      <figcaption>
        {names.map((k, s) => (
          <span key={k} className="legend">
            <svg aria-hidden="true" width="14" height="4">
              <rect width="14" height="4" fill={COLOURS[s % COLOURS.length]} />
            </svg>{' '}
            {k}{' '}
          </span>
        ))}
      </figcaption>
      <table data-table="chart-numbers">
        <caption>{title}: the numbers</caption>
        <thead>
          <tr>
            <th scope="col">from (UTC)</th>
            {names.map((k) => (
              <th scope="col" key={k}>
                {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: n }, (_, i) => (
            <tr key={i}>
              <td>{edges[i]}</td>
              {names.map((k) => (
                <td key={k}>{series[k]?.[i] ?? 0}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
