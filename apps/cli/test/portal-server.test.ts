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
import { startPortalServer, type RunningPortal } from '../src/portal/server.js';
import { logFromPolicy } from '../src/portal/sources.js';

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
      trustBundleFingerprint: string;
    };
    expect(config.logs.map((l) => [l.id, l.title, l.base])).toEqual([
      ['example-log', 'example log', '/svc/example-log/'],
    ]);
    expect(config.logs[0]?.policy).toContain('quorum w');
    // The witness line's URL is proxied too (its monitoring path).
    expect(config.logs[0]?.witnesses).toEqual({ w: '/svc/witness-1/' });
    expect(config.repo).toBeNull();
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
