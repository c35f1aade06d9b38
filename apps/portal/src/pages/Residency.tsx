/** Residency: the policy in force, its history, the regions each site holds, enrollments per region. */
import { CheckList } from '../Checks.js';
import type { PortalConfig } from '../config.js';
import { useVerified } from '../useVerified.js';
import { verifyResidency } from '../verify/residency.js';

export function Residency({ config }: { config: PortalConfig }) {
  const { report, error } = useVerified(config, verifyResidency);

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
        </>
      )}
    </section>
  );
}
