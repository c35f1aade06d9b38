/**
 * The Transparency Center's server: hands out the portal's built files and
 * proxies the services' public read endpoints under one origin.
 *
 * Why a same-origin proxy rather than CORS on each service: the page's
 * Content-Security-Policy can then say `connect-src 'self'` (the page talks
 * to nothing else), no service needs CORS headers or has to be reachable
 * from the reviewer's network (only the portal is), and the proxy adds no
 * trust — it forwards GETs of an allow-listed set of upstreams and the
 * browser verifies every byte against the trust roots. It is not a
 * general-purpose proxy: GET and HEAD only, no request headers forwarded
 * (no cookies, no credentials), paths without `..`, bounded responses.
 */
import { open, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { CodedError, hasCode } from '@glasshouse/errors';
import { keepAliveFetch } from '@glasshouse/http';

/** The schema of ./portal-config.json (apps/portal/src/config.ts parses it in the browser). */
export const PORTAL_CONFIG_SCHEMA = 'glasshouse.portal-config/v1';
/** The largest upstream response forwarded. */
export const MAX_PROXIED_BYTES = 16 * 1024 * 1024;
const UPSTREAM_TIMEOUT_MS = 20_000;
/**
 * Keep-alive sockets to the services, with one retry when a service closes
 * an idle socket just as it is reused (seen under load as "other side
 * closed"); answers over the limit fail the fetch instead of being read.
 */
const upstreamFetch = keepAliveFetch({ maxBodyBytes: MAX_PROXIED_BYTES });

export interface PortalLogSource {
  /** Lowercase letters, digits and dashes: its proxy path is /svc/<id>/. */
  readonly id: string;
  readonly title: string;
  /** Its c2sp.org/tlog-policy (the log's key, the witnesses' keys and quorum). */
  readonly policy: string;
  /** Base URL of its tlog-tiles read API (…/checkpoint, …/tile/…), ending in '/'. */
  readonly url: string;
  /** The policy's witnesses that give a URL, by policy name: the page reads each one's latest cosigned checkpoint. */
  readonly witnesses?: Readonly<Record<string, string>>;
}

/** A monitor's alerts file (JSON lines, `@glasshouse/witness`'s alert format), served read-only at /alerts/<id>.jsonl. */
export interface PortalAlertSource {
  /** Lowercase letters, digits and dashes. */
  readonly id: string;
  /** Who raises them (e.g. "the supervisor's release-log monitor"). */
  readonly title: string;
  readonly path: string;
}

/** The newest part of an alerts file that is served (whole lines). */
export const MAX_ALERTS_BYTES = 1024 * 1024;

export interface PortalServerOptions {
  /** The portal's built files (apps/portal/dist). */
  readonly distDir: string;
  readonly logs: readonly PortalLogSource[];
  readonly repoUrl?: string | undefined;
  readonly assemblyUrl?: string | undefined;
  /** The access index service's base URL: only its public lookup (GET v1/lookup/<customer>) is proxied. */
  readonly accessIndexUrl?: string | undefined;
  /**
   * The access gateway's base URL: only its public lists of approval
   * requests and break-glass accesses are forwarded (GATEWAY_PUBLIC_PATHS).
   */
  readonly gatewayUrl?: string | undefined;
  /** The access policy (glasshouse.access-policy/v1) whose supervisor keys sign approvals. */
  readonly accessPolicy?: string | undefined;
  /** SHA-256 hex of the trust bundle the page must find at the repository. */
  readonly trustBundleFingerprint?: string | undefined;
  /** The monitors' alert files the page lists and re-verifies. */
  readonly alerts?: readonly PortalAlertSource[];
  readonly host: string;
  readonly port: number;
}

export interface RunningPortal {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/**
 * What the portal forwards of the access gateway: the approval requests
 * with their signed decisions, and the break-glass accesses with their
 * reviews. Nothing else (the gateway is the read path to the sites' data).
 */
export const GATEWAY_PUBLIC_PATHS: readonly string[] = ['v1/requests', 'v1/break-glass'];

const withSlash = (u: string): string => (u.endsWith('/') ? u : `${u}/`);

/** The proxy's upstreams by id, and the config the page reads. */
export function portalRoutes(opts: Omit<PortalServerOptions, 'distDir' | 'host' | 'port'>): {
  upstreams: Map<string, string>;
  config: unknown;
} {
  const upstreams = new Map<string, string>();
  for (const log of opts.logs) {
    if (!/^[a-z0-9-]{1,64}$/.test(log.id) || upstreams.has(log.id)) {
      throw new CodedError(
        'PORTAL_CONFIG_INVALID',
        `log id ${JSON.stringify(log.id)} is not a unique lowercase name`,
      );
    }
    upstreams.set(log.id, withSlash(log.url));
  }
  // One proxy path per witness URL, however many logs it cosigns.
  const witnessIds = new Map<string, string>();
  for (const log of opts.logs) {
    for (const url of Object.values(log.witnesses ?? {})) {
      if (witnessIds.has(withSlash(url))) continue;
      const id = `witness-${witnessIds.size + 1}`;
      if (upstreams.has(id))
        throw new CodedError('PORTAL_CONFIG_INVALID', `log id ${id} is taken by a witness`);
      witnessIds.set(withSlash(url), id);
      upstreams.set(id, withSlash(url));
    }
  }
  if (opts.repoUrl !== undefined) upstreams.set('repo', withSlash(opts.repoUrl));
  if (opts.assemblyUrl !== undefined) upstreams.set('assembly', withSlash(opts.assemblyUrl));
  if (opts.accessIndexUrl !== undefined) {
    upstreams.set('access-index', `${withSlash(opts.accessIndexUrl)}v1/lookup/`);
  }
  if (opts.gatewayUrl !== undefined) upstreams.set('gateway', withSlash(opts.gatewayUrl));
  return {
    upstreams,
    config: {
      schema: PORTAL_CONFIG_SCHEMA,
      logs: opts.logs.map((l) => ({
        id: l.id,
        title: l.title,
        policy: l.policy,
        witnesses: Object.fromEntries(
          Object.entries(l.witnesses ?? {}).map(([name, url]) => [
            name,
            `/svc/${witnessIds.get(withSlash(url)) ?? ''}/`,
          ]),
        ),
        base: `/svc/${l.id}/`,
      })),
      repo: opts.repoUrl === undefined ? null : '/svc/repo/',
      assembly: opts.assemblyUrl === undefined ? null : '/svc/assembly/',
      accessIndex: opts.accessIndexUrl === undefined ? null : '/svc/access-index/',
      gateway: opts.gatewayUrl === undefined ? null : '/svc/gateway/',
      accessPolicy: opts.accessPolicy ?? null,
      trustBundleFingerprint: opts.trustBundleFingerprint ?? null,
      alerts: alertIds(opts.alerts ?? []).map((a) => ({
        id: a.id,
        title: a.title,
        path: `/alerts/${a.id}.jsonl`,
      })),
    },
  };
}

function alertIds(sources: readonly PortalAlertSource[]): readonly PortalAlertSource[] {
  const ids = new Set<string>();
  for (const a of sources) {
    if (!/^[a-z0-9-]{1,64}$/.test(a.id) || ids.has(a.id)) {
      throw new CodedError(
        'PORTAL_CONFIG_INVALID',
        `alerts id ${JSON.stringify(a.id)} is not a unique lowercase name`,
      );
    }
    ids.add(a.id);
  }
  return sources;
}

/**
 * The newest whole lines of an alerts file, at most MAX_ALERTS_BYTES (a
 * monitor only appends; a file that does not exist yet has no alerts).
 */
export async function readAlertsTail(path: string): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Uint8Array();
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - MAX_ALERTS_BYTES);
    const bytes = new Uint8Array(size - start);
    await handle.read(bytes, 0, bytes.length, start);
    // Whole lines only: from after the first newline when read from the
    // middle, up to the last newline (a line being appended is left out).
    const from = start === 0 ? 0 : bytes.indexOf(0x0a) + 1;
    return bytes.subarray(from, Math.max(from, bytes.lastIndexOf(0x0a) + 1));
  } finally {
    await handle.close();
  }
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Uint8Array,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
  res.end(body);
}

const SAFE_PATH = /^[A-Za-z0-9._~/+-]*$/;

async function proxy(
  res: ServerResponse,
  upstream: string,
  rest: string,
  head: boolean,
): Promise<void> {
  if (!SAFE_PATH.test(rest) || rest.split('/').some((s) => s === '..' || s === '.')) {
    send(
      res,
      400,
      'text/plain; charset=utf-8',
      'PORTAL_BAD_PATH: not a path the portal forwards\n',
    );
    return;
  }
  let upstreamRes: Response;
  try {
    upstreamRes = await upstreamFetch(`${upstream}${rest}`, {
      method: head ? 'HEAD' : 'GET',
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    });
  } catch (err) {
    const tooLarge = hasCode((err as Error).cause, 'BODY_TOO_LARGE');
    send(
      res,
      502,
      'text/plain; charset=utf-8',
      tooLarge
        ? 'PORTAL_UPSTREAM_TOO_LARGE: the response is over the limit\n'
        : `PORTAL_UPSTREAM_FAILED: ${(err as Error).message}\n`,
    );
    return;
  }
  // The services' public reads never redirect; the portal follows none.
  if (upstreamRes.status >= 300 && upstreamRes.status < 400) {
    send(res, 502, 'text/plain; charset=utf-8', 'PORTAL_UPSTREAM_FAILED: the service redirected\n');
    return;
  }
  const body = head ? new Uint8Array() : new Uint8Array(await upstreamRes.arrayBuffer());
  if (body.length > MAX_PROXIED_BYTES) {
    send(
      res,
      502,
      'text/plain; charset=utf-8',
      'PORTAL_UPSTREAM_TOO_LARGE: the response is over the limit\n',
    );
    return;
  }
  send(
    res,
    upstreamRes.status,
    upstreamRes.headers.get('content-type') ?? 'application/octet-stream',
    body,
    {
      'cache-control': 'no-store',
    },
  );
}

async function serveFile(res: ServerResponse, distDir: string, path: string): Promise<void> {
  const file = normalize(join(distDir, path === '/' ? 'index.html' : path));
  if (!file.startsWith(distDir + sep)) {
    send(res, 404, 'text/plain; charset=utf-8', 'NOT_FOUND\n');
    return;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    send(res, 404, 'text/plain; charset=utf-8', 'NOT_FOUND\n');
    return;
  }
  // Vite names assets by content hash: they never change.
  const cache = path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
  send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', bytes, {
    'cache-control': cache,
  });
}

export async function startPortalServer(opts: PortalServerOptions): Promise<RunningPortal> {
  const distDir = normalize(opts.distDir);
  try {
    await readFile(join(distDir, 'index.html'));
  } catch (cause) {
    throw new CodedError(
      'PORTAL_NOT_BUILT',
      `the portal is not built (no ${join(distDir, 'index.html')}): run npm run build`,
      { cause },
    );
  }
  const { upstreams, config } = portalRoutes(opts);
  const configJson = `${JSON.stringify(config, null, 2)}\n`;
  const alertFiles = new Map((opts.alerts ?? []).map((a) => [`/alerts/${a.id}.jsonl`, a.path]));
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      send(res, 405, 'text/plain; charset=utf-8', 'METHOD_NOT_ALLOWED: the portal only reads\n', {
        allow: 'GET, HEAD',
      });
      return;
    }
    const path = new URL(req.url ?? '/', 'http://portal.invalid').pathname;
    if (path === '/portal-config.json') {
      send(res, 200, 'application/json', configJson, { 'cache-control': 'no-store' });
      return;
    }
    const alertFile = alertFiles.get(path);
    if (alertFile !== undefined) {
      send(res, 200, 'application/x-ndjson', head ? '' : await readAlertsTail(alertFile), {
        'cache-control': 'no-store',
      });
      return;
    }
    const svc = /^\/svc\/([a-z0-9-]+)\/(.*)$/.exec(path);
    if (svc !== null) {
      const upstream = upstreams.get(svc[1] ?? '');
      const onlyListed = svc[1] === 'gateway' && !GATEWAY_PUBLIC_PATHS.includes(svc[2] ?? '');
      if (upstream === undefined || onlyListed) {
        const why = onlyListed ? 'not a public path of the gateway' : 'no such service';
        send(res, 404, 'text/plain; charset=utf-8', `NOT_FOUND: ${why}\n`);
        return;
      }
      await proxy(res, upstream, svc[2] ?? '', head);
      return;
    }
    await serveFile(res, distDir, path);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent)
        send(res, 500, 'text/plain; charset=utf-8', `PORTAL_ERROR: ${(err as Error).message}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
