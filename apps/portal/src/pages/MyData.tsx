/**
 * My data: a customer opens its key (a file or pasted text, read in this
 * browser only) and sees every access to its data, with the completeness
 * proof checked here (verify/mine.ts).
 */
import { useId, useState } from 'react';
import { CheckList } from '../Checks.js';
import type { PortalConfig } from '../config.js';
import { accessorText, justificationText } from '../records.js';
import { reasonOf } from '../verify/check.js';
import {
  browserMineMemory,
  customerOfKey,
  verifyMine,
  MAX_KEY_CHARS,
  type MineReport,
} from '../verify/mine.js';

export function MyData({ config }: { config: PortalConfig }) {
  const [pasted, setPasted] = useState('');
  const [report, setReport] = useState<MineReport | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const id = useId();

  const check = (text: string): void => {
    setError(undefined);
    setReport(undefined);
    let identity;
    try {
      identity = customerOfKey(text);
    } catch (err) {
      setError(reasonOf(err));
      return;
    }
    setBusy(true);
    verifyMine(config, identity, new Date(), browserMineMemory())
      .then(setReport)
      .catch((err: unknown) => {
        setError(reasonOf(err));
      })
      .finally(() => {
        setBusy(false);
      });
  };

  const failed = report?.checks.some((c) => c.verdict === 'fail') ?? false;
  return (
    <section aria-labelledby="mine-title">
      <h2 id="mine-title">My data</h2>
      <p>
        Open your customer key to see every access to your data, and this browser&apos;s proof that
        the list is complete. The key is read here and never sent: only your pseudonym, which every
        access record already carries, is looked up.
      </p>
      <form
        className="key-form"
        aria-label="Your customer key"
        onSubmit={(e) => {
          e.preventDefault();
          check(pasted);
        }}
      >
        <p>
          <label htmlFor={`${id}-file`}>Customer key file</label>{' '}
          <input
            id={`${id}-file`}
            type="file"
            accept=".key,.pem,text/plain"
            disabled={busy}
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = '';
              if (file === undefined) return;
              if (file.size > MAX_KEY_CHARS) {
                setError(`PORTAL_KEY_INVALID: ${file.name} is larger than a key file`);
                return;
              }
              file
                .text()
                .then(check)
                .catch((err: unknown) => {
                  setError(reasonOf(err));
                });
            }}
          />
        </p>
        <p>
          <label htmlFor={`${id}-paste`}>Or paste the key (PEM)</label>
          <br />
          <textarea
            id={`${id}-paste`}
            rows={4}
            cols={66}
            spellCheck={false}
            autoComplete="off"
            value={pasted}
            onChange={(e) => {
              setPasted(e.target.value);
            }}
          />
        </p>
        <p>
          <button type="submit" disabled={busy || pasted.trim() === ''}>
            Check my accesses
          </button>
        </p>
      </form>
      {busy && <p aria-live="polite">Checking the logs and the index…</p>}
      {error !== undefined && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {report !== undefined && report.checks.length === 0 && (
        <p>This stack runs no access index.</p>
      )}
      {report !== undefined && report.checks.length > 0 && (
        <>
          <article
            className={`card ${failed ? 'bad' : 'good'}`}
            data-card="my-data"
            data-status={failed ? 'fail' : 'pass'}
            data-customer={report.customer}
            aria-labelledby="my-data-title"
          >
            <h3 id="my-data-title">
              {failed
                ? 'The list of accesses to your data could not be verified'
                : `All ${report.records.length} accesses to your data up to access-log size ${report.size}`}
            </h3>
            <CheckList checks={report.checks} scope="My data" />
          </article>
          {!failed && (
            <table data-table="my-accesses">
              <caption>
                Every access to the data of {report.customer} (each included in the witnessed access
                log; the list proved complete)
              </caption>
              <thead>
                <tr>
                  <th scope="col">counter</th>
                  <th scope="col">time</th>
                  <th scope="col">site</th>
                  <th scope="col">data</th>
                  <th scope="col">justification</th>
                  <th scope="col">accessor</th>
                  <th scope="col">log index</th>
                </tr>
              </thead>
              <tbody>
                {report.records.map(({ index, record: r }) => (
                  <tr key={String(index)} data-access={String(index)}>
                    <td>{r.counter}</td>
                    <td>{r.time}</td>
                    <td>{r.site}</td>
                    <td>{r.dataClass}</td>
                    <td>{justificationText(r.justification)}</td>
                    <td>{accessorText(r.accessor)}</td>
                    <td>{String(index)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
