/**
 * Residency: the policy in force, its history (a diff between versions and
 * both signatures of each), the regions each site holds and, from each
 * site's verified ingest log, its events per region over time.
 */
import { isEmptyDiff, type PolicyDiff } from '@glasshouse/residency';
import { LineChart } from '../Chart.js';
import { CheckList } from '../Checks.js';
import type { PortalConfig } from '../config.js';
import { useVerified } from '../useVerified.js';
import type { SiteIngestReport } from '../verify/ingest.js';
import { verifyResidencyAlerts } from '../verify/alerts.js';
import { verifyResidency, type PolicyVersion } from '../verify/residency.js';
import { AlertCard } from './Alerts.js';

function DiffList({ diff }: { diff: PolicyDiff }) {
  if (isEmptyDiff(diff)) return <p>No change in sites or regions.</p>;
  const items = [
    ...diff.regionsMoved.map((r) => `region ${r.region} moved from ${r.from} to ${r.to}`),
    ...diff.regionsAdded.map((r) => `region ${r.region} added, to ${r.site}`),
    ...diff.regionsRemoved.map((r) => `region ${r.region} removed (was ${r.site})`),
    ...(diff.defaultChanged === undefined
      ? []
      : [
          `default site ${diff.defaultChanged.from ?? 'none'} → ${diff.defaultChanged.to ?? 'none'}`,
        ]),
    ...diff.sitesAdded.map((s) => `site ${s.id} (${s.country}) added`),
    ...diff.sitesRemoved.map((s) => `site ${s.id} (${s.country}) removed`),
    ...diff.sitesChanged.map((c) => `site ${c.site}: ${c.field} ${c.from} → ${c.to}`),
  ];
  return (
    <ul data-field="diff">
      {items.map((t) => (
        <li key={t}>{t}</li>
      ))}
    </ul>
  );
}

function Version({ v }: { v: PolicyVersion }) {
  return (
    <article
      className="card good"
      data-version={v.policy.version}
      aria-labelledby={`v-${v.policy.version}`}
    >
      <h4 id={`v-${v.policy.version}`}>
        Version {v.policy.version}, issued {v.policy.issuedAt}
      </h4>
      <dl>
        <dt>log index</dt>
        <dd>{v.index.toString()}</dd>
        <dt>digest</dt>
        <dd className="hash">{v.digest}</dd>
        <dt>previous</dt>
        <dd className="hash">{v.policy.previous ?? 'none (the first version)'}</dd>
        {v.signatures.map((s) => (
          <div key={s.keyid} className="sig" data-signature={s.party}>
            <dt>signed by the {s.party}</dt>
            <dd className="hash">
              key {s.keyid}: {s.sig}
            </dd>
          </div>
        ))}
      </dl>
      {v.diff === undefined ? (
        <p>The first version.</p>
      ) : (
        <>
          <h5>Changes from version {v.diff.from}</h5>
          <DiffList diff={v.diff} />
        </>
      )}
    </article>
  );
}

function SiteCard({ s }: { s: SiteIngestReport }) {
  const failed = s.checks.some((c) => c.verdict === 'fail');
  const regions = Object.entries(s.held).sort(([a], [b]) => (a < b ? -1 : 1));
  return (
    <article
      className={`card ${failed ? 'bad' : 'good'}`}
      data-card={`ingest-${s.site.id}`}
      data-status={failed ? 'fail' : 'pass'}
      aria-labelledby={`ingest-${s.site.id}`}
    >
      <h4 id={`ingest-${s.site.id}`}>
        {s.site.id} ({s.site.country}) ingest log
        {s.size === undefined ? '' : `, ${s.size} entries`}
      </h4>
      <CheckList checks={s.checks} scope={`${s.site.id} ingest log`} />
      {regions.length === 0 ? (
        <p>No stored batch in its verified ingest log.</p>
      ) : (
        <>
          <p data-field="held">
            Regions held:{' '}
            {regions.map(([r, h]) => `${r} (${h.batches} batches, ${h.events} events)`).join(', ')}
          </p>
          <LineChart
            title={`Events stored per region at ${s.site.id} over time`}
            edges={s.series.edges}
            series={s.series.byRegion}
            unit="events"
          />
        </>
      )}
    </article>
  );
}

export function Residency({ config }: { config: PortalConfig }) {
  const { report, error } = useVerified(config, verifyResidency);
  const { report: alerts } = useVerified(config, verifyResidencyAlerts);

  if (error !== undefined)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  if (report === undefined) return <p aria-live="polite">Replaying the residency log…</p>;
  if (report.checks.length === 0) return <p>This stack runs no residency log.</p>;
  const failed = report.checks.some((c) => c.verdict === 'fail');
  const current = report.versions.at(-1)?.policy;
  return (
    <section aria-labelledby="residency-title">
      <h2 id="residency-title">Residency</h2>
      <article
        className={`card ${failed ? 'bad' : 'good'}`}
        data-card="residency-log"
        data-status={failed ? 'fail' : 'pass'}
        aria-labelledby="residency-log-title"
      >
        <h3 id="residency-log-title">
          Residency log{report.size === undefined ? '' : `, ${report.size} entries`}
        </h3>
        <CheckList checks={report.checks} scope="Residency log" />
      </article>
      {current !== undefined && (
        <>
          <h3>Policy in force: version {current.version}</h3>
          <table data-table="sites">
            <caption>Regions each site holds (from the verified policy)</caption>
            <thead>
              <tr>
                <th scope="col">site</th>
                <th scope="col">country</th>
                <th scope="col">regions</th>
                <th scope="col">customers enrolled</th>
              </tr>
            </thead>
            <tbody>
              {current.sites.map((site) => {
                const regions = Object.entries(current.regions)
                  .filter(([, s]) => s === site.id)
                  .map(([r]) => r);
                const isDefault = current.default === site.id;
                const held = Object.entries(report.enrollmentsByRegion).filter(
                  ([r]) =>
                    current.regions[r] === site.id ||
                    (current.regions[r] === undefined && isDefault),
                );
                return (
                  <tr key={site.id} data-site={site.id}>
                    <td>{site.id}</td>
                    <td>{site.country}</td>
                    <td>
                      {regions.join(', ')}
                      {isDefault ? `${regions.length > 0 ? ', ' : ''}every other region` : ''}
                    </td>
                    <td>{held.map(([r, n]) => `${r} ${n}`).join(', ') || '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <h3>Sites: regions held and events over time</h3>
          <p className="lead">
            From each site&apos;s own ingest log, every entry verified here: hashed to its signed
            root and checked against the residency log above.
          </p>
          <div className="cards">
            {report.sites.map((site) => (
              <SiteCard key={site.site.id} s={site} />
            ))}
          </div>
          {alerts?.map((source) => (
            <section key={source.id} aria-labelledby="residency-alerts">
              <h3 id="residency-alerts">
                {source.title}:{' '}
                {source.alerts.length === 0
                  ? 'no alerts'
                  : `${source.alerts.length} alert(s), each re-verified here`}
              </h3>
              {source.error !== undefined && (
                <p className="error" role="alert">
                  {source.error}
                </p>
              )}
              <div className="cards">
                {source.alerts.map((a) => (
                  <AlertCard key={a.line} alert={a} source={source.id} />
                ))}
              </div>
            </section>
          ))}
          <h3>History</h3>
          <table data-table="history">
            <caption>
              Every policy version in the log (each signed by the vendor and the supervisor)
            </caption>
            <thead>
              <tr>
                <th scope="col">version</th>
                <th scope="col">issued</th>
                <th scope="col">log index</th>
                <th scope="col">digest</th>
              </tr>
            </thead>
            <tbody>
              {report.versions.map((v) => (
                <tr key={v.digest}>
                  <td>{v.policy.version}</td>
                  <td>{v.policy.issuedAt}</td>
                  <td>{v.index.toString()}</td>
                  <td className="hash">{v.digest}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Versions, their signatures and what changed</h3>
          <div className="cards">
            {[...report.versions].reverse().map((v) => (
              <Version key={v.digest} v={v} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}
