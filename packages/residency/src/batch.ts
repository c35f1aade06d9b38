/**
 * The telemetry batch (agent → router → site): clear non-personal fields
 * for processing, personal fields sealed (see seal.ts). The router forwards
 * the exact bytes; `batchDigest` of those bytes names the batch everywhere.
 */
import { canonicalJson, parseJsonBytes, sha256Digest, toHex, utf8 } from './bytes.js';
import { base64Field, exactObject, matching, preview, rfc3339, type Fail } from './check.js';
import { ResidencyError } from './errors.js';
import { CUSTOMER_PSEUDONYM } from './keys.js';
import { REGION_CODE } from './regions.js';

export const BATCH_SCHEMA = 'glasshouse.telemetry-batch/v1';
/** Size cap of a batch's bytes. */
export const MAX_BATCH_BYTES = 1024 * 1024;
export const MAX_BATCH_EVENTS = 1000;
export const VERDICTS = ['malicious', 'suspicious', 'clean', 'unknown'] as const;
export type Verdict = (typeof VERDICTS)[number];
/** HPKE enc (32, X25519) ‖ ciphertext of a 32-byte key with a 16-byte tag (RFC 9180 §6.1). */
export const SEALED_KEY_BYTES = 32 + 32 + 16;
/** 12-byte nonce ‖ AES-256-GCM ciphertext with its 16-byte tag: at least 28 bytes. */
export const MIN_PERSONAL_BYTES = 12 + 16;
export const MAX_PERSONAL_BYTES = 8 * 1024;

export const BATCH_ID = /^[0-9a-f]{32}$/;
export const KEY_RELEASE_ID = /^[0-9a-f]{16}$/;
export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const PRODUCT_VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;
/** A YARA rule name, optionally namespaced (`ns:rule`). */
export const RULE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,255}$/;
/** RFC 3339 UTC truncated to the hour. */
export const HOUR = /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/;

export interface TelemetryEvent {
  /** The file's SHA-256, 64 lowercase hex. */
  readonly sha256: string;
  readonly rule: string | null;
  readonly verdict: Verdict;
  /** RFC 3339 UTC truncated to the hour. */
  readonly timeBucket: string;
  /** Base64: 12-byte nonce ‖ AES-256-GCM(dataKey, canonicalJson(personal fields)). */
  readonly personal: string;
}

export interface TelemetryBatch {
  readonly schema: typeof BATCH_SCHEMA;
  /** 32 hex, random per batch. */
  readonly batchId: string;
  readonly customer: string;
  readonly region: string;
  readonly productVersion: string;
  readonly createdAt: string;
  /** Base64 of HPKE enc ‖ ciphertext of the batch's data key (RFC 9180 §6.1 single-shot). */
  readonly sealedKey: string;
  /** First 16 hex of SHA-256 of the key-release public key the key is sealed to. */
  readonly keyRelease: string;
  readonly events: readonly TelemetryEvent[];
}

const invalid: Fail = (what, evidence) => {
  throw new ResidencyError(
    'BATCH_INVALID',
    `telemetry batch: ${what}`,
    evidence ? { evidence } : {},
  );
};

function batchJson(b: TelemetryBatch): Parameters<typeof canonicalJson>[0] {
  return {
    schema: b.schema,
    batchId: b.batchId,
    customer: b.customer,
    region: b.region,
    productVersion: b.productVersion,
    createdAt: b.createdAt,
    sealedKey: b.sealedKey,
    keyRelease: b.keyRelease,
    events: b.events.map((e) => ({
      sha256: e.sha256,
      rule: e.rule,
      verdict: e.verdict,
      timeBucket: e.timeBucket,
      personal: e.personal,
    })),
  };
}

/** The batch's bytes: canonical JSON + '\n'. Checks it first, caps included. */
export function encodeBatch(batch: TelemetryBatch): Uint8Array {
  // Checked first: strings and safe integers only, so plain JSON.stringify is canonical here.
  const checked = checkBatchValue(batch);
  const bytes = utf8(`${JSON.stringify(batchJson(checked))}\n`);
  checkSize(bytes);
  return bytes;
}

function checkSize(bytes: Uint8Array): void {
  if (bytes.length > MAX_BATCH_BYTES) {
    throw new ResidencyError('BATCH_TOO_LARGE', 'the batch is over the size limit', {
      evidence: { size: bytes.length, max: MAX_BATCH_BYTES },
    });
  }
}

/**
 * Parses batch bytes: size cap (BATCH_TOO_LARGE, also over 1,000 events),
 * schema and every field (BATCH_INVALID), canonical bytes.
 */
export function parseBatch(bytes: Uint8Array): TelemetryBatch {
  checkSize(bytes);
  const { value, text } = parseJsonBytes(
    bytes,
    (cause) => new ResidencyError('BATCH_INVALID', 'telemetry batch: not UTF-8 JSON', { cause }),
  );
  const batch = checkBatchValue(value);
  // One encoding per batch: the digest (idempotency key, ingest-log entry) names the content.
  // Every value was checked above (strings and safe integers only), so plain JSON.stringify is canonical here.
  if (text !== `${JSON.stringify(batchJson(batch))}\n`) {
    invalid('not in canonical form');
  }
  return batch;
}

/**
 * `sha256:<hex>` of the exact bytes sent. `sha256`: their SHA-256 when the
 * caller has it already (a signed Content-Digest checked it), so a large
 * batch is not hashed again.
 */
export function batchDigest(bytes: Uint8Array, sha256?: Uint8Array): string {
  return sha256 === undefined ? sha256Digest(bytes) : `sha256:${toHex(sha256)}`;
}

function checkBatchValue(value: unknown): TelemetryBatch {
  const v = exactObject(
    value,
    'the batch',
    [
      'schema',
      'batchId',
      'customer',
      'region',
      'productVersion',
      'createdAt',
      'sealedKey',
      'keyRelease',
      'events',
    ],
    [],
    invalid,
  );
  if (v.schema !== BATCH_SCHEMA)
    invalid(`schema is not ${BATCH_SCHEMA}`, { schema: preview(v.schema) });
  const batchId = matching(v.batchId, BATCH_ID, 'batchId', invalid);
  const customer = matching(v.customer, CUSTOMER_PSEUDONYM, 'customer', invalid);
  const region = matching(v.region, REGION_CODE, 'region', invalid);
  const productVersion = matching(v.productVersion, PRODUCT_VERSION, 'productVersion', invalid);
  const createdAt = rfc3339(v.createdAt, 'createdAt', invalid);
  base64Field(v.sealedKey, 'sealedKey', SEALED_KEY_BYTES, SEALED_KEY_BYTES, invalid);
  const keyRelease = matching(v.keyRelease, KEY_RELEASE_ID, 'keyRelease', invalid);
  if (!Array.isArray(v.events)) return invalid('events is not an array');
  if (v.events.length > MAX_BATCH_EVENTS) {
    throw new ResidencyError('BATCH_TOO_LARGE', 'the batch has too many events', {
      evidence: { events: v.events.length, max: MAX_BATCH_EVENTS },
    });
  }
  if (v.events.length === 0) invalid('events is empty');
  const events = (v.events as unknown[]).map((e, i) => checkEvent(e, i));
  return {
    schema: BATCH_SCHEMA,
    batchId,
    customer,
    region,
    productVersion,
    createdAt,
    sealedKey: v.sealedKey as string,
    keyRelease,
    events,
  };
}

function checkEvent(value: unknown, index: number): TelemetryEvent {
  const what = `events[${index}]`;
  const e = exactObject(
    value,
    what,
    ['sha256', 'rule', 'verdict', 'timeBucket', 'personal'],
    [],
    invalid,
  );
  const sha256 = matching(e.sha256, SHA256_HEX, `${what}.sha256`, invalid);
  const rule = e.rule === null ? null : matching(e.rule, RULE, `${what}.rule`, invalid);
  if (!VERDICTS.includes(e.verdict as Verdict))
    invalid(`${what}.verdict is not one of ${VERDICTS.join(', ')}`);
  const timeBucket = rfc3339(e.timeBucket, `${what}.timeBucket`, invalid);
  // Issue 16 §3: times are bucketed to the hour, so a time cannot single out an event.
  if (!HOUR.test(timeBucket)) invalid(`${what}.timeBucket is not truncated to the hour`);
  base64Field(e.personal, `${what}.personal`, MIN_PERSONAL_BYTES, MAX_PERSONAL_BYTES, invalid);
  return {
    sha256,
    rule,
    verdict: e.verdict as Verdict,
    timeBucket,
    personal: e.personal as string,
  };
}
