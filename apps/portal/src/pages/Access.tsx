/** Access: every access record in the witnessed access log, with filters and counts per justification. */
import { useId, useState } from 'react';
import { CheckList } from '../Checks.js';
import type { PortalConfig } from '../config.js';
import { accessorText, justificationText } from '../records.js';
import { useVerified } from '../useVerified.js';
import { verifyAccess, type LoggedAccess } from '../verify/access.js';

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

export function Access({ config }: { config: PortalConfig }) {
  const { report, error } = useVerified(config, verifyAccess);
  const [chosen, setChosen] = useState<Record<string, string>>({});
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
  const shown = report.records.filter((a) =>
    FILTERS.every((f) => (chosen[f.key] ?? '') === '' || f.of(a) === chosen[f.key]),
  );
  const perJustification = new Map<string, number>();
  for (const a of shown) {
    const code = a.record.justification.code;
    perJustification.set(code, (perJustification.get(code) ?? 0) + 1);
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
      </form>
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
          Access records (each included in the log: every entry hashed to the signed root)
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
          </tr>
        </thead>
        <tbody>
          {shown.map(({ index, record: r }) => (
            <tr key={index} data-record={index}>
              <td>{index}</td>
              <td>{r.time}</td>
              <td>{r.site}</td>
              <td className="hash">{r.customer}</td>
              <td>{r.dataClass}</td>
              <td>{justificationText(r.justification)}</td>
              <td>{accessorText(r.accessor)}</td>
              <td className="hash">{r.approval ?? 'none required'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
