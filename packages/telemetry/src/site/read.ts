/**
 * The gateway's read of stored batches (issue 17 §3): the only way events
 * leave a data site. The site answers with the batches exactly as the agent
 * sent them — clear processing fields, personal fields sealed, the data key
 * sealed to the supervisor's key release — so what it serves is ciphertext;
 * only the key release can open it, and only against a witnessed access
 * record. The HTTP route (`POST /v1/read`, server.ts) is callable only with
 * the gateway's RFC 9421 key.
 *
 * The batch bytes are rebuilt from the stored fields with the batch's
 * canonical encoding and must hash to the stored digest: the key release
 * checks the digest against the access record's scope, so the bytes it sees
 * are the bytes the agent signed off.
 */
import {
  batchDigest,
  BATCH_SCHEMA,
  CUSTOMER_PSEUDONYM,
  DIGEST,
  encodeBatch,
  toBase64,
  type TelemetryBatch,
} from '@glasshouse/residency';
import { TelemetryError } from '../errors.js';
import type { ReadScope, SiteStorage, StoredBatchContent } from './storage.js';

/** The body of a read is small: a customer and ≤ 500 digests. */
export const MAX_READ_BODY_BYTES = 64 * 1024;
/** At most this many batches in one answer (the access record's scope cap). */
export const MAX_READ_BATCHES = 500;
/** At most this many bytes of batches in one answer; beyond, `truncated`. */
export const MAX_READ_ANSWER_BYTES = 32 * 1024 * 1024;

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export interface ReadRequest {
  readonly customer: string;
  readonly scope: ReadScope;
}

export interface ReadAnswer {
  readonly site: string;
  /** The exact batch bytes, in store order. */
  readonly batches: readonly Uint8Array[];
  /** True when more batches may match than were returned (cap on count or bytes). */
  readonly truncated: boolean;
}

const bad = (what: string, evidence?: Record<string, unknown>): never => {
  throw new TelemetryError('BAD_REQUEST', `read: ${what}`, evidence ? { evidence } : {});
};

/** Parses `{"customer": "c-…", "scope": {"kind": "batches", "batches": [...]} | {"kind": "time-range", "from", "to"}}`. */
export function parseReadRequest(bytes: Uint8Array): ReadRequest {
  if (bytes.length > MAX_READ_BODY_BYTES) bad('body over 64 KiB', { size: bytes.length });
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (cause) {
    throw new TelemetryError('BAD_REQUEST', 'read: body is not UTF-8 JSON', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('not an object');
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (k !== 'customer' && k !== 'scope') bad(`unknown field ${k}`);
  if (typeof v.customer !== 'string' || !CUSTOMER_PSEUDONYM.test(v.customer)) {
    bad('customer is not a customer pseudonym');
  }
  const s = v.scope as Record<string, unknown> | null | undefined;
  if (typeof s !== 'object' || s === null) return bad('scope is missing');
  if (s.kind === 'batches') {
    const list = s.batches;
    if (!Array.isArray(list) || list.length < 1 || list.length > MAX_READ_BATCHES) {
      bad(`scope.batches is not 1..${MAX_READ_BATCHES} digests`);
    }
    for (const d of list as unknown[]) {
      if (typeof d !== 'string' || !DIGEST.test(d)) bad('scope.batches holds a non-digest');
    }
    return {
      customer: v.customer as string,
      scope: { kind: 'batches', batches: list as string[] },
    };
  }
  if (s.kind === 'time-range') {
    const { from, to } = s;
    if (typeof from !== 'string' || !RFC3339_UTC.test(from)) bad('scope.from is not RFC 3339 UTC');
    if (typeof to !== 'string' || !RFC3339_UTC.test(to)) bad('scope.to is not RFC 3339 UTC');
    if (!(Date.parse(from as string) < Date.parse(to as string)))
      bad('scope.from is not before to');
    return {
      customer: v.customer as string,
      scope: { kind: 'time-range', from: from as string, to: to as string },
    };
  }
  return bad('scope.kind is neither "batches" nor "time-range"');
}

/** The batch bytes the agent sent, rebuilt from what is stored (STORAGE_CORRUPT if they do not hash to the digest). */
export function batchBytesOf(stored: StoredBatchContent): Uint8Array {
  const batch: TelemetryBatch = {
    schema: BATCH_SCHEMA,
    batchId: stored.batchId,
    customer: stored.customer,
    region: stored.region,
    productVersion: stored.productVersion,
    createdAt: stored.createdAt,
    sealedKey: toBase64(stored.sealedKey),
    keyRelease: stored.keyRelease,
    events: stored.events.map((e) => ({
      sha256: e.sha256,
      rule: e.rule,
      verdict: e.verdict,
      timeBucket: e.timeBucket,
      personal: toBase64(e.personal),
    })),
  };
  let bytes: Uint8Array;
  try {
    bytes = encodeBatch(batch);
  } catch (cause) {
    throw new TelemetryError('STORAGE_CORRUPT', 'a stored batch does not encode', {
      cause,
      evidence: { digest: stored.digest },
    });
  }
  if (batchDigest(bytes) !== stored.digest) {
    throw new TelemetryError('STORAGE_CORRUPT', 'a stored batch does not hash to its digest', {
      evidence: { digest: stored.digest, rebuilt: batchDigest(bytes) },
    });
  }
  return bytes;
}

/** Reads what the gateway asked for: the customer's batches in scope, capped in count and bytes. */
export async function readBatches(
  storage: SiteStorage,
  siteId: string,
  request: ReadRequest,
): Promise<ReadAnswer> {
  const rows = await storage.readBatches(request.customer, request.scope, MAX_READ_BATCHES + 1);
  const { scope } = request;
  const from = scope.kind === 'time-range' ? Date.parse(scope.from) : 0;
  const to = scope.kind === 'time-range' ? Date.parse(scope.to) : 0;
  const batches: Uint8Array[] = [];
  let size = 0;
  let truncated = rows.length > MAX_READ_BATCHES;
  for (const row of rows.slice(0, MAX_READ_BATCHES)) {
    if (row.customer !== request.customer) continue; // the port filters; never trust one query
    if (scope.kind === 'time-range') {
      const t = Date.parse(row.createdAt);
      if (!(from <= t && t < to)) continue;
    }
    const bytes = batchBytesOf(row);
    if (size + bytes.length > MAX_READ_ANSWER_BYTES) {
      truncated = true;
      break;
    }
    size += bytes.length;
    batches.push(bytes);
  }
  return { site: siteId, batches, truncated };
}

/** The JSON answer of `POST /v1/read`. */
export function readAnswerJson(answer: ReadAnswer): {
  site: string;
  batches: string[];
  truncated: boolean;
} {
  return {
    site: answer.site,
    batches: answer.batches.map((b) => toBase64(b)),
    truncated: answer.truncated,
  };
}
