/**
 * A telemetry batch read into columns for storage. `parseBatchColumns`
 * answers exactly what `parseBatch` answers for the same bytes (the same
 * value, or the same coded error), in the shape a store writes.
 *
 * Batch bytes must be canonical (batch.ts), and every value in a batch is
 * a string that its check limits to ASCII without quotes or backslashes, so
 * a valid batch is one fixed sequence of literals and values. `scanColumns`
 * walks the bytes along that sequence, checks each value with the same
 * check `parseBatch` uses, and decodes the sealed fields straight from the
 * bytes: no 500 KB string, no object per event, no re-encoding. Anything
 * off that path (a wrong byte, an escape, an unknown field, a bad value)
 * falls back to `parseBatch`, which gives the refusal its code and message.
 * The scanner can only be stricter than `parseBatch`, never looser: a test
 * compares the two on valid, mutated and random batches.
 */
import {
  BATCH_ID,
  BATCH_SCHEMA,
  HOUR,
  KEY_RELEASE_ID,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  MAX_PERSONAL_BYTES,
  MIN_PERSONAL_BYTES,
  PRODUCT_VERSION,
  RULE,
  SEALED_KEY_BYTES,
  VERDICTS,
  type Verdict,
  parseBatch,
} from './batch.js';
import { decodeBase64Bytes, fromBase64, utf8 } from './bytes.js';
import { isRfc3339 } from './check.js';
import { CUSTOMER_PSEUDONYM } from './keys.js';
import { REGION_CODE } from './regions.js';

/** A batch as a store writes it: the batch's fields, its events in columns, the sealed bytes decoded. */
export interface BatchColumns {
  readonly batchId: string;
  readonly customer: string;
  readonly region: string;
  readonly productVersion: string;
  readonly createdAt: string;
  readonly keyRelease: string;
  /** The decoded `sealedKey` (HPKE enc ‖ ciphertext). */
  readonly sealedKey: Uint8Array;
  readonly sha256: readonly string[];
  readonly rule: readonly (string | null)[];
  readonly verdict: readonly Verdict[];
  readonly timeBucket: readonly string[];
  /** Every event's decoded `personal`, one after another; event i is [offsets[i], offsets[i+1]). */
  readonly personal: Uint8Array;
  readonly offsets: Uint32Array;
}

/** `parseBatch`, answered as columns: the same checks, codes and messages. */
export function parseBatchColumns(bytes: Uint8Array): BatchColumns {
  return scanColumns(bytes) ?? columnsOf(bytes);
}

/** What a router needs of a batch: whose it is, from where, how many events. */
export interface BatchSummary {
  readonly customer: string;
  readonly region: string;
  readonly events: number;
}

/**
 * `parseBatch`'s checks, codes and messages, answered as a summary: the
 * sealed fields are checked (strict base64, their sizes) but not decoded.
 */
export function parseBatchSummary(bytes: Uint8Array): BatchSummary {
  return batchSummary(scanColumns(bytes, false) ?? columnsOf(bytes));
}

/** The summary of a batch in columns. */
export function batchSummary(c: BatchColumns): BatchSummary {
  return { customer: c.customer, region: c.region, events: c.sha256.length };
}

/** The slow path: parseBatch (which throws the coded refusal), then columns of its value. */
function columnsOf(bytes: Uint8Array): BatchColumns {
  const batch = parseBatch(bytes);
  const decoded = batch.events.map((e) => fromBase64(e.personal) ?? new Uint8Array(0));
  const offsets = new Uint32Array(decoded.length + 1);
  const personal = new Uint8Array(decoded.reduce((n, d) => n + d.length, 0));
  decoded.forEach((d, i) => {
    const at = offsets[i] ?? 0;
    personal.set(d, at);
    offsets[i + 1] = at + d.length;
  });
  return {
    batchId: batch.batchId,
    customer: batch.customer,
    region: batch.region,
    productVersion: batch.productVersion,
    createdAt: batch.createdAt,
    keyRelease: batch.keyRelease,
    sealedKey: fromBase64(batch.sealedKey) ?? new Uint8Array(0),
    sha256: batch.events.map((e) => e.sha256),
    rule: batch.events.map((e) => e.rule),
    verdict: batch.events.map((e) => e.verdict),
    timeBucket: batch.events.map((e) => e.timeBucket),
    personal,
    offsets,
  };
}

const QUOTE = 0x22;
/** The literals between the values, in canonical order (batch.ts `batchJson`). */
const L = {
  head: utf8(`{"schema":"${BATCH_SCHEMA}","batchId":"`),
  customer: utf8('","customer":"'),
  region: utf8('","region":"'),
  productVersion: utf8('","productVersion":"'),
  createdAt: utf8('","createdAt":"'),
  sealedKey: utf8('","sealedKey":"'),
  keyRelease: utf8('","keyRelease":"'),
  events: utf8('","events":['),
  sha256: utf8('{"sha256":"'),
  ruleNull: utf8('","rule":null,"verdict":"'),
  rule: utf8('","rule":"'),
  verdict: utf8('","verdict":"'),
  timeBucket: utf8('","timeBucket":"'),
  personal: utf8('","personal":"'),
  eventEnd: utf8('"}'),
  tail: utf8(']}\n'),
};
const VERDICT_BYTES = VERDICTS.map((v) => [v, utf8(v)] as const);
const HEX_LOWER = new Uint8Array(128);
for (const c of '0123456789abcdef') HEX_LOWER[c.charCodeAt(0)] = 1;

/** Whether `lit` is at `at` in `b`. */
function at(b: Uint8Array, pos: number, lit: Uint8Array): boolean {
  if (pos + lit.length > b.length) return false;
  for (let i = 0; i < lit.length; i++) if (b[pos + i] !== lit[i]) return false;
  return true;
}

/** The index of the next quote from `pos`, or -1. */
function quote(b: Uint8Array, pos: number): number {
  return b.indexOf(QUOTE, pos);
}

const decoder = new TextDecoder();

/**
 * Bytes as a string, for a value its check then limits to ASCII: UTF-8
 * decoding never turns a byte >= 128 into an ASCII character, so any such
 * byte fails the check.
 */
function ascii(b: Uint8Array, start: number, end: number): string {
  return decoder.decode(b.subarray(start, end));
}

/** The same bytes as `prev` at b[start, end)? Lets events share their repeated values. */
function same(
  b: Uint8Array,
  start: number,
  end: number,
  prevStart: number,
  prevEnd: number,
): boolean {
  if (end - start !== prevEnd - prevStart) return false;
  for (let i = 0; i < end - start; i++) if (b[start + i] !== b[prevStart + i]) return false;
  return true;
}

/**
 * The fast path: the columns of a valid canonical batch, or undefined for
 * anything else (the caller then asks `parseBatch` why). Without `decode`
 * the sealed fields are checked but `personal` is left empty.
 */
export function scanColumns(b: Uint8Array, decode = true): BatchColumns | undefined {
  if (b.length > MAX_BATCH_BYTES || !at(b, 0, L.head)) return undefined;
  let p = L.head.length;
  // One batch-level string value up to its closing quote, checked by `ok`, then the next literal.
  const field = (ok: (v: string) => boolean, next: Uint8Array): string | undefined => {
    const end = quote(b, p);
    if (end < 0) return undefined;
    const v = ascii(b, p, end);
    if (!ok(v) || !at(b, end, next)) return undefined;
    p = end + next.length;
    return v;
  };
  const batchId = field((v) => BATCH_ID.test(v), L.customer);
  if (batchId === undefined) return undefined;
  const customer = field((v) => CUSTOMER_PSEUDONYM.test(v), L.region);
  if (customer === undefined) return undefined;
  const region = field((v) => REGION_CODE.test(v), L.productVersion);
  if (region === undefined) return undefined;
  const productVersion = field((v) => PRODUCT_VERSION.test(v), L.createdAt);
  if (productVersion === undefined) return undefined;
  const createdAt = field(isRfc3339, L.sealedKey);
  if (createdAt === undefined) return undefined;
  const keyEnd = quote(b, p);
  const sealedKey = new Uint8Array(SEALED_KEY_BYTES);
  if (keyEnd < 0 || decodeBase64Bytes(b, p, keyEnd, sealedKey, 0) !== SEALED_KEY_BYTES) {
    return undefined;
  }
  if (!at(b, keyEnd, L.keyRelease)) return undefined;
  p = keyEnd + L.keyRelease.length;
  const keyRelease = field((v) => KEY_RELEASE_ID.test(v), L.events);
  if (keyRelease === undefined) return undefined;

  const sha256: string[] = [];
  const rule: (string | null)[] = [];
  const verdict: Verdict[] = [];
  const timeBucket: string[] = [];
  // Decoded personal bytes are at most 3/4 of the rest of the batch (none when only checked).
  const personal = decode ? new Uint8Array(Math.floor(((b.length - p) * 3) / 4)) : undefined;
  const offsets: number[] = [0];
  let written = 0;
  // Where the previous event's rule and time bucket were, to share their strings.
  let ruleAt = [0, 0];
  let bucketAt = [0, 0];
  let lastRule: string | null = null;
  let lastBucket = '';
  for (;;) {
    if (sha256.length === MAX_BATCH_EVENTS || !at(b, p, L.sha256)) return undefined;
    p += L.sha256.length;
    // SHA-256: 64 lowercase hex.
    if (p + 64 > b.length) return undefined;
    for (let i = p; i < p + 64; i++) if (HEX_LOWER[b[i] as number] !== 1) return undefined;
    sha256.push(ascii(b, p, p + 64));
    p += 64;
    if (at(b, p, L.ruleNull)) {
      rule.push(null);
      p += L.ruleNull.length;
    } else {
      if (!at(b, p, L.rule)) return undefined;
      p += L.rule.length;
      const end = quote(b, p);
      if (end < 0) return undefined;
      if (lastRule === null || !same(b, p, end, ruleAt[0] ?? 0, ruleAt[1] ?? 0)) {
        const v = ascii(b, p, end);
        if (!RULE.test(v)) return undefined;
        lastRule = v;
        ruleAt = [p, end];
      }
      rule.push(lastRule);
      if (!at(b, end, L.verdict)) return undefined;
      p = end + L.verdict.length;
    }
    const v = VERDICT_BYTES.find(([, bytes]) => at(b, p, bytes) && b[p + bytes.length] === QUOTE);
    if (v === undefined) return undefined;
    verdict.push(v[0]);
    p += v[1].length;
    if (!at(b, p, L.timeBucket)) return undefined;
    p += L.timeBucket.length;
    const bucketEnd = quote(b, p);
    if (bucketEnd < 0) return undefined;
    if (lastBucket === '' || !same(b, p, bucketEnd, bucketAt[0] ?? 0, bucketAt[1] ?? 0)) {
      const t = ascii(b, p, bucketEnd);
      // Issue 16 §3: times are bucketed to the hour (the same two checks as parseBatch).
      if (!isRfc3339(t) || !HOUR.test(t)) return undefined;
      lastBucket = t;
      bucketAt = [p, bucketEnd];
    }
    timeBucket.push(lastBucket);
    if (!at(b, bucketEnd, L.personal)) return undefined;
    p = bucketEnd + L.personal.length;
    const personalEnd = quote(b, p);
    if (personalEnd < 0) return undefined;
    const size = decodeBase64Bytes(b, p, personalEnd, personal, written);
    if (size < MIN_PERSONAL_BYTES || size > MAX_PERSONAL_BYTES) return undefined;
    written += size;
    offsets.push(written);
    if (!at(b, personalEnd, L.eventEnd)) return undefined;
    p = personalEnd + L.eventEnd.length;
    if (b[p] === 0x2c) {
      p += 1;
      continue;
    }
    if (!at(b, p, L.tail) || p + L.tail.length !== b.length) return undefined;
    break;
  }
  return {
    batchId,
    customer,
    region,
    productVersion,
    createdAt,
    keyRelease,
    sealedKey,
    sha256,
    rule,
    verdict,
    timeBucket,
    personal: personal?.subarray(0, written) ?? new Uint8Array(0),
    offsets: Uint32Array.from(offsets),
  };
}
