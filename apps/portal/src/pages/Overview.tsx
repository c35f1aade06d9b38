/** Overview: every log the stack runs, each verified in this browser. */
import { CheckList } from '../Checks.js';
import type { PortalConfig } from '../config.js';
import { useVerified } from '../useVerified.js';
import { verifyLog, type LogReport } from '../verify/logs.js';
import { openSeenStore } from '../verify/seen.js';

function age(seconds: number | undefined): string {
  if (seconds === undefined) return 'unknown (no valid cosignature)';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/** Every log at once, against the checkpoints this browser saw (IndexedDB). */
async function verifyAllLogs(config: PortalConfig, now: Date): Promise<LogReport[]> {
  const seen = await openSeenStore();
  return Promise.all(config.logs.map((log) => verifyLog(log, { seen, now })));
}

export function Overview({ config }: { config: PortalConfig }) {
  const { report: reports, error } = useVerified(config, verifyAllLogs);

  if (error !== undefined)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  if (reports === undefined) return <p aria-live="polite">Verifying {config.logs.length} logs…</p>;
  return (
    <section aria-labelledby="overview-title">
      <h2 id="overview-title">Logs</h2>
      <p className="lead">
        Each log&apos;s latest checkpoint, verified here against the trust roots below: the
        log&apos;s key, the witnesses&apos; keys and quorum. Open a tick to see what was checked.
      </p>
      <div className="cards">
        {reports.map((r) => {
          const failed = r.checks.some((c) => c.verdict === 'fail');
          return (
            <article
              key={r.id}
              className={`card ${failed ? 'bad' : 'good'}`}
              data-log={r.id}
              data-status={failed ? 'fail' : 'pass'}
              aria-labelledby={`log-${r.id}`}
            >
              <h3 id={`log-${r.id}`}>{r.title}</h3>
              <dl>
                <dt>origin</dt>
                <dd>{r.origin ?? '—'}</dd>
                <dt>size</dt>
                <dd data-field="size">{r.size?.toString() ?? '—'}</dd>
                <dt>root</dt>
                <dd className="hash">{r.rootHash ?? '—'}</dd>
                <dt>age</dt>
                <dd>{age(r.ageSeconds)}</dd>
              </dl>
              <CheckList checks={r.checks} scope={r.title} />
            </article>
          );
        })}
      </div>
      <h2>Trust roots</h2>
      {config.logs.map((l) => (
        <details key={l.id}>
          <summary>{l.title}: c2sp.org/tlog-policy</summary>
          <pre>{l.policyText}</pre>
        </details>
      ))}
    </section>
  );
}
