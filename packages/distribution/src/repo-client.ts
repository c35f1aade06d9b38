/**
 * A client of the repository service (repo-server.ts) with bounded reads,
 * and the supervisor's signing ceremonies (root, targets, releases) on top
 * of it.
 */
import { sha256Hex } from '@glasshouse/attest';
import { CodedError, hasCode } from '@glasshouse/errors';
import { readBoundedBody } from '@glasshouse/http';
import { DistributionError } from './errors.js';
import type { ApprovalLookup } from './release-log-checker.js';
import {
  signReleasesDraftAsSupervisor,
  signRootDraftAsSupervisor,
  signTargetsDraftAsSupervisor,
  type SupervisorTufKeys,
} from './supervisor-tuf.js';
import {
  parseTufPublicKey,
  verifyMetadataSignature,
  type TufPublicKey,
  type TufSignature,
} from './tuf-keys.js';
import type { TargetsSignatureResult } from './tuf-repo.js';
import {
  MAX_METADATA_BYTES,
  RELEASES_ROLE,
  parseMetadataBytes,
  type TufMetadataDocument,
} from './tuf-metadata.js';
import {
  MetadataKind,
  type Metadata,
  type Snapshot,
  type Targets,
  type Timestamp,
} from '@tufjs/models';

/** The largest target the supervisor fetches to check (layouts and receipts are small). */
const MAX_TARGET_BYTES = 4 * 1024 * 1024;

export class RepoClient {
  readonly baseUrl: string;
  readonly #fetchImpl: typeof fetch;

  /** Writes go through `options.fetch`: a signing fetch (`signedFetch` of @glasshouse/httpsig). */
  constructor(url: string, options: { readonly fetch?: typeof fetch } = {}) {
    this.#fetchImpl = options.fetch ?? fetch;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (cause) {
      throw new DistributionError('REPO_OPTION_INVALID', `not a URL: ${url}`, { cause });
    }
    this.baseUrl = parsed.href.replace(/\/+$/, '');
  }

  rootDraft(): Promise<TufMetadataDocument> {
    return this.#json<TufMetadataDocument>('GET', '/drafts/root');
  }

  addRootSignature(
    signature: TufSignature,
  ): Promise<{ version: number; published: boolean; awaitingTargets: boolean }> {
    return this.#json('POST', '/drafts/root/signatures', signature);
  }

  targetsDraft(): Promise<TufMetadataDocument> {
    return this.#json<TufMetadataDocument>('GET', '/drafts/targets');
  }

  addTargetsSignature(signature: TufSignature): Promise<TargetsSignatureResult> {
    return this.#json('POST', '/drafts/targets/signatures', signature);
  }

  releasesDraft(): Promise<TufMetadataDocument> {
    return this.#json<TufMetadataDocument>('GET', '/drafts/releases');
  }

  addReleasesSignature(
    signature: TufSignature,
  ): Promise<{ version: number; published: boolean; signed: number; threshold: number }> {
    return this.#json('POST', '/drafts/releases/signatures', signature);
  }

  /** POST /publish, signed by this client's fetch, or with the vendor's token. */
  publish(
    releaseId: string,
    token?: string,
  ): Promise<{
    releaseId: string;
    draftVersion: number;
    releaseLog: { index: string };
    targets: string[];
  }> {
    return this.#json(
      'POST',
      '/publish',
      { releaseId },
      token === undefined ? {} : { authorization: `Bearer ${token}` },
    );
  }

  /** A target's bytes by its consistent-snapshot path (`<dirs>/<sha256>.<file>`, TUF 5.7.3). */
  async target(name: string, sha256: string): Promise<Uint8Array> {
    const parts = name.split('/');
    const file = parts.pop() ?? '';
    const path = [...parts, `${sha256}.${file}`].map(encodeURIComponent).join('/');
    const res = await this.#fetch('GET', `/targets/${path}`);
    if (!res.ok) throw await errorOf(res);
    return readBounded(res, MAX_TARGET_BYTES);
  }

  /** A metadata file's bytes, or undefined when the service has none by that name. */
  async metadata(file: string): Promise<Uint8Array | undefined> {
    const res = await this.#fetch('GET', `/metadata/${encodeURIComponent(file)}`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw await errorOf(res);
    return readBounded(res, MAX_METADATA_BYTES);
  }

  async #fetch(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    try {
      return await this.#fetchImpl(this.baseUrl + path, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (cause) {
      throw new DistributionError('REPO_UPSTREAM_FAILED', `cannot reach ${this.baseUrl}`, {
        cause,
      });
    }
  }

  async #json<T>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T> {
    const res = await this.#fetch(method, path, body, headers);
    if (!res.ok) throw await errorOf(res);
    const bytes = await readBounded(res, MAX_METADATA_BYTES);
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
    } catch (cause) {
      throw new DistributionError('REPO_UPSTREAM_FAILED', 'the answer is not JSON', { cause });
    }
  }
}

/** Signs the pending root draft with the supervisor's root key after its checks; uploads it. */
export async function supervisorSignRoot(
  client: RepoClient,
  keys: SupervisorTufKeys,
): Promise<{ version: number; published: boolean; awaitingTargets: boolean }> {
  const draft = await client.rootDraft();
  return client.addRootSignature(signRootDraftAsSupervisor(draft, keys));
}

/**
 * Signs the pending targets draft with the supervisor's targets key after
 * its checks (targets-checks.ts) against the published targets: the
 * vendor's release key it names stays, the version is the next one.
 */
export async function supervisorSignTargets(
  client: RepoClient,
  keys: SupervisorTufKeys,
): Promise<TargetsSignatureResult> {
  const draft = await client.targetsDraft();
  const chain = await readPublishedChain(client);
  const targets = chain?.roles.get('targets')?.metadata;
  let published: { version: number; vendorRelease: TufPublicKey } | undefined;
  if (targets !== undefined) {
    const role = targets.signed.delegations?.roles?.[RELEASES_ROLE];
    const vendorId = role?.keyIDs.find((id) => id !== keys.release.keyid);
    const vendorKey =
      vendorId === undefined ? undefined : targets.signed.delegations?.keys[vendorId];
    if (role?.keyIDs.includes(keys.release.keyid) !== true || vendorKey === undefined) {
      throw new DistributionError(
        'TARGETS_KEY_SWAPPED',
        "the published releases delegation does not name the supervisor's release key and one vendor key",
        { evidence: { keyids: role?.keyIDs ?? [] } },
      );
    }
    published = {
      version: targets.signed.version,
      vendorRelease: parseTufPublicKey(vendorKey.toJSON()),
    };
  }
  return client.addTargetsSignature(signTargetsDraftAsSupervisor({ draft, published, keys }));
}

/** One metadata file of the published chain: its bytes and what they parse to. */
export interface PublishedFile<T> {
  readonly version: number;
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly metadata: T;
}

/** What the repository publishes now: timestamp → snapshot → each targets metadata it lists. */
export interface PublishedChain {
  readonly timestamp: PublishedFile<Metadata<Timestamp>>;
  readonly snapshot: PublishedFile<Metadata<Snapshot>>;
  /** By role name (`targets`, `releases`, any other role the snapshot lists). */
  readonly roles: ReadonlyMap<string, PublishedFile<Metadata<Targets>>>;
}

const ROLE_FILE = /^([a-z0-9][a-z0-9_-]{0,63})\.json$/;

/**
 * Reads the published chain the way a client walks it: the timestamp, the
 * snapshot it names (TUF 5.5: its hash and length), then every targets
 * metadata file the snapshot lists, by version (TUF 5.6). Undefined before
 * root v1 is published. REPO_CORRUPT when a file is missing, does not parse
 * or is not what the metadata above it says.
 */
export async function readPublishedChain(client: RepoClient): Promise<PublishedChain | undefined> {
  const timestampBytes = await client.metadata('timestamp.json');
  if (timestampBytes === undefined) return undefined;
  const timestamp = parseMetadataBytes(
    timestampBytes,
    MetadataKind.Timestamp,
    'REPO_CORRUPT',
    'timestamp',
  );
  const snapshotMeta = timestamp.signed.snapshotMeta;
  const snapshotFile = await fetchListed(client, 'snapshot', snapshotMeta);
  const snapshot = parseMetadataBytes(
    snapshotFile.bytes,
    MetadataKind.Snapshot,
    'REPO_CORRUPT',
    'snapshot',
  );
  const roles = new Map<string, PublishedFile<Metadata<Targets>>>();
  for (const [file, meta] of Object.entries(snapshot.signed.meta)) {
    const role = ROLE_FILE.exec(file)?.[1];
    if (role === undefined) throw corrupt(`the snapshot lists ${file}`);
    const listed = await fetchListed(client, role, meta);
    roles.set(role, {
      ...listed,
      metadata: parseMetadataBytes(listed.bytes, MetadataKind.Targets, 'REPO_CORRUPT', file),
    });
  }
  return {
    timestamp: {
      version: timestamp.signed.version,
      bytes: timestampBytes,
      sha256: sha256Hex(timestampBytes),
      metadata: timestamp,
    },
    snapshot: { ...snapshotFile, metadata: snapshot },
    roles,
  };
}

/** `<version>.<role>.json`, checked against the length and hashes listed for it (TUF 5.5.2, 5.6.2). */
async function fetchListed(
  client: RepoClient,
  role: string,
  meta: {
    version: number;
    length?: number | undefined;
    hashes?: Record<string, string> | undefined;
  },
): Promise<{ version: number; bytes: Uint8Array; sha256: string }> {
  const bytes = await client.metadata(`${meta.version}.${role}.json`);
  if (bytes === undefined) throw corrupt(`${meta.version}.${role}.json is missing`);
  const sha256 = sha256Hex(bytes);
  const listedHash = meta.hashes?.sha256;
  if (
    (meta.length !== undefined && meta.length !== bytes.length) ||
    (listedHash !== undefined && listedHash !== sha256)
  ) {
    throw corrupt(`${meta.version}.${role}.json is not the file its listing describes`);
  }
  return { version: meta.version, bytes, sha256 };
}

/**
 * Signs the pending releases draft with the supervisor's release key when
 * every new target belongs to a release it approved; uploads the signature.
 * "New" is relative to the published releases metadata, which must itself
 * carry the supervisor's valid signature: the vendor cannot pass a target
 * off as already reviewed.
 */
export async function supervisorSignRelease(
  client: RepoClient,
  keys: SupervisorTufKeys,
  approvals: ApprovalLookup,
): Promise<{ version: number; published: boolean; signed: number; threshold: number }> {
  const draft = await client.releasesDraft();
  const published = await publishedTargetsSignedBy(client, keys);
  const signature = await signReleasesDraftAsSupervisor({
    draft,
    published,
    approvals,
    keys,
    fetchTarget: async (name, sha256) => {
      const bytes = await client.target(name, sha256);
      if (sha256Hex(bytes) !== sha256) {
        throw new DistributionError('RELEASES_DRAFT_REFUSED', `target ${name} is not its hash`);
      }
      return bytes;
    },
  });
  return client.addReleasesSignature(signature);
}

/** The published releases metadata's targets; it must verify with the supervisor's release key. */
async function publishedTargetsSignedBy(
  client: RepoClient,
  keys: SupervisorTufKeys,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const releases = (await readPublishedChain(client))?.roles.get(RELEASES_ROLE)?.metadata;
  if (releases === undefined) return out;
  const ours = releases.signatures[keys.release.keyid];
  if (
    ours === undefined ||
    !verifyMetadataSignature(releases, { keyid: ours.keyID, sig: ours.sig }, keys.release.publicKey)
  ) {
    throw new DistributionError(
      'RELEASES_DRAFT_REFUSED',
      "the published releases metadata does not carry the supervisor's signature",
    );
  }
  for (const [name, target] of Object.entries(releases.signed.targets)) {
    const sha256 = target.hashes.sha256;
    if (sha256 !== undefined) out.set(name, sha256);
  }
  return out;
}

function corrupt(message: string): DistributionError {
  return new DistributionError('REPO_CORRUPT', message);
}

async function errorOf(res: Response): Promise<CodedError> {
  let value: { code?: unknown; message?: unknown } | undefined;
  try {
    value = JSON.parse(
      Buffer.from(await readBounded(res, 64 * 1024)).toString('utf8'),
    ) as typeof value;
  } catch {
    value = undefined;
  }
  if (typeof value?.code === 'string' && typeof value.message === 'string') {
    return new CodedError(value.code, value.message, { evidence: { status: res.status } });
  }
  return new DistributionError('REPO_UPSTREAM_FAILED', `HTTP ${res.status} without a coded reason`);
}

async function readBounded(res: Response, max: number): Promise<Uint8Array> {
  try {
    return await readBoundedBody(res, max);
  } catch (cause) {
    if (!hasCode(cause, 'BODY_TOO_LARGE')) throw cause;
    throw new DistributionError('REPO_UPSTREAM_FAILED', `the answer is over ${max} bytes`);
  }
}
