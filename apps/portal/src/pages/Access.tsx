/**
 * Access: every access record in the witnessed access log (each with its
 * own inclusion proof and access-policy check), filters by site,
 * justification, accessor and time, counts per justification over time,
 * the approval requests with who decided, and the break-glass accesses
 * with their reviews.
 */
import { useId, useState } from 'react';
import { CheckItem, CheckList } from '../Checks.js';
import { LineChart } from '../Chart.js';
import type { PortalConfig } from '../config.js';
import { accessorText, justificationText } from '../records.js';
import { useVerified } from '../useVerified.js';
import type { Check } from '../verify/check.js';
import { verifyAccess, type LoggedAccess } from '../verify/access.js';
import { countsOverTime } from '../verify/series.js';

const FILTERS = [
  { key: 'site', label: 'Site', of: (a: LoggedAccess) => a.record.site },
  {
    key: 'justification',
    label: 'Justification',
    of: (a: LoggedAccess) => a.record.justification.code,
  },
  { key: 'entity', label: "Accessor's entity", of: (a: LoggedAccess) => a.record.accessor.entity },
  {
    key: 'country',
    label: "Accessor's country",
    of: (a: LoggedAccess) => a.record.accessor.country,
  },
] as const;

/** A `datetime-local` value read as UTC (the page shows every time in UTC); NaN when empty. */
function utcInput(value: string): number {
  return value === '' ? NaN : Date.parse(`${value}Z`);
}

const short = (digest: string): string => `${digest.slice(0, 19)}…`;

function Ticks({ checks, scope }: { checks: readonly (Check | undefined)[]; scope: string }) {
  return (
    <ul className="checks">
      {checks.map((c) =>
        c === undefined ? null : <CheckItem key={c.id} check={c} scope={scope} />,
      )}
    </ul>
  );
}

export function Access({ config }: { config: PortalConfig }) {
  const { report, error } = useVerified(config, verifyAccess);
  const [chosen, setChosen] = useState<Record<string, string>>({});
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const idBase = useId();
  if (error !== undefined)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  if (report === undefined) return <p aria-live="polite">Replaying the access log…</p>;
  if (report.checks.length === 0) return <p>This stack runs no access log.</p>;
  const failed = report.checks.some((c) => c.verdict === 'fail');
  const fromMs = utcInput(from);
  const toMs = utcInput(to);
  const shown = report.records.filter(
    (a) =>
      FILTERS.every((f) => (chosen[f.key] ?? '') === '' || f.of(a) === chosen[f.key]) &&
      (Number.isNaN(fromMs) || a.time >= fromMs) &&
      (Number.isNaN(toMs) || a.time <= toMs),
  );
  const perJustification = new Map<string, number>();
  for (const a of shown) {
    const code = a.record.justification.code;
    perJustification.set(code, (perJustification.get(code) ?? 0) + 1);
  }
  const byStatus = new Map<string, number>();
  for (const r of report.requests) {
    const s = r.status ?? 'invalid';
    byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
  }
  return (
    <section aria-labelledby="access-title">
      <h2 id="access-title">Access</h2>
      <article
        className={`card ${failed ? 'bad' : 'good'}`}
        data-card="access-log"
        data-status={failed ? 'fail' : 'pass'}
        aria-labelledby="access-log-title"
      >
        <h3 id="access-log-title">Access log</h3>
        <CheckList checks={report.checks} scope="Access log" />
      </article>
      <form
        className="filters"
        aria-label="Filter access records"
        onSubmit={(e) => {
          e.preventDefault();
        }}
      >
        {FILTERS.map((f) => {
          const values = [...new Set(report.records.map(f.of))].sort();
          const id = `${idBase}-${f.key}`;
          return (
            <span key={f.key}>
              <label htmlFor={id}>{f.label}</label>{' '}
              <select
                id={id}
                value={chosen[f.key] ?? ''}
                onChange={(e) => {
                  setChosen({ ...chosen, [f.key]: e.target.value });
                }}
              >
                <option value="">all</option>
                {values.map((v) => (
                  <option key={v} value={v}>
                    {v}
                  </option>
                ))}
              </select>{' '}
            </span>
          );
        })}
        <span>
          <label htmlFor={`${idBase}-from`}>From (UTC)</label>{' '}
          <input
            id={`${idBase}-from`}
            type="datetime-local"
            step="1"
            value={from}
            onChange={(e) => {
              setFrom(e.target.value);
            }}
          />{' '}
        </span>
        <span>
          <label htmlFor={`${idBase}-to`}>To (UTC)</label>{' '}
          <input
            id={`${idBase}-to`}
            type="datetime-local"
            step="1"
            value={to}
            onChange={(e) => {
              setTo(e.target.value);
            }}
          />{' '}
        </span>
        <button
          type="button"
          onClick={() => {
            setChosen({});
            setFrom('');
            setTo('');
          }}
        >
          Clear filters
        </button>
      </form>
      <p aria-live="polite" data-shown={shown.length}>
        {shown.length} of {report.records.length} records shown
      </p>
      {shown.length > 0 && (
        <LineChart
          title="Accesses per justification over time"
          unit="accesses"
          {...countsOverTime(
            shown.map((a) => ({ time: a.time, series: a.record.justification.code })),
          )}
        />
      )}
      <table data-table="per-justification">
        <caption>Accesses per justification ({shown.length} shown)</caption>
        <tbody>
          {[...perJustification].map(([code, n]) => (
            <tr key={code}>
              <th scope="row">{code}</th>
              <td>{n}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table data-table="records">
        <caption>
          Access records (each with its own inclusion proof and access-policy check)
        </caption>
        <thead>
          <tr>
            <th scope="col">log index</th>
            <th scope="col">time</th>
            <th scope="col">site</th>
            <th scope="col">customer</th>
            <th scope="col">data</th>
            <th scope="col">justification</th>
            <th scope="col">accessor</th>
            <th scope="col">approval</th>
            <th scope="col">checks</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((a) => {
            const r = a.record;
            return (
              <tr
                key={a.index}
                data-record={a.index}
                data-inclusion={a.inclusion.verdict}
                data-policy={a.policy?.verdict ?? 'none'}
              >
                <td>{a.index}</td>
                <td>{r.time}</td>
                <td>{r.site}</td>
                <td className="hash">{r.customer}</td>
                <td>{r.dataClass}</td>
                <td>{justificationText(r.justification)}</td>
                <td>{accessorText(r.accessor)}</td>
                {/* "none": the policy check beside it says whether one was needed. */}
                <td className={r.approval === null ? undefined : 'hash'}>{r.approval ?? 'none'}</td>
                <td>
                  <Ticks checks={[a.inclusion, a.policy]} scope={`Record ${a.index}`} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>

      <h3 id="approvals-title">Approvals</h3>
      <p>
        {report.requests.length === 0
          ? 'No approval requests at the gateway.'
          : `Requests: ${[...byStatus].map(([s, n]) => `${n} ${s}`).join(', ')}. Each decision was verified in this browser; the status is recomputed from them.`}
      </p>
      {report.requests.length > 0 && (
        <table data-table="approvals" aria-labelledby="approvals-title">
          <thead>
            <tr>
              <th scope="col">request</th>
              <th scope="col">requested</th>
              <th scope="col">access asked</th>
              <th scope="col">status</th>
              <th scope="col">decisions (by whom)</th>
              <th scope="col">check</th>
            </tr>
          </thead>
          <tbody>
            {report.requests.map((v) => (
              <tr key={v.digest} data-request={v.digest} data-status={v.status ?? 'invalid'}>
                <td className="hash" title={v.digest}>
                  {short(v.digest)}
                </td>
                <td>
                  {v.request?.requestedAt ?? '?'} (expires {v.request?.expiresAt ?? '?'})
                </td>
                <td>
                  {v.request === undefined
                    ? 'not a valid request'
                    : `${v.request.dataClass} of ${v.request.customer} at ${v.request.site}, ${justificationText(v.request.justification)}, by ${accessorText(v.request.accessor)}`}
                </td>
                <td data-field="status">{v.status ?? 'invalid'}</td>
                <td>
                  <ul className="checks" data-field="decisions">
                    {v.decisions.map((d) => (
                      <CheckItem
                        key={d.check.id}
                        check={d.check}
                        scope={`Request ${short(v.digest)}`}
                      />
                    ))}
                  </ul>
                </td>
                <td>
                  <Ticks checks={[v.check]} scope={`Request ${short(v.digest)}`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h3 id="break-glass-title">Break-glass accesses</h3>
      {report.breakGlass.length === 0 ? (
        <p>No break-glass access in the log.</p>
      ) : (
        <table data-table="break-glass" aria-labelledby="break-glass-title">
          <thead>
            <tr>
              <th scope="col">log index</th>
              <th scope="col">time</th>
              <th scope="col">accessor</th>
              <th scope="col">reason</th>
              <th scope="col">review due</th>
              <th scope="col">review</th>
              <th scope="col">overdue</th>
              <th scope="col">check</th>
            </tr>
          </thead>
          <tbody>
            {report.breakGlass.map((b) => (
              <tr
                key={b.access.index}
                data-break-glass={b.access.index}
                data-review={b.review === undefined ? 'none' : b.review.decision}
                data-overdue={b.overdue ? 'yes' : 'no'}
              >
                <td>{b.access.index}</td>
                <td>{b.access.record.time}</td>
                <td>{accessorText(b.access.record.accessor)}</td>
                <td>{b.access.record.justification.detail}</td>
                <td>{b.reviewDue ?? 'unknown'}</td>
                <td>
                  {b.review === undefined
                    ? 'none yet'
                    : `${b.review.decision === 'approve' ? 'approved' : 'denied'} by the supervisor at ${b.review.decidedAt}`}
                </td>
                <td className={b.overdue ? 'error' : undefined}>{b.overdue ? 'OVERDUE' : 'no'}</td>
                <td>
                  <Ticks checks={[b.check]} scope={`Break-glass access ${b.access.index}`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
