/**
 * A client of the repository service (repo-server.ts) with bounded reads,
 * and the supervisor's two signing ceremonies on top of it.
 */
import { createHash } from 'node:crypto';
import { CodedError } from '@glasshouse/errors';
import { DistributionError } from './errors.js';
import type { ApprovalLookup } from './release-log-checker.js';
import {
  signReleasesDraftAsSupervisor,
  signRootDraftAsSupervisor,
  type SupervisorTufKeys,
} from './supervisor-tuf.js';
import { verifyMetadataSignature, type TufSignature } from './tuf-keys.js';
import {
  MAX_METADATA_BYTES,
  parseMetadataBytes,
  type TufMetadataDocument,
} from './tuf-metadata.js';
import { MetadataKind } from '@tufjs/models';

/** The largest target the supervisor fetches to check (layouts and receipts are small). */
const MAX_TARGET_BYTES = 4 * 1024 * 1024;

export class RepoClient {
  readonly baseUrl: string;

  constructor(url: string) {
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

  addRootSignature(signature: TufSignature): Promise<{ version: number; published: boolean }> {
    return this.#json('POST', '/drafts/root/signatures', signature);
  }

  releasesDraft(): Promise<TufMetadataDocument> {
    return this.#json<TufMetadataDocument>('GET', '/drafts/releases');
  }

  addReleasesSignature(
    signature: TufSignature,
  ): Promise<{ version: number; published: boolean; signed: number; threshold: number }> {
    return this.#json('POST', '/drafts/releases/signatures', signature);
  }

  /** POST /publish with the vendor's token. */
  publish(
    releaseId: string,
    token: string,
  ): Promise<{
    releaseId: string;
    draftVersion: number;
    releaseLog: { index: string };
    targets: string[];
  }> {
    return this.#json('POST', '/publish', { releaseId }, { authorization: `Bearer ${token}` });
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
      return await fetch(this.baseUrl + path, {
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
): Promise<{ version: number; published: boolean }> {
  const draft = await client.rootDraft();
  return client.addRootSignature(signRootDraftAsSupervisor(draft, keys));
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
      if (createHash('sha256').update(bytes).digest('hex') !== sha256) {
        throw new DistributionError('RELEASES_DRAFT_REFUSED', `target ${name} is not its hash`);
      }
      return bytes;
    },
  });
  return client.addReleasesSignature(signature);
}

/** timestamp → snapshot → releases; the releases metadata must verify with the supervisor's release key. */
async function publishedTargetsSignedBy(
  client: RepoClient,
  keys: SupervisorTufKeys,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const timestampBytes = await client.metadata('timestamp.json');
  if (timestampBytes === undefined) return out;
  const timestamp = parseMetadataBytes(
    timestampBytes,
    MetadataKind.Timestamp,
    'REPO_CORRUPT',
    'timestamp',
  );
  const snapshotBytes = await client.metadata(
    `${timestamp.signed.snapshotMeta.version}.snapshot.json`,
  );
  if (snapshotBytes === undefined) throw corrupt('the snapshot the timestamp names is missing');
  const snapshot = parseMetadataBytes(
    snapshotBytes,
    MetadataKind.Snapshot,
    'REPO_CORRUPT',
    'snapshot',
  );
  const releasesMeta = snapshot.signed.meta['releases.json'];
  if (releasesMeta === undefined) return out;
  const releasesBytes = await client.metadata(`${releasesMeta.version}.releases.json`);
  if (releasesBytes === undefined)
    throw corrupt('the releases metadata the snapshot names is missing');
  const releases = parseMetadataBytes(
    releasesBytes,
    MetadataKind.Targets,
    'REPO_CORRUPT',
    'releases',
  );
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
  if (res.body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Uint8Array).length;
    if (total > max)
      throw new DistributionError('REPO_UPSTREAM_FAILED', `the answer is over ${max} bytes`);
    chunks.push(chunk as Uint8Array);
  }
  return Buffer.concat(chunks);
}
