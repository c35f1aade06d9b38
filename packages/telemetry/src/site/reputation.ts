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
  // The body every client sends, read without building a JSON value; anything
  // else (other spacing aside) goes through the general parser and its errors.
  return scanPlainLookupBody(bytes) ?? parseLookupJson(bytes);
}

const enum Byte {
  Quote = 0x22,
  Comma = 0x2c,
  Colon = 0x3a,
  Open = 0x5b,
  Close = 0x5d,
  OpenObject = 0x7b,
  CloseObject = 0x7d,
}

/** 1 for the bytes of 64-digit lowercase hex, 2 for JSON whitespace (RFC 8259 §2). */
const CLASS = new Uint8Array(256);
for (const c of '0123456789abcdef') CLASS[c.charCodeAt(0)] = 1;
for (const c of ' \t\n\r') CLASS[c.charCodeAt(0)] = 2;
const KEY = Buffer.from('"sha256"', 'latin1');

/**
 * `{"sha256": ["<64 lowercase hex>", …]}` with any JSON whitespace between
 * tokens: the hashes, or undefined for anything else (escapes, other keys,
 * invalid hashes, too many), which the general parser then answers. Every
 * byte it accepts is ASCII, so the UTF-8 check of the general path holds.
 */
export function scanPlainLookupBody(bytes: Uint8Array): string[] | undefined {
  const b = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const end = b.length;
  let i = 0;
  const skip = (): void => {
    while (i < end && CLASS[b[i] ?? 0] === 2) i += 1;
  };
  const take = (byte: number): boolean => {
    skip();
    if (b[i] !== byte) return false;
    i += 1;
    return true;
  };
  if (!take(Byte.OpenObject)) return undefined;
  skip();
  const keyEnd = i + KEY.length;
  if (keyEnd > end || b.compare(KEY, 0, KEY.length, i, keyEnd) !== 0) return undefined;
  i = keyEnd;
  if (!take(Byte.Colon) || !take(Byte.Open)) return undefined;
  const hashes: string[] = [];
  skip();
  if (b[i] === Byte.Close) {
    i += 1;
  } else {
    for (;;) {
      if (hashes.length === MAX_LOOKUP_HASHES || !take(Byte.Quote)) return undefined;
      const start = i;
      if (start + 65 > end) return undefined;
      for (; i < start + 64; i++) if (CLASS[b[i] ?? 0] !== 1) return undefined;
      if (b[i] !== Byte.Quote) return undefined;
      hashes.push(b.toString('latin1', start, i));
      i += 1;
      if (take(Byte.Comma)) continue;
      if (take(Byte.Close)) break;
      return undefined;
    }
  }
  if (!take(Byte.CloseObject)) return undefined;
  skip();
  return i === end ? hashes : undefined;
}

function parseLookupJson(bytes: Uint8Array): string[] {
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
