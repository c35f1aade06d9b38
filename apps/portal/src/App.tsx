/**
 * The Transparency Center: loads the trust roots and service paths from
 * ./portal-config.json, then shows a page chosen by the URL's hash
 * (#/ overview, #/releases). Everything shown as verified was verified in
 * this browser by the project's own packages.
 */
import { Suspense, lazy, useEffect, useState } from 'react';
import { parsePortalConfig, type PortalConfig } from './config.js';
import { Overview } from './pages/Overview.js';
import { applyPins, pinsFromUrl } from './pins.js';
import { reasonOf } from './verify/check.js';
import { fetchJson } from './verify/fetch.js';

// Loaded when first opened: the first page needs only @glasshouse/tlog, not attest and release-format.
const Releases = lazy(() => import('./pages/Releases.js').then((m) => ({ default: m.Releases })));
const Access = lazy(() => import('./pages/Access.js').then((m) => ({ default: m.Access })));
const Alerts = lazy(() => import('./pages/Alerts.js').then((m) => ({ default: m.Alerts })));
const MyData = lazy(() => import('./pages/MyData.js').then((m) => ({ default: m.MyData })));
const Residency = lazy(() =>
  import('./pages/Residency.js').then((m) => ({ default: m.Residency })),
);

const PAGES = [
  { hash: '#/', title: 'Overview' },
  { hash: '#/releases', title: 'Releases' },
  { hash: '#/residency', title: 'Residency' },
  { hash: '#/access', title: 'Access' },
  { hash: '#/mine', title: 'My data' },
  { hash: '#/alerts', title: 'Alerts' },
] as const;

function currentPage(): string {
  return PAGES.some((p) => p.hash === location.hash) ? location.hash : '#/';
}

export function App() {
  const [config, setConfig] = useState<PortalConfig | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [page, setPage] = useState(currentPage());
  useEffect(() => {
    const onHash = () => {
      setPage(currentPage());
    };
    addEventListener('hashchange', onHash);
    fetchJson('./portal-config.json')
      .then((v) => {
        setConfig(applyPins(parsePortalConfig(v), pinsFromUrl(location.search)));
      })
      .catch((err: unknown) => {
        setError(reasonOf(err));
      });
    return () => {
      removeEventListener('hashchange', onHash);
    };
  }, []);
  const title = PAGES.find((p) => p.hash === page)?.title ?? 'Overview';
  useEffect(() => {
    document.title = `${title} · Glasshouse Transparency Center`;
  }, [title]);

  return (
    <>
      <header>
        <h1>Glasshouse Transparency Center</h1>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.hash}>
                <a href={p.hash} aria-current={p.hash === page ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main>
        {error !== undefined && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {config === undefined && error === undefined && <p>Loading the trust roots…</p>}
        {config !== undefined && page === '#/' && <Overview config={config} />}
        {config !== undefined && page === '#/access' && (
          <Suspense fallback={<p>Loading…</p>}>
            <Access config={config} />
          </Suspense>
        )}
        {config !== undefined && page === '#/mine' && (
          <Suspense fallback={<p>Loading…</p>}>
            <MyData config={config} />
          </Suspense>
        )}
        {config !== undefined && page === '#/residency' && (
          <Suspense fallback={<p>Loading…</p>}>
            <Residency config={config} />
          </Suspense>
        )}
        {config !== undefined && page === '#/alerts' && (
          <Suspense fallback={<p>Loading…</p>}>
            <Alerts config={config} />
          </Suspense>
        )}
        {config !== undefined && page === '#/releases' && (
          <Suspense fallback={<p>Loading…</p>}>
            <Releases config={config} />
          </Suspense>
        )}
      </main>
      <footer>
        <p>
          The servers only hand out bytes: every signature and proof on this page was checked by
          this browser.
        </p>
      </footer>
    </>
  );
}
