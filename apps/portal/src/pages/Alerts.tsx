/** Alerts: the monitors' alerts, each one's evidence re-verified in this browser. */
import { CheckList } from '../Checks.js';
import type { PortalConfig } from '../config.js';
import { useVerified } from '../useVerified.js';
import { verifyAlerts, type AlertReport } from '../verify/alerts.js';

const VERDICT = {
  pass: 'evidence verified',
  fail: 'evidence does not verify',
  note: 'reported by the monitor, not re-derivable here',
} as const;

export function AlertCard({ alert, source }: { alert: AlertReport; source: string }) {
  const failed = alert.checks.find((c) => c.verdict === 'fail');
  const headId = `alert-${source}-${alert.line}`;
  return (
    <article
      className={`card ${alert.verdict === 'fail' ? 'bad' : alert.verdict === 'pass' ? 'good' : 'plain'}`}
      data-alert={alert.kind}
      data-source={source}
      data-status={alert.verdict}
      aria-labelledby={headId}
    >
      <h4 id={headId}>
        {alert.kind} <span className="summary">({VERDICT[alert.verdict]})</span>
      </h4>
      <dl>
        <dt>raised</dt>
        <dd>{alert.time || '—'}</dd>
        <dt>log</dt>
        <dd>{alert.origin ?? alert.log}</dd>
        <dt>monitor says</dt>
        <dd>
          {alert.message}
          {alert.code === undefined ? '' : ` (${alert.code})`}
        </dd>
        {failed !== undefined && (
          <>
            <dt>why red</dt>
            <dd data-field="reason">{failed.summary}</dd>
          </>
        )}
      </dl>
      <CheckList checks={alert.checks} scope={`${alert.kind} alert, line ${alert.line}`} />
    </article>
  );
}

export function Alerts({ config }: { config: PortalConfig }) {
  const { report: sources, error } = useVerified(config, verifyAlerts);

  if (error !== undefined)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  if (config.alerts.length === 0) {
    return <p>This portal serves no monitor&apos;s alerts.</p>;
  }
  if (sources === undefined)
    return <p aria-live="polite">Re-verifying the monitors&apos; alerts…</p>;
  const total = sources.reduce((n, s) => n + s.alerts.length, 0);
  return (
    <section aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts</h2>
      <p className="lead">
        What the monitors raised, with their evidence checked again here against the trust roots:
        the page does not take a monitor&apos;s word. A split view shows both checkpoints the log
        signed; open a tick to see them.
      </p>
      {total === 0 && sources.every((s) => s.error === undefined) && (
        <p data-field="no-alerts">No alerts: no monitor has raised one.</p>
      )}
      {sources.map((s) => (
        <section key={s.id} data-alert-source={s.id} aria-labelledby={`alerts-${s.id}`}>
          <h3 id={`alerts-${s.id}`}>
            {s.title}: {s.alerts.length === 0 ? 'no alerts' : `${s.alerts.length} alert(s)`}
          </h3>
          {s.error !== undefined && (
            <p className="error" role="alert">
              {s.error}
            </p>
          )}
          {s.omitted > 0 && <p>{s.omitted} older alert(s) not shown.</p>}
          <div className="cards">
            {s.alerts.map((a) => (
              <AlertCard key={a.line} alert={a} source={s.id} />
            ))}
          </div>
        </section>
      ))}
    </section>
  );
}
