/**
 * The repository's pure rules: option checks, signature counting against a
 * role's keys and threshold (TUF 5.3.4, 5.6.3), which targets scheme a root
 * runs, and the supervisor's signature over a draft. No I/O, no clock
 * (time comes in as an argument).
 */
import { encodeCanonical } from '@glasshouse/attest';
import { Metadata, MetadataKind, Targets, type Root } from '@tufjs/models';
import { DistributionError } from './errors.js';
import { isPlainObject } from './json.js';
import {
  parseTufPublicKey,
  signMetadata,
  verifyMetadataSignature,
  type AnyMetadata,
  type TufPublicKey,
  type TufSignature,
  type TufSigningKey,
} from './tuf-keys.js';
import { isExpiredAt, parseMetadataJson, tufDateTime } from './tuf-metadata.js';
import { type RepoExpiries, type TargetsScheme, type ThresholdCount } from './tuf-repo.js';

export function checkExpiries(
  expiries: RepoExpiries,
  code: 'REPO_OPTION_INVALID' | 'REPO_CORRUPT' = 'REPO_OPTION_INVALID',
): RepoExpiries {
  for (const [role, seconds] of Object.entries(expiries)) {
    if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds <= 0) {
      throw new DistributionError(
        code,
        `expiry of ${role} must be a positive whole number of seconds`,
        {
          evidence: { role, seconds },
        },
      );
    }
  }
  return expiries;
}

export function checkThreshold(threshold: number, keys: number): void {
  // TUF 4.3 THRESHOLD: a number of the role's keys, so 1..keys.
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > keys) {
    throw new DistributionError('REPO_OPTION_INVALID', `root threshold must be 1 to ${keys}`, {
      evidence: { threshold },
    });
  }
}

export function assertNotExpired(
  draft: Metadata<Root> | Metadata<Targets>,
  now: Date,
  what: string,
): void {
  // TUF 5.3.10 / 5.6.5: clients refuse expired metadata, so publishing it would be pointless.
  if (isExpiredAt(draft.signed.expires, now)) {
    throw new DistributionError('DRAFT_EXPIRED', `the ${what} expired at ${draft.signed.expires}`, {
      evidence: { expires: draft.signed.expires, now: tufDateTime(now) },
    });
  }
}

/** Valid signatures on `metadata` by keys of `role` in `delegator` (root roles). */
export function countRoleSignatures(
  metadata: AnyMetadata,
  delegator: Root,
  role: string,
): ThresholdCount {
  const r = delegator.roles[role];
  if (r === undefined) throw new DistributionError('REPO_CORRUPT', `root has no ${role} role`);
  return countSignatures(metadata, delegator.keys, r.keyIDs, r.threshold);
}

/** TUF 5.3.4 / 5.6.3: distinct role keys whose signature over `signed` verifies. */
export function countSignatures(
  metadata: AnyMetadata,
  keys: Root['keys'],
  keyids: readonly string[],
  threshold: number,
): ThresholdCount {
  let signed = 0;
  for (const keyid of new Set(keyids)) {
    const signature = metadata.signatures[keyid];
    const key = keys[keyid];
    if (signature === undefined || key === undefined) continue;
    const publicKey = publicKeyFromModel(key.toJSON());
    if (verifyMetadataSignature(metadata, { keyid, sig: signature.sig }, publicKey)) signed += 1;
  }
  return { signed, threshold };
}

export function roleKey(
  root: Root,
  keyids: readonly string[] | undefined,
  keyid: string,
): TufPublicKey | undefined {
  if (keyids?.includes(keyid) !== true) return undefined;
  return publicKeyOf(root, keyid);
}

export function publicKeyOf(root: Root, keyid: string): TufPublicKey | undefined {
  const key = root.keys[keyid];
  return key === undefined ? undefined : publicKeyFromModel(key.toJSON());
}

export function requirePublicKey(root: Root, keyid: string): TufPublicKey {
  const key = publicKeyOf(root, keyid);
  if (key === undefined) throw new DistributionError('REPO_CORRUPT', `root lists no key ${keyid}`);
  return key;
}

/** A key object from metadata, held to the same strict form as outside keys. */
export function publicKeyFromModel(json: unknown): TufPublicKey {
  try {
    return parseTufPublicKey(json);
  } catch (err) {
    throw new DistributionError('REPO_CORRUPT', 'metadata lists a key we do not use', {
      cause: err,
    });
  }
}

/** Who signs targets under `root`: both organisations when the role needs two keys. */
export function targetsSchemeOf(root: Root | undefined): TargetsScheme {
  const role = root?.roles.targets;
  return role !== undefined && role.threshold >= 2 && new Set(role.keyIDs).size >= 2
    ? 'two-party'
    : 'vendor-only';
}

/** TUF 5.6.3: `targets` is signed by a threshold of the targets role of every root in `roots`. */
export function targetsAccepted(targets: Metadata<Targets>, roots: readonly Root[]): boolean {
  return roots.every((root) => {
    const count = countRoleSignatures(targets, root, 'targets');
    return count.signed >= count.threshold;
  });
}

/**
 * The supervisor's side: a signature by `key` over a draft's `signed`
 * (TUF 4.2). `draft` is the draft document (`{signed, signatures}`) or its
 * `signed` part. The draft is parsed first, and refused (`DRAFT_MALFORMED`)
 * unless it is root or targets metadata whose parsed form is exactly what
 * was shown, so the bytes signed are the bytes that were reviewed.
 */
export function signDraft(draft: unknown, key: TufSigningKey): TufSignature {
  const document =
    isPlainObject(draft) && 'signed' in draft ? draft : { signed: draft, signatures: [] };
  const signed = isPlainObject(document) ? document.signed : undefined;
  const type = isPlainObject(signed) ? signed._type : undefined;
  let metadata: AnyMetadata;
  if (type === MetadataKind.Root) {
    metadata = parseMetadataJson(document, MetadataKind.Root, 'DRAFT_MALFORMED', 'draft');
  } else if (type === MetadataKind.Targets) {
    metadata = parseMetadataJson(document, MetadataKind.Targets, 'DRAFT_MALFORMED', 'draft');
  } else {
    throw new DistributionError('DRAFT_MALFORMED', 'a draft is root or targets metadata', {
      evidence: { type },
    });
  }
  let same: boolean;
  try {
    same = Buffer.from(encodeCanonical(metadata.signed.toJSON())).equals(encodeCanonical(signed));
  } catch (err) {
    throw new DistributionError('DRAFT_MALFORMED', 'the draft has no canonical JSON form', {
      cause: err,
    });
  }
  if (!same) {
    throw new DistributionError('DRAFT_MALFORMED', 'the draft does not parse to what it shows');
  }
  return signMetadata(metadata, key);
}
