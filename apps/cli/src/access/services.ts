/**
 * The access path's services as the CLI runs them (`gateway serve`,
 * `keyrelease serve`, and `start`): each from its data directory, the
 * public access configuration (the access log's tlog-policy, the access
 * policy, the supervisor-signed principal registry, the residency trust)
 * and its own keys, with a verified residency view of its own.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { parseAccessPolicy, type AccessPolicy } from '@glasshouse/access-format';
import {
  ApprovalStore,
  Approvals,
  Gateway,
  KeyRelease,
  RecordStore,
  ReleaseAuditStore,
  buildGatewayServer,
  buildKeyReleaseServer,
  keyReleaseClient,
  openPrincipalRegistry,
  residencyFactsOf,
  siteReader,
  type AccessAlertSink,
  type RegisteredPrincipal,
  type SiteReader,
} from '@glasshouse/access';
import { checkPinnedResidency, type PinnedResidency } from '@glasshouse/agent';
import { keepAliveFetch } from '@glasshouse/http';
import { LogClient } from '@glasshouse/log';
import { keyReleaseKeyId, keyReleasePublicKey } from '@glasshouse/residency';
import { ResidencyView } from '@glasshouse/telemetry';
import { parsePolicy, type Policy } from '@glasshouse/tlog';
import { allowListOf, caller, formatCallers, signingFetch } from '../callers.js';
import { listenOn, parseListen, readSmallFile, UsageError, type Io } from '../io.js';
import { KEY_RELEASE_PRIVATE } from '../residency/parties.js';
import { residencyTrustOf, viewOf } from '../residency/services.js';

/** The route the key release serves to the gateway: the only one it signs for. */
export const KEY_RELEASE_ROUTES = ['POST /v1/release/prepare', 'POST /v1/release'];

const MAX_CONFIG_BYTES = 256 * 1024;

/** What both the gateway and the key release are configured with (all public). */
export interface AccessConfig {
  /** The access log's c2sp.org/tlog-policy: its log line carries the log's URL. */
  readonly accessLogPolicy: Policy;
  readonly accessLogUrl: string;
  readonly accessPolicy: AccessPolicy;
  readonly principals: ReadonlyMap<string, RegisteredPrincipal>;
  readonly residency: PinnedResidency;
}

export interface AccessConfigFiles {
  readonly accessLogPolicy: string;
  readonly accessPolicy: string;
  readonly principals: string;
  readonly residencyTrust: string;
}

/** `path: CODE: message` for a configuration file that does not parse or verify. */
function configError(path: string, cause: unknown): UsageError {
  if (cause instanceof UsageError) return cause;
  const code = (cause as { code?: unknown }).code;
  return new UsageError(
    `${path}: ${typeof code === 'string' ? `${code}: ` : ''}${(cause as Error).message}`,
    { cause },
  );
}

/** Reads and checks the access configuration; a bad file is a usage error naming it and the code. */
export async function readAccessConfig(files: AccessConfigFiles): Promise<AccessConfig> {
  const read = (path: string): Promise<string> => readSmallFile(path, MAX_CONFIG_BYTES);
  let accessLogPolicy: Policy;
  try {
    accessLogPolicy = parsePolicy(await read(files.accessLogPolicy));
  } catch (cause) {
    throw configError(files.accessLogPolicy, cause);
  }
  const url = accessLogPolicy.logs[0]?.url;
  if (accessLogPolicy.logs.length !== 1 || url === undefined) {
    throw new UsageError(
      `${files.accessLogPolicy}: CONFIG_INVALID: the access log's policy must name exactly one log, with its URL ("log <vkey> <url>")`,
    );
  }
  if (accessLogPolicy.witnesses.length === 0) {
    throw new UsageError(
      `${files.accessLogPolicy}: CONFIG_INVALID: the access log's policy names no witness (an access needs a witnessed record)`,
    );
  }
  let accessPolicy: AccessPolicy;
  try {
    accessPolicy = parseAccessPolicy(new TextEncoder().encode(await read(files.accessPolicy)));
  } catch (cause) {
    throw configError(files.accessPolicy, cause);
  }
  let principals: ReadonlyMap<string, RegisteredPrincipal>;
  try {
    // Signed by a supervisor key of the access policy (REGISTRY_INVALID otherwise).
    principals = openPrincipalRegistry(await read(files.principals), accessPolicy.supervisorKeys);
  } catch (cause) {
    throw configError(files.principals, cause);
  }
  let residency: PinnedResidency;
  try {
    residency = checkPinnedResidency(
      residencyTrustOf(await read(files.residencyTrust), files.residencyTrust).trust,
    );
  } catch (cause) {
    throw configError(files.residencyTrust, cause);
  }
  return {
    accessLogPolicy,
    accessLogUrl: url.endsWith('/') ? url : `${url}/`,
    accessPolicy,
    principals,
    residency,
  };
}

/** A residency view of its own in `dir`, caught up once before it serves (a failure is said and retried). */
async function startView(pinned: PinnedResidency, dir: string, io: Io, who: string) {
  const view = viewOf(pinned, dir);
  try {
    await view.refresh();
  } catch (err) {
    io.stderr(
      `${who}: the residency log is not readable yet (${err instanceof Error ? err.message : String(err)}); retrying\n`,
    );
  }
  view.start();
  return view;
}

/** SQLite in `dir`, or a schema of the PostgreSQL database. */
function where(dir: string, postgres: string | undefined): { dir: string } | { postgres: string } {
  return postgres === undefined ? { dir } : { postgres };
}

export interface RunningGateway {
  readonly url: string;
  readonly gateway: Gateway;
  readonly approvals: Approvals;
  /** The gateway's residency view (customers it knows, sites by the logged policy). */
  readonly view: ResidencyView;
  close(): Promise<void>;
}

/**
 * The data sites as the logged residency policy names them (its sites'
 * URLs), looked up at each access: a policy version that moves a site is
 * followed without a restart.
 */
function sitesOfPolicy(
  view: ResidencyView,
  fetchSigned: typeof fetch,
): { get(id: string): SiteReader | undefined } {
  const readers = new Map<string, SiteReader>();
  return {
    get: (id) => {
      const url = view.current().policy?.policy.sites.find((s) => s.id === id)?.ingestUrl;
      if (url === undefined) return undefined;
      let reader = readers.get(url);
      if (reader === undefined) {
        reader = siteReader(url, fetchSigned);
        readers.set(url, reader);
      }
      return reader;
    },
  };
}

/**
 * The gateway: its stores (counters and records, approvals), the access log
 * written with its caller key, the sites and the key release called with
 * the same key; served.
 */
export async function startGateway(opts: {
  readonly dir: string;
  readonly listen: string;
  readonly postgres?: string | undefined;
  readonly config: AccessConfig;
  readonly keyReleaseUrl: string;
  readonly callerKey: KeyObject;
  readonly witnessTimeoutMs?: number | undefined;
  readonly io: Io;
}): Promise<RunningGateway> {
  const address = parseListen(opts.listen);
  const { config } = opts;
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const view = await startView(config.residency, join(opts.dir, 'view'), opts.io, 'gateway');
    closers.push(() => view.close());
    const records = await RecordStore.open(where(opts.dir, opts.postgres));
    closers.push(() => records.close());
    const store = await ApprovalStore.open(where(opts.dir, opts.postgres));
    closers.push(() => store.close());
    const residency = residencyFactsOf(view);
    const approvals = new Approvals({
      store,
      accessPolicy: config.accessPolicy,
      principals: config.principals,
      residency,
    });
    // Keep-alive node:http for the gateway's calls (log, sites, key release): each access pays them.
    const signed = signingFetch(opts.callerKey, keepAliveFetch());
    const gateway = await Gateway.open({
      records,
      approvals,
      accessPolicy: config.accessPolicy,
      residency,
      accessLog: new LogClient(config.accessLogUrl, { fetch: signed }),
      accessLogPolicy: config.accessLogPolicy,
      sites: sitesOfPolicy(view, signed),
      keyRelease: keyReleaseClient(opts.keyReleaseUrl, signed),
      ...(opts.witnessTimeoutMs === undefined ? {} : { witnessTimeoutMs: opts.witnessTimeoutMs }),
    });
    const app = buildGatewayServer({ gateway, approvals, principals: config.principals });
    closers.push(() => app.close());
    for (const p of config.principals.values()) {
      opts.io.stderr(
        `gateway: accepts principal ${p.pseudonym} (${p.accessor.role}, ${p.accessor.entity}, ${p.accessor.country})\n`,
      );
    }
    const url = `${await listenOn(app, address)}/`;
    return { url, gateway, approvals, view, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * The key-release private key in `dir`, checked to be the one the residency
 * trust names (the key the agents seal to): another key could open nothing.
 */
export async function readKeyReleaseKey(dir: string, pinned: PinnedResidency): Promise<Uint8Array> {
  const path = join(dir, KEY_RELEASE_PRIVATE);
  if (!existsSync(path)) {
    throw new UsageError(
      `${dir} has no ${KEY_RELEASE_PRIVATE}; run "glasshouse supervisor key-release init"`,
    );
  }
  const raw = Buffer.from((await readSmallFile(path, 4096)).trim(), 'base64');
  if (raw.length !== 32) throw new UsageError(`${path} is not a base64 X25519 private key`);
  const key = new Uint8Array(raw);
  const pub = keyReleasePublicKey(key);
  if (Buffer.compare(Buffer.from(pub), Buffer.from(pinned.keyRelease)) !== 0) {
    throw new UsageError(
      `${path}: CONFIG_INVALID: this is key-release key ${keyReleaseKeyId(pub)}, but the residency trust names ` +
        `${keyReleaseKeyId(pinned.keyRelease)} (the key the agents seal to)`,
    );
  }
  return key;
}

export interface RunningKeyRelease {
  readonly url: string;
  readonly keyRelease: KeyRelease;
  readonly audit: ReleaseAuditStore;
  /** The key release's residency view (the customers' enrolled keys). */
  readonly view: ResidencyView;
  close(): Promise<void>;
}

/** The supervisor's key release: its key, its audit store, its residency view; served to the gateway's key only. */
export async function startKeyRelease(opts: {
  readonly dir: string;
  readonly listen: string;
  readonly postgres?: string | undefined;
  readonly config: AccessConfig;
  readonly gatewayKeys: readonly KeyObject[];
  readonly canaries: readonly string[];
  readonly alerts: AccessAlertSink;
  readonly validitySeconds?: number | undefined;
  readonly io: Io;
}): Promise<RunningKeyRelease> {
  const address = parseListen(opts.listen);
  const { config } = opts;
  const privateKey = await readKeyReleaseKey(opts.dir, config.residency);
  const allowList = allowListOf(
    opts.gatewayKeys.map((k, i) =>
      caller(opts.gatewayKeys.length === 1 ? 'gateway' : `gateway ${i + 1}`, k, KEY_RELEASE_ROUTES),
    ),
  );
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const view = await startView(config.residency, join(opts.dir, 'view'), opts.io, 'key release');
    closers.push(() => view.close());
    const audit = await ReleaseAuditStore.open(where(opts.dir, opts.postgres));
    closers.push(() => audit.close());
    const keyRelease = new KeyRelease({
      privateKey,
      accessLogPolicy: config.accessLogPolicy,
      accessPolicy: config.accessPolicy,
      principals: config.principals,
      residency: residencyFactsOf(view),
      audit,
      alerts: opts.alerts,
      canaries: new Set(opts.canaries),
      accessLogName: config.accessLogUrl,
      ...(opts.validitySeconds === undefined ? {} : { validitySeconds: opts.validitySeconds }),
    });
    opts.io.stderr(formatCallers('key release', allowList));
    const app = buildKeyReleaseServer({ keyRelease, writers: { allowList } });
    closers.push(() => app.close());
    const url = `${await listenOn(app, address)}/`;
    return { url, keyRelease, audit, view, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
