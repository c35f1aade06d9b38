/**
 * The release log: one entry per published release in a transparency log
 * the supervisor witnesses, so that a release shown to one customer is
 * visible to all. An entry commits to the targets (name and SHA-256), the
 * version, and the digests of the vendor's provenance and the supervisor's
 * VSA and approval.
 *
 * Entry bytes: the canonical JSON (compact, keys sorted) of
 *
 *   {"schema": "glasshouse.release-log/v1", "releaseId", "name", "version",
 *    "targets": [{"name", "sha256"}], "provenance": {"sha256"},
 *    "vsa": {"sha256"}, "approval": {"sha256"}}
 *
 * The supervisor's monitor checks every entry (distribution's
 * `releaseLogChecker`): it must name a release the supervisor approved, with
 * exactly the artifacts and attestations it approved, else the monitor raises
 * an alert.
 */
import { canonicalString } from '@glasshouse/attest';
import { ReleaseFormatError } from './errors.js';

export const RELEASE_LOG_SCHEMA = 'glasshouse.release-log/v1';
/** c2sp.org/tlog-tiles: an entry bundle holds entries of at most 65,535 bytes. */
export const MAX_RELEASE_LOG_ENTRY_BYTES = 65_535;
/** The file name of a release's inclusion receipt (c2sp.org/tlog-proof) under `<name>/<version>/`. */
export const RELEASE_LOG_RECEIPT_NAME = 'release-log.tlog-proof';

const HEX_64 = /^[0-9a-f]{64}$/;
const FIELDS = [
  'schema',
  'releaseId',
  'name',
  'version',
  'targets',
  'provenance',
  'vsa',
  'approval',
] as const;

export interface ReleaseLogEntry {
  readonly schema: typeof RELEASE_LOG_SCHEMA;
  readonly releaseId: string;
  readonly name: string;
  readonly version: string;
  /** TUF target names and the SHA-256 of their bytes, sorted by name. */
  readonly targets: readonly { readonly name: string; readonly sha256: string }[];
  readonly provenance: { readonly sha256: string };
  readonly vsa: { readonly sha256: string };
  readonly approval: { readonly sha256: string };
}

/** The entry's bytes (canonical JSON); RELEASE_LOG_ENTRY_INVALID when it would not fit a log entry. */
export function encodeReleaseLogEntry(entry: Omit<ReleaseLogEntry, 'schema'>): Uint8Array {
  const full: ReleaseLogEntry = {
    schema: RELEASE_LOG_SCHEMA,
    releaseId: entry.releaseId,
    name: entry.name,
    version: entry.version,
    targets: [...entry.targets]
      .map((t) => ({ name: t.name, sha256: t.sha256 }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    provenance: { sha256: entry.provenance.sha256 },
    vsa: { sha256: entry.vsa.sha256 },
    approval: { sha256: entry.approval.sha256 },
  };
  checkEntry(full);
  const bytes = new TextEncoder().encode(canonicalString(full));
  if (bytes.length > MAX_RELEASE_LOG_ENTRY_BYTES) {
    throw new ReleaseFormatError('RELEASE_LOG_ENTRY_INVALID', 'the entry is over 65,535 bytes');
  }
  return bytes;
}

/**
 * Parses an entry strictly: UTF-8, canonical JSON (the bytes must be exactly
 * what `encodeReleaseLogEntry` writes, so one release has one encoding),
 * exactly the fields above. RELEASE_LOG_ENTRY_INVALID otherwise.
 */
export function parseReleaseLogEntry(bytes: Uint8Array): ReleaseLogEntry {
  const invalid = (message: string, cause?: unknown): never => {
    throw new ReleaseFormatError(
      'RELEASE_LOG_ENTRY_INVALID',
      message,
      cause === undefined ? {} : { cause },
    );
  };
  if (bytes.length > MAX_RELEASE_LOG_ENTRY_BYTES) invalid('the entry is over 65,535 bytes');
  let value: unknown;
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    return invalid('the entry is not UTF-8', cause);
  }
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return invalid('the entry is UTF-8 text but not JSON', cause);
  }
  checkEntry(value);
  if (canonicalString(value) !== text) invalid('the entry is not in canonical form');
  return value;
}

function checkEntry(value: unknown): asserts value is ReleaseLogEntry {
  const invalid = (message: string): never => {
    throw new ReleaseFormatError('RELEASE_LOG_ENTRY_INVALID', message);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid('the entry is not an object');
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!(FIELDS as readonly string[]).includes(key)) invalid(`unknown field ${key}`);
  }
  if (v.schema !== RELEASE_LOG_SCHEMA) invalid(`schema is not ${RELEASE_LOG_SCHEMA}`);
  for (const key of ['releaseId', 'name', 'version'] as const) {
    const s = v[key];
    if (typeof s !== 'string' || s === '' || s.length > 1024) invalid(`${key} is not a string`);
  }
  for (const key of ['provenance', 'vsa', 'approval'] as const) {
    const d = v[key] as { sha256?: unknown } | null | undefined;
    if (
      typeof d !== 'object' ||
      d === null ||
      Object.keys(d).length !== 1 ||
      typeof d.sha256 !== 'string' ||
      !HEX_64.test(d.sha256)
    ) {
      invalid(`${key} is not {sha256}`);
    }
  }
  if (!Array.isArray(v.targets) || v.targets.length === 0 || v.targets.length > 1000) {
    return invalid('targets is not a non-empty list');
  }
  const names = new Set<string>();
  for (const t of v.targets as unknown[]) {
    const target = t as { name?: unknown; sha256?: unknown } | null;
    if (
      typeof target !== 'object' ||
      target === null ||
      Object.keys(target).length !== 2 ||
      typeof target.name !== 'string' ||
      target.name === '' ||
      typeof target.sha256 !== 'string' ||
      !HEX_64.test(target.sha256)
    ) {
      invalid('a target is not {name, sha256}');
    }
    const name = (target as { name: string }).name;
    if (names.has(name)) invalid('a target is listed twice');
    names.add(name);
  }
}
