/**
 * The reputation rule and the parsers of the reputation API's inputs (pure).
 * A vendor verdict list (published through the supervised release channel)
 * is curated and wins; otherwise the site's own telemetry decides: a hash
 * some agent reported as malicious is known-bad, anything else is unknown
 * (one endpoint's "clean" is not evidence that a file is good).
 */
import type { Reputation, ReputationSource } from '@glasshouse/residency';
import { TelemetryError } from '../errors.js';
import type { HashFacts } from './storage.js';

export const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Most hashes in one `POST /reputation` (DATA-HALF contract). */
export const MAX_LOOKUP_HASHES = 10_000;
/** 10,000 quoted hashes with separators fit comfortably. */
export const MAX_LOOKUP_BODY_BYTES = 1024 * 1024;

export function reputationOf(f: HashFacts): Reputation {
  const source: ReputationSource[] = [];
  if (f.reports > 0) source.push('telemetry');
  if (f.listVerdict !== null) source.push('verdict-list');
  const verdict = f.listVerdict ?? (f.malicious > 0 ? 'known-bad' : 'unknown');
  return {
    sha256: f.sha256,
    verdict,
    firstSeen: f.firstSeen,
    detections: f.malicious + f.suspicious,
    source,
  };
}

/** Throws HASH_INVALID unless `value` is 64 lowercase hex. */
export function checkHash(value: unknown, evidence: Record<string, unknown> = {}): string {
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) {
    throw new TelemetryError('HASH_INVALID', 'a SHA-256 is 64 lowercase hex characters', {
      evidence: {
        ...evidence,
        value: typeof value === 'string' ? value.slice(0, 80) : typeof value,
      },
    });
  }
  return value;
}

/** Parses `{ "sha256": [ … ≤ 10,000 ] }` (the batch lookup body). */
export function parseLookupBody(bytes: Uint8Array): string[] {
  if (bytes.length > MAX_LOOKUP_BODY_BYTES) {
    throw new TelemetryError(
      'TOO_MANY_HASHES',
      `a lookup body is at most ${MAX_LOOKUP_BODY_BYTES} bytes`,
    );
  }
  const value = parseJson(bytes);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TelemetryError('BAD_REQUEST', 'the body is not {"sha256": [...]}');
  }
  const keys = Object.keys(value);
  const list = (value as { sha256?: unknown }).sha256;
  if (keys.length !== 1 || !Array.isArray(list)) {
    throw new TelemetryError('BAD_REQUEST', 'the body is not {"sha256": [...]}');
  }
  if (list.length > MAX_LOOKUP_HASHES) {
    throw new TelemetryError('TOO_MANY_HASHES', `at most ${MAX_LOOKUP_HASHES} hashes per lookup`, {
      evidence: { hashes: list.length },
    });
  }
  return list.map((h, i) => checkHash(h, { position: i }));
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (cause) {
    throw new TelemetryError('BAD_REQUEST', 'the body is not UTF-8 JSON', { cause });
  }
}
