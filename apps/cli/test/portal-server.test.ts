/**
 * `portal serve`'s server on loopback: the page, the config with its trust
 * roots, and a proxy that forwards only GETs of allow-listed services'
 * paths, without request headers, under a strict Content-Security-Policy.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCosignerKey, generateSignerKey } from '@glasshouse/tlog';
import { MAX_ALERTS_BYTES, startPortalServer, type RunningPortal } from '../src/portal/server.js';
import { alertSources, logFromPolicy } from '../src/portal/sources.js';

describe('portal serve', () => {
  let dir: string;
  let upstream: Server;
  let portal: RunningPortal;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portal-server-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    await writeFile(join(dir, 'assets', 'a.js'), 'console.log(1)');
    upstream = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`upstream ${req.url ?? ''}`);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/log/`;
    const log = generateSignerKey('example.com/log');
    const witness = generateCosignerKey('example.com/witness');
    const policy = `# c2sp.org/tlog-policy of the example log, written by a test.\nlog ${log.verifierKey} ${url}\nwitness w ${witness.verifierKey} http://127.0.0.1:9/witness\nquorum w\n`;
    portal = await startPortalServer({
      distDir: dir,
      logs: [logFromPolicy(policy)],
      accessIndexUrl: url.replace('/log/', '/index'),
      trustBundleFingerprint: 'ab'.repeat(32),
      host: '127.0.0.1',
      port: 0,
    });
  });

  afterAll(async () => {
    await portal.close();
    await new Promise((r) => upstream.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('hands out the page and the trust roots with a strict policy', async () => {
    const page = await fetch(portal.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const asset = await fetch(`${portal.url}assets/a.js`);
    expect(asset.headers.get('content-type')).toContain('text/javascript');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const config = (await (await fetch(`${portal.url}portal-config.json`)).json()) as {
      logs: {
        id: string;
        title: string;
        base: string;
        policy: string;
        witnesses: Record<string, string>;
      }[];
      repo: unknown;
      accessIndex: unknown;
      trustBundleFingerprint: string;
    };
    expect(config.logs.map((l) => [l.id, l.title, l.base])).toEqual([
      ['example-log', 'example log', '/svc/example-log/'],
    ]);
    expect(config.logs[0]?.policy).toContain('quorum w');
    // The witness line's URL is proxied too (its monitoring path).
    expect(config.logs[0]?.witnesses).toEqual({ w: '/svc/witness-1/' });
    expect(config.repo).toBeNull();
    expect(config.accessIndex).toBe('/svc/access-index/');
    expect(config.trustBundleFingerprint).toBe('ab'.repeat(32));
  });

  it('forwards GETs to the service, without the browser’s headers', async () => {
    const res = await fetch(`${portal.url}svc/example-log/tile/0/000`, {
      headers: { cookie: 'secret=1', authorization: 'Bearer x' },
    });
    expect(await res.text()).toBe('upstream /log/tile/0/000');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const last = seen[seen.length - 1];
    expect(last?.headers.cookie).toBeUndefined();
    expect(last?.headers.authorization).toBeUndefined();
  });

  it("forwards only the access index's public lookup", async () => {
    const customer = `c-${'0a'.repeat(16)}`;
    const res = await fetch(`${portal.url}svc/access-index/${customer}`);
    expect(await res.text()).toBe(`upstream /index/v1/lookup/${customer}`);
    // Nothing else of the index service is reachable through it.
    const before = seen.length;
    const other = await fetch(`${portal.url}svc/access-index/..%2frevision`);
    expect(other.status).toBe(400);
    expect(seen.length).toBe(before);
  });

  it('refuses what it must not forward, with a code', async () => {
    const post = await fetch(`${portal.url}svc/example-log/add`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(await post.text()).toMatch(/^METHOD_NOT_ALLOWED/);
    const unknown = await fetch(`${portal.url}svc/witness/checkpoint`);
    expect(unknown.status).toBe(404);
    const before = seen.length;
    // An encoded slash would let "..%2f" climb out of the service's prefix upstream.
    const encoded = await fetch(`${portal.url}svc/example-log/..%2fsecret`);
    expect(encoded.status).toBe(400);
    expect(await encoded.text()).toMatch(/^PORTAL_BAD_PATH/);
    const outside = await fetch(`${portal.url}..%2f..%2fetc/passwd`);
    expect(outside.status).toBe(404);
    expect(seen.length).toBe(before);
  });

  it("forwards only the gateway's public lists, and hands out the access policy", async () => {
    const gatewayUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/gw/`;
    const gw = await startPortalServer({
      distDir: dir,
      logs: [],
      gatewayUrl,
      accessPolicy: '{"schema":"glasshouse.access-policy/v1"}\n',
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const config = (await (await fetch(`${gw.url}portal-config.json`)).json()) as {
        gateway: string;
        accessPolicy: string;
      };
      expect(config.gateway).toBe('/svc/gateway/');
      expect(config.accessPolicy).toContain('glasshouse.access-policy/v1');
      for (const path of ['v1/requests', 'v1/break-glass']) {
        expect(await (await fetch(`${gw.url}svc/gateway/${path}?customer=x`)).text()).toBe(
          `upstream /gw/${path}`,
        );
      }
      const before = seen.length;
      for (const path of ['v1/access', 'healthz', 'v1/requests/x', '']) {
        const res = await fetch(`${gw.url}svc/gateway/${path}`);
        expect(res.status, path).toBe(404);
        expect(await res.text()).toMatch(/^NOT_FOUND: not a public path of the gateway/);
      }
      expect(seen.length).toBe(before);
    } finally {
      await gw.close();
    }
  });

  it('says when the portal is not built', async () => {
    await expect(
      startPortalServer({ distDir: join(dir, 'missing'), logs: [], host: '127.0.0.1', port: 0 }),
    ).rejects.toMatchObject({ code: 'PORTAL_NOT_BUILT' });
  });

  it('refuses a policy without the log URL', () => {
    const log = generateSignerKey('example.com/log');
    expect(() => logFromPolicy(`log ${log.verifierKey}\nquorum none\n`)).toThrow(
      expect.objectContaining({ code: 'PORTAL_POLICY_INVALID' }),
    );
  });
});

describe("portal serve: the monitors' alerts", () => {
  let dir: string;
  let portal: RunningPortal;
  const line = (n: number): string => `${JSON.stringify({ kind: 'rollback', n })}\n`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portal-alerts-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    await mkdir(join(dir, 'mon'));
    // Two whole lines and one being appended (no newline yet).
    await writeFile(join(dir, 'mon', 'alerts.jsonl'), `${line(1)}${line(2)}{"kind":"par`);
    // Over the limit: only its newest whole lines are served.
    const big = Array.from({ length: 60_000 }, (_, i) => line(i)).join('');
    expect(big.length).toBeGreaterThan(MAX_ALERTS_BYTES);
    await writeFile(join(dir, 'big.jsonl'), big);
    portal = await startPortalServer({
      distDir: dir,
      logs: [],
      alerts: alertSources([
        join(dir, 'mon', 'alerts.jsonl'),
        `the big monitor=${join(dir, 'big.jsonl')}`,
        `not yet=${join(dir, 'none', 'alerts.jsonl')}`,
      ]),
      host: '127.0.0.1',
      port: 0,
    });
  });

  afterAll(async () => {
    await portal.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists each alerts file in the config under its own path', async () => {
    const config = (await (await fetch(`${portal.url}portal-config.json`)).json()) as {
      alerts: unknown;
    };
    expect(config.alerts).toEqual([
      { id: 'mon', title: 'mon', path: '/alerts/mon.jsonl' },
      { id: 'the-big-monitor', title: 'the big monitor', path: '/alerts/the-big-monitor.jsonl' },
      { id: 'not-yet', title: 'not yet', path: '/alerts/not-yet.jsonl' },
    ]);
  });

  it('serves whole lines only, the newest 1 MiB, and nothing for a file not written yet', async () => {
    const mon = await fetch(`${portal.url}alerts/mon.jsonl`);
    expect(mon.status).toBe(200);
    expect(mon.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await mon.text()).toBe(`${line(1)}${line(2)}`);
    const big = await (await fetch(`${portal.url}alerts/the-big-monitor.jsonl`)).text();
    expect(big.length).toBeLessThanOrEqual(MAX_ALERTS_BYTES);
    expect(big.endsWith(line(59_999))).toBe(true);
    // Starts at a line boundary: every line parses.
    expect(
      big
        .split('\n')
        .filter((l) => l !== '')
        .every((l) => JSON.parse(l) !== null),
    ).toBe(true);
    const none = await fetch(`${portal.url}alerts/not-yet.jsonl`);
    expect([none.status, await none.text()]).toEqual([200, '']);
  });

  it('only reads: other methods and other names are refused', async () => {
    const post = await fetch(`${portal.url}alerts/mon.jsonl`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    const other = await fetch(`${portal.url}alerts/other.jsonl`);
    expect(other.status).toBe(404);
    expect(alertSources(['a=/x', 'a=/y']).map((a) => a.id)).toEqual(['a', 'a-2']);
  });
});
