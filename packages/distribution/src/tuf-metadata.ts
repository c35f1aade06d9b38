/**
 * Pure builders and parsers of the repository's TUF metadata, written with
 * `@tufjs/models` so that what we write is what tuf-js reads. No I/O, no
 * clock: time comes in as an argument.
 */
import { encodeCanonical, sha256Hex } from '@glasshouse/attest';
import {
  MetadataKind,
  MetaFile,
  Metadata,
  Root,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from '@tufjs/models';
import { DistributionError, type DistributionErrorCode } from './errors.js';
import { isPlainObject, parseJsonBytes } from './json.js';
import {
  parseTufSignature,
  tufKeyId,
  type AnyMetadata,
  type TufPublicKey,
  type TufSignature,
} from './tuf-keys.js';

/** The JSON values `@tufjs/models` stores (its own type is not exported). */
export type JsonObject = Parameters<typeof Root.fromJSON>[0];
type JsonValue = JsonObject[string];

/** A metadata file as JSON: `{signed, signatures}` (TUF 4.2). */
export interface TufMetadataDocument {
  signed: JsonObject;
  signatures: TufSignature[];
}

/** The version of the specification our metadata follows (`@tufjs/models`'s own). */
export const SPEC_VERSION = '1.0.31';

/** The delegated role whose keys are the vendor's and the supervisor's release keys. */
export const RELEASES_ROLE = 'releases';

/** Target names have at most this many `/`-separated segments. */
export const MAX_TARGET_SEGMENTS = 8;
const MAX_TARGET_SEGMENT_LENGTH = 128;
const MAX_TARGET_NAME_LENGTH = 512;
// A portable file name: no hidden files, no "." or "..", nothing a URL would escape.
const TARGET_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

const MAX_CUSTOM_BYTES = 64 * 1024;
const MAX_CUSTOM_DEPTH = 32;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Metadata files we read are at most this large (tuf-js's own limit for targets). */
export const MAX_METADATA_BYTES = 5_000_000;

/**
 * The `paths` of the releases delegation: `*`, `*\/*`, … one pattern per
 * depth. A PATHPATTERN wildcard does not match `/` (TUF 4.5, "paths"), and
 * tuf-js (like python-tuf) matches segment by segment, so `*` alone would
 * not cover `demo-rules/1.0.0/demo-rules-1.0.0.tar`.
 */
export const RELEASES_PATHS: readonly string[] = Array.from(
  { length: MAX_TARGET_SEGMENTS },
  (_, i) => Array.from({ length: i + 1 }, () => '*').join('/'),
);

/** A role of the root metadata and the keys that may sign for it. */
export interface RoleKeys {
  keys: readonly TufPublicKey[];
  threshold: number;
}

/** TUF 4.2 date-time: "YYYY-MM-DDTHH:MM:SSZ", whole seconds, UTC. */
export function tufDateTime(at: Date): string {
  if (Number.isNaN(at.getTime())) {
    throw new DistributionError('REPO_OPTION_INVALID', 'not a valid date');
  }
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `now` plus `seconds`, as a TUF date-time. */
export function expiresAfter(now: Date, seconds: number): string {
  return tufDateTime(new Date(now.getTime() + seconds * 1000));
}

/** True when metadata expiring at `expires` is expired at `now` (TUF 5.4.4: expiry must be after now). */
export function isExpiredAt(expires: string, now: Date): boolean {
  return now.getTime() >= new Date(expires).getTime();
}

/**
 * Root metadata (TUF 4.3) with consistent snapshots on (TUF 6.2.1: "the root
 * metadata MUST write the boolean CONSISTENT_SNAPSHOT ... set to the true value").
 */
export function buildRoot(options: {
  version: number;
  expires: string;
  roles: Record<'root' | 'targets' | 'snapshot' | 'timestamp', RoleKeys>;
}): Metadata<Root> {
  const keys: Record<string, JsonValue> = {};
  const roles: Record<string, JsonValue> = {};
  for (const [name, role] of Object.entries(options.roles)) {
    const keyids = role.keys.map((key) => {
      const keyid = tufKeyId(key);
      keys[keyid] = keyJson(key);
      return keyid;
    });
    roles[name] = { keyids, threshold: role.threshold };
  }
  const signed = Root.fromJSON({
    _type: MetadataKind.Root,
    spec_version: SPEC_VERSION,
    version: options.version,
    expires: options.expires,
    consistent_snapshot: true,
    keys,
    roles,
  });
  return new Metadata(signed);
}

/**
 * Top-level targets metadata (TUF 4.5) that lists no target itself and
 * delegates every path to the `releases` role. The delegation is terminating
 * (TUF 5.6.7.2.1): once `releases` has been consulted, no later delegation is,
 * so only the two-party role can ever speak for a release name.
 */
export function buildTopLevelTargets(options: {
  version: number;
  expires: string;
  releases: RoleKeys;
}): Metadata<Targets> {
  const keys: Record<string, JsonValue> = {};
  const keyids = options.releases.keys.map((key) => {
    const keyid = tufKeyId(key);
    keys[keyid] = keyJson(key);
    return keyid;
  });
  const signed = Targets.fromJSON({
    _type: MetadataKind.Targets,
    spec_version: SPEC_VERSION,
    version: options.version,
    expires: options.expires,
    targets: {},
    delegations: {
      keys,
      roles: [
        {
          name: RELEASES_ROLE,
          keyids,
          threshold: options.releases.threshold,
          terminating: true,
          paths: [...RELEASES_PATHS],
        },
      ],
    },
  });
  return new Metadata(signed);
}

/** The delegated `releases` targets metadata (TUF 4.5, same format as targets.json). */
export function buildReleases(options: {
  version: number;
  expires: string;
  targets: readonly TargetFile[];
}): Metadata<Targets> {
  const targets: Record<string, TargetFile> = {};
  for (const target of options.targets) targets[target.path] = target;
  return new Metadata(
    new Targets({
      specVersion: SPEC_VERSION,
      version: options.version,
      expires: options.expires,
      targets,
    }),
  );
}

/** Snapshot metadata (TUF 4.4) listing each targets metadata file by version, length and hash. */
export function buildSnapshot(options: {
  version: number;
  expires: string;
  meta: Readonly<Record<string, MetaFile>>;
}): Metadata<Snapshot> {
  return new Metadata(
    new Snapshot({
      specVersion: SPEC_VERSION,
      version: options.version,
      expires: options.expires,
      meta: { ...options.meta },
    }),
  );
}

/** Timestamp metadata (TUF 4.6) describing exactly the snapshot file `snapshotBytes`. */
export function buildTimestamp(options: {
  version: number;
  expires: string;
  snapshotVersion: number;
  snapshotBytes: Uint8Array;
}): Metadata<Timestamp> {
  return new Metadata(
    new Timestamp({
      specVersion: SPEC_VERSION,
      version: options.version,
      expires: options.expires,
      snapshotMeta: metaFileFor(options.snapshotVersion, options.snapshotBytes),
    }),
  );
}

/** METAFILES entry (TUF 4.4): version, length and SHA-256 of the file's exact bytes. */
export function metaFileFor(version: number, bytes: Uint8Array): MetaFile {
  return new MetaFile({ version, length: bytes.length, hashes: { sha256: sha256Hex(bytes) } });
}

/** The bytes written to disk (and hashed by snapshot and timestamp). */
export function serializeMetadata(metadata: AnyMetadata): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(metadata.toJSON(), null, 2)}\n`);
}

/** The JSON document of `metadata`, as a draft is shown to a signer. */
export function metadataDocument(metadata: AnyMetadata): TufMetadataDocument {
  const json = metadata.toJSON();
  return {
    signed: json.signed as JsonObject,
    signatures: Object.values(metadata.signatures).map((s) => ({ keyid: s.keyID, sig: s.sig })),
  };
}

/** Parses metadata JSON bytes of the expected kind; failures throw `code`. */
export function parseMetadataBytes<K extends MetadataKind>(
  bytes: Uint8Array,
  kind: K,
  code: DistributionErrorCode,
  what: string,
): MetadataOf<K> {
  return parseMetadataJson(parseJsonBytes(bytes, MAX_METADATA_BYTES, code, what), kind, code, what);
}

/** The metadata class for each kind. */
export type MetadataOf<K extends MetadataKind> = K extends MetadataKind.Root
  ? Metadata<Root>
  : K extends MetadataKind.Targets
    ? Metadata<Targets>
    : K extends MetadataKind.Snapshot
      ? Metadata<Snapshot>
      : Metadata<Timestamp>;

/** Parses a metadata JSON value of the expected kind; failures throw `code`. */
export function parseMetadataJson<K extends MetadataKind>(
  value: unknown,
  kind: K,
  code: DistributionErrorCode,
  what: string,
): MetadataOf<K> {
  if (!isPlainObject(value) || !isPlainObject(value.signed) || !Array.isArray(value.signatures)) {
    throw new DistributionError(code, `${what} is not {signed, signatures}`);
  }
  for (const signature of value.signatures) {
    try {
      parseTufSignature(signature);
    } catch (err) {
      throw new DistributionError(code, `${what} carries a malformed signature`, { cause: err });
    }
  }
  if (value.signed._type !== kind) {
    throw new DistributionError(code, `${what} is not ${kind} metadata`, {
      evidence: { type: value.signed._type },
    });
  }
  try {
    // Each overload of Metadata.fromJSON matches one kind; K ties them together.
    return Metadata.fromJSON(kind as MetadataKind.Root, value as JsonObject) as MetadataOf<K>;
  } catch (err) {
    throw new DistributionError(code, `${what} is not valid ${kind} metadata`, { cause: err });
  }
}

/** Checks a target name (TUF 4.5 TARGETPATH, restricted to portable names). */
export function validateTargetName(name: string): void {
  const segments = name.split('/');
  const bad = (reason: string): DistributionError =>
    new DistributionError('TARGET_NAME_INVALID', `target name ${JSON.stringify(name)}: ${reason}`, {
      evidence: { name },
    });
  if (name.length === 0 || name.length > MAX_TARGET_NAME_LENGTH) {
    throw bad(`must have 1 to ${MAX_TARGET_NAME_LENGTH} characters`);
  }
  // TUF 4.5 recommends "/" separators and no leading separator; each segment is one PATHPATTERN level.
  if (segments.length > MAX_TARGET_SEGMENTS) {
    throw bad(`at most ${MAX_TARGET_SEGMENTS} segments (the releases delegation's paths)`);
  }
  for (const segment of segments) {
    if (segment.length > MAX_TARGET_SEGMENT_LENGTH || !TARGET_SEGMENT.test(segment)) {
      throw bad(`segment ${JSON.stringify(segment)} is not a portable name`);
    }
  }
}

/**
 * Checks a target's `custom` (TUF 4.5 CUSTOM: an object): JSON only, integers
 * only (canonical JSON has no floats), printable-ASCII keys (so every
 * canonical JSON implementation orders them alike), at most 64 KiB.
 */
export function validateTargetCustom(custom: unknown): asserts custom is JsonObject {
  const bad = (reason: string, path: string): DistributionError =>
    new DistributionError('TARGET_CUSTOM_INVALID', `target custom: ${reason}`, {
      evidence: { path },
    });
  const walk = (value: unknown, path: string, depth: number): void => {
    if (depth > MAX_CUSTOM_DEPTH) throw bad('nested too deeply', path);
    if (value === null || typeof value === 'boolean' || typeof value === 'string') return;
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw bad('numbers must be safe integers', path);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item: unknown, i) => {
        walk(item, `${path}[${i}]`, depth + 1);
      });
      return;
    }
    if (!isPlainObject(value)) throw bad('not JSON', path);
    for (const [key, item] of Object.entries(value)) {
      if (!PRINTABLE_ASCII.test(key)) throw bad('keys must be printable ASCII', path);
      walk(item, `${path}.${key}`, depth + 1);
    }
  };
  if (!isPlainObject(custom)) throw bad('must be an object', '$');
  walk(custom, '$', 0);
  let size: number;
  try {
    size = encodeCanonical(custom).length;
  } catch (err) {
    throw new DistributionError('TARGET_CUSTOM_INVALID', 'target custom: no canonical JSON form', {
      cause: err,
    });
  }
  if (size > MAX_CUSTOM_BYTES) throw bad(`larger than ${MAX_CUSTOM_BYTES} bytes`, '$');
}

/** The TARGETS entry (TUF 4.5) for `bytes` named `name`: length, SHA-256, custom. */
export function targetFileFor(name: string, bytes: Uint8Array, custom?: JsonObject): TargetFile {
  validateTargetName(name);
  if (custom !== undefined) validateTargetCustom(custom);
  return new TargetFile({
    path: name,
    length: bytes.length,
    // Only SHA-256: tuf-js names the consistent file after the first hash listed.
    hashes: { sha256: sha256Hex(bytes) },
    ...(custom === undefined ? {} : { unrecognizedFields: { custom } }),
  });
}

/**
 * Where a target is stored under consistent snapshots: TUF 5.7.3 "HASH.FILENAME.EXT",
 * with the hash prefixed to the last segment only — tuf-js fetches
 * `targetBaseUrl/DIR/HASH.BASENAME` for a target path `DIR/BASENAME`.
 */
export function consistentTargetPath(name: string, sha256: string): string {
  const slash = name.lastIndexOf('/');
  return slash < 0
    ? `${sha256}.${name}`
    : `${name.slice(0, slash)}/${sha256}.${name.slice(slash + 1)}`;
}

function keyJson(key: TufPublicKey): JsonObject {
  return { keytype: key.keytype, scheme: key.scheme, keyval: { public: key.keyval.public } };
}
