/** Releases: each release with its source, recipe, provenance, VSA, TUF state and release-log inclusion. */
import { CheckList } from '../Checks.js';
import type { PortalConfig } from '../config.js';
import { useVerified } from '../useVerified.js';
import { verifyReleases } from '../verify/releases.js';
import { RuleDiff } from './RuleDiff.js';
import { SourceBrowser } from './SourceBrowser.js';

export function Releases({ config }: { config: PortalConfig }) {
  const { report, error } = useVerified(config, verifyReleases);

  if (config.repo === null) return <p>This stack runs no update repository.</p>;
  if (error !== undefined)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  if (report === undefined) return <p aria-live="polite">Verifying the releases…</p>;
  const trustFailed = report.trust.some((c) => c.verdict === 'fail');
  return (
    <section aria-labelledby="releases-title">
      <h2 id="releases-title">Releases</h2>
      <article
        className={`card ${trustFailed ? 'bad' : 'good'}`}
        data-card="repository"
        data-status={trustFailed ? 'fail' : 'pass'}
        aria-labelledby="repo-title"
      >
        <h3 id="repo-title">Update repository</h3>
        <CheckList checks={report.trust} scope="Update repository" />
      </article>
      {report.releases.length === 0 && <p>No releases yet.</p>}
      <div className="cards">
        {report.releases.map((r) => {
          const failed = r.checks.some((c) => c.verdict === 'fail');
          const rec = r.record;
          return (
            <article
              key={r.id}
              className={`card ${failed ? 'bad' : 'good'}`}
              data-release={r.id}
              data-status={failed ? 'fail' : 'pass'}
              aria-labelledby={`release-${r.id}`}
            >
              <h3 id={`release-${r.id}`}>
                {r.name} {r.version}
              </h3>
              <dl>
                <dt>release</dt>
                <dd className="hash">{r.id}</dd>
                <dt>source</dt>
                <dd>{rec?.source ?? '—'}</dd>
                <dt>commit</dt>
                <dd className="hash">{rec?.commit ?? '—'}</dd>
                <dt>recipe</dt>
                <dd className="hash">
                  {rec === undefined ? '—' : `${rec.recipe.path} sha256 ${rec.recipe.sha256}`}
                </dd>
                <dt>builder</dt>
                <dd>{rec?.builderId ?? '—'}</dd>
                <dt>status</dt>
                <dd>{rec?.status ?? '—'}</dd>
                <dt>VSA</dt>
                <dd>
                  {r.vsa === undefined ? '—' : `${r.vsa.result} (${r.vsa.levels.join(', ')})`}
                </dd>
                <dt>release log</dt>
                <dd>{r.logIndex === undefined ? '—' : `entry ${r.logIndex}`}</dd>
              </dl>
              <CheckList checks={r.checks} scope={`${r.name} ${r.version}`} />
              {r.reviews.map((v, i) => (
                <blockquote key={i} className="review" data-review={v.reviewer}>
                  <p>{v.note}</p>
                  <footer>
                    — {v.reviewer}, {v.reviewedAt} (signed by the supervisor, key{' '}
                    {v.keyid.slice(0, 16)}…)
                  </footer>
                </blockquote>
              ))}
              {r.source !== undefined && (
                <SourceBrowser source={r.source} label={`${r.name} ${r.version}`} />
              )}
            </article>
          );
        })}
      </div>
      <RuleDiff releases={report.releases} />
    </section>
  );
}
