/**
 * The update repository's TUF metadata, checked in the browser from the
 * root the trust bundle carries (whose two root-key signatures
 * @glasshouse/release-format's openTrustBundle checked): timestamp →
 * snapshot → targets → the delegated `releases` role (TUF 5.4–5.6), each
 * signature an Ed25519 signature over the canonical JSON of `signed`
 * (@glasshouse/attest's encodeCanonical), each role at its threshold, each
 * file the length and hash its parent lists, none expired.
 */
import { encodeCanonical, publicKeyFromKeyDict, sha256Hex } from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import { fetchBytes, fetchBytesIfPresent, type Fetcher } from './fetch.js';

type Json = Record<string, unknown>;

export interface RoleKeys {
  readonly keys: Readonly<Record<string, unknown>>;
  readonly keyids: readonly string[];
  readonly threshold: number;
}

export interface VerifiedRole {
  readonly signed: Json;
  /** Key ids whose signature verified, in the role's order. */
  readonly signedBy: readonly string[];
  readonly threshold: number;
  readonly sha256: string;
}

const fail = (code: string, message: string): CodedError => new CodedError(code, message);

function fromHex(h: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(h))
    throw fail('TUF_SIGNATURE_MALFORMED', 'a signature is not lowercase hex');
  return Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function asObject(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw fail('TUF_METADATA_MALFORMED', `${what} is not an object`);
  return v as Json;
}

/** Parses `bytes` as metadata of `type` and checks its signatures against `role` (TUF 5.x "verify … signatures"). */
export function verifyRoleMetadata(
  bytes: Uint8Array,
  type: string,
  role: RoleKeys,
  /** Null: expiry is not checked (an intermediate root, TUF 5.3.6 checks only the final one). */
  now: Date | null,
  /** The role's name in messages (a delegated role has `_type` targets). */
  name = type,
): VerifiedRole {
  let doc: Json;
  try {
    doc = asObject(JSON.parse(new TextDecoder().decode(bytes)), type);
  } catch (err) {
    if (err instanceof CodedError) throw err;
    throw fail('TUF_METADATA_MALFORMED', `${type} metadata is not JSON`);
  }
  const signed = asObject(doc.signed, `${type}.signed`);
  if (signed._type !== type)
    throw fail('TUF_METADATA_MALFORMED', `${type} metadata has _type ${String(signed._type)}`);
  if (!Array.isArray(doc.signatures))
    throw fail('TUF_METADATA_MALFORMED', `${type}.signatures is not a list`);
  const message = encodeCanonical(signed);
  const signedBy: string[] = [];
  for (const keyid of role.keyids) {
    const sig = (doc.signatures as unknown[]).find(
      (s) => asObject(s, 'signature').keyid === keyid,
    ) as { sig?: unknown } | undefined;
    if (sig === undefined || typeof sig.sig !== 'string') continue;
    const key = publicKeyFromKeyDict(role.keys[keyid]);
    if (!key.verify(message, fromHex(sig.sig))) {
      throw fail(
        'TUF_SIGNATURE_INVALID',
        `the ${name} signature by key ${keyid.slice(0, 16)}… does not verify`,
      );
    }
    signedBy.push(keyid);
  }
  if (signedBy.length < role.threshold) {
    throw fail(
      'TUF_THRESHOLD_NOT_MET',
      `${name} has ${signedBy.length} valid signature(s) of the role's keys; its threshold is ${role.threshold}`,
    );
  }
  if (now !== null) checkExpiry(signed, now, name);
  return { signed, signedBy, threshold: role.threshold, sha256: sha256Hex(bytes) };
}

function checkExpiry(signed: Json, now: Date, name: string): void {
  const expires = typeof signed.expires === 'string' ? Date.parse(signed.expires) : NaN;
  if (!(expires > now.getTime()))
    throw fail('TUF_EXPIRED', `${name} expired at ${String(signed.expires)}`);
}

function rootRole(root: Json, name: string): RoleKeys {
  const roles = asObject(root.roles, 'root.roles');
  const role = asObject(roles[name], `root.roles.${name}`);
  return {
    keys: asObject(root.keys, 'root.keys'),
    keyids: role.keyids as string[],
    threshold: role.threshold as number,
  };
}

/** A file listed in `meta` must have the listed version, and length and hash when listed. */
function metaOf(parent: Json, file: string): { version: number; length?: number; sha256?: string } {
  const meta = asObject(asObject(parent.meta, 'meta')[file], `meta[${file}]`);
  const hashes = meta.hashes as { sha256?: string } | undefined;
  return {
    version: meta.version as number,
    ...(typeof meta.length === 'number' ? { length: meta.length } : {}),
    ...(hashes?.sha256 === undefined ? {} : { sha256: hashes.sha256 }),
  };
}

function checkListed(bytes: Uint8Array, file: string, m: ReturnType<typeof metaOf>): void {
  if (m.length !== undefined && bytes.length !== m.length) {
    throw fail(
      'TUF_LENGTH_MISMATCH',
      `${file} is ${bytes.length} bytes, its parent lists ${m.length}`,
    );
  }
  if (m.sha256 !== undefined && sha256Hex(bytes) !== m.sha256) {
    throw fail('TUF_HASH_MISMATCH', `${file} does not have the SHA-256 its parent lists`);
  }
}

/** One step of the root chain: root vN+1 as the client accepted it from vN. */
export interface RootUpdate {
  readonly version: number;
  readonly sha256: string;
  /** Root keys of the trusted (previous) root that signed it, and that root's threshold. */
  readonly byPrevious: { readonly signedBy: readonly string[]; readonly threshold: number };
  /** Its own root keys that signed it, and its own threshold. */
  readonly bySelf: { readonly signedBy: readonly string[]; readonly threshold: number };
}

/** At most this many root versions are followed in one visit (tuf-js's default is 256). */
export const MAX_ROOT_ROTATIONS = 256;

/**
 * TUF 5.3 "Update the root role": from the pinned root vN, fetch (N+1).root.json
 * until there is none; each must be signed by a threshold of vN's root keys
 * and a threshold of its own (5.3.4) and be version N+1 (5.3.5); then the final
 * root must not be expired (5.3.10). Returns the trusted root and each step.
 */
export async function updateRoot(
  repo: string,
  pinned: Json,
  now: Date,
  fetcher?: Fetcher,
): Promise<{ root: Json; updates: RootUpdate[] }> {
  let root = pinned;
  const updates: RootUpdate[] = [];
  // The repository's root.json names its newest version: a hint that saves
  // probing for a file that is not there (a 404 the browser would report),
  // not trusted — every version up to it is fetched and verified below, and
  // a server that hides newer roots could as well answer 404 for them.
  const newest = await newestRootHint(repo, fetcher);
  for (let i = 0; i < MAX_ROOT_ROTATIONS; i++) {
    const version = root.version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version))
      throw fail('TUF_METADATA_MALFORMED', 'root.version is not an integer');
    if (newest !== undefined && version >= newest) break;
    const next = version + 1;
    const url = `${repo}metadata/${next}.root.json`;
    const bytes =
      newest === undefined
        ? await fetchBytesIfPresent(url, fetcher)
        : await fetchBytes(url, fetcher);
    if (bytes === null) break; // 5.3.3: no newer root
    // 5.3.4: a threshold of the trusted root's root keys, then of the new root's own.
    const byPrevious = verifyRoleMetadata(
      bytes,
      'root',
      rootRole(root, 'root'),
      null,
      `root v${next} (by v${version}'s keys)`,
    );
    const bySelf = verifyRoleMetadata(
      bytes,
      'root',
      rootRole(byPrevious.signed, 'root'),
      null,
      `root v${next} (by its own keys)`,
    );
    // 5.3.5: exactly N+1 (a rollback or a skipped version is refused).
    if (bySelf.signed.version !== next) {
      throw fail(
        'TUF_ROOT_VERSION_MISMATCH',
        `${next}.root.json has version ${String(bySelf.signed.version)}`,
      );
    }
    updates.push({
      version: next,
      sha256: bySelf.sha256,
      byPrevious: { signedBy: byPrevious.signedBy, threshold: byPrevious.threshold },
      bySelf: { signedBy: bySelf.signedBy, threshold: bySelf.threshold },
    });
    root = bySelf.signed;
  }
  // 5.3.10: the final root must not be expired.
  checkExpiry(root, now, `root v${String(root.version)}`);
  return { root, updates };
}

async function newestRootHint(repo: string, fetcher?: Fetcher): Promise<number | undefined> {
  const bytes = await fetchBytesIfPresent(`${repo}metadata/root.json`, fetcher);
  if (bytes === null) return undefined;
  try {
    const v = (JSON.parse(new TextDecoder().decode(bytes)) as { signed?: { version?: unknown } })
      .signed?.version;
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
  } catch {
    return undefined; // not JSON: probe version by version instead
  }
}

export interface TufChain {
  /** The pinned root's version, and each root update followed from it (TUF 5.3). */
  readonly pinnedRootVersion: number;
  readonly rootUpdates: readonly RootUpdate[];
  /** The root the rest of the chain was checked against. */
  readonly root: Json;
  readonly timestamp: VerifiedRole;
  readonly snapshot: VerifiedRole;
  readonly targets: VerifiedRole;
  readonly releases: VerifiedRole;
  /** Key dicts of the releases role, by key id. */
  readonly releaseKeys: Readonly<Record<string, unknown>>;
}

/** Walks the chain from `pinned` (the `signed` of the pinned root), through its newer roots, to the delegated releases role. */
export async function verifyTufChain(
  repo: string,
  pinned: Json,
  now: Date,
  fetcher?: Fetcher,
): Promise<TufChain> {
  const { root, updates } = await updateRoot(repo, pinned, now, fetcher);
  const get = (file: string) => fetchBytes(`${repo}metadata/${file}`, fetcher);
  const timestamp = verifyRoleMetadata(
    await get('timestamp.json'),
    'timestamp',
    rootRole(root, 'timestamp'),
    now,
  );
  const snapMeta = metaOf(timestamp.signed, 'snapshot.json');
  const snapBytes = await get(`${snapMeta.version}.snapshot.json`);
  checkListed(snapBytes, 'snapshot.json', snapMeta);
  const snapshot = verifyRoleMetadata(snapBytes, 'snapshot', rootRole(root, 'snapshot'), now);
  const targetsMeta = metaOf(snapshot.signed, 'targets.json');
  const targetsBytes = await get(`${targetsMeta.version}.targets.json`);
  checkListed(targetsBytes, 'targets.json', targetsMeta);
  const targets = verifyRoleMetadata(targetsBytes, 'targets', rootRole(root, 'targets'), now);
  const delegations = asObject(targets.signed.delegations, 'targets.delegations');
  const role = (delegations.roles as Json[]).find((r) => r.name === 'releases');
  if (role === undefined)
    throw fail('TUF_METADATA_MALFORMED', 'targets delegates no releases role');
  const releaseKeys = asObject(delegations.keys, 'delegations.keys');
  const relMeta = metaOf(snapshot.signed, 'releases.json');
  const relBytes = await get(`${relMeta.version}.releases.json`);
  checkListed(relBytes, 'releases.json', relMeta);
  const releases = verifyRoleMetadata(
    relBytes,
    'targets',
    { keys: releaseKeys, keyids: role.keyids as string[], threshold: role.threshold as number },
    now,
    'releases',
  );
  return {
    pinnedRootVersion: pinned.version as number,
    rootUpdates: updates,
    root,
    timestamp,
    snapshot,
    targets,
    releases,
    releaseKeys,
  };
}

/** A TUF target as the releases role lists it. */
export interface TufTarget {
  readonly name: string;
  readonly length: number;
  readonly sha256: string;
  readonly custom: {
    readonly releaseId?: string;
    readonly kind?: string;
    readonly attestation?: string;
    readonly releaseLog?: { readonly origin: string; readonly index: string };
  };
}

export function targetsOf(role: VerifiedRole): TufTarget[] {
  const targets = asObject(role.signed.targets, 'targets');
  return Object.entries(targets).map(([name, t]) => {
    const v = asObject(t, `targets[${name}]`);
    return {
      name,
      length: v.length as number,
      sha256: (v.hashes as { sha256: string }).sha256,
      custom: v.custom ?? {},
    };
  });
}

/** A target's bytes (consistent snapshots: `<dir>/<sha256>.<basename>`), checked against its length and hash. */
export async function fetchTarget(
  repo: string,
  t: TufTarget,
  fetcher?: Fetcher,
): Promise<Uint8Array> {
  const slash = t.name.lastIndexOf('/');
  const path =
    slash < 0
      ? `${t.sha256}.${t.name}`
      : `${t.name.slice(0, slash)}/${t.sha256}.${t.name.slice(slash + 1)}`;
  const bytes = await fetchBytes(`${repo}targets/${path}`, fetcher);
  if (bytes.length !== t.length || sha256Hex(bytes) !== t.sha256) {
    throw fail(
      'TUF_TARGET_MISMATCH',
      `${t.name} does not match its length and SHA-256 in the releases metadata`,
    );
  }
  return bytes;
}
