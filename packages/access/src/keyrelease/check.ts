/**
 * What the key release checks before it opens a single data key (issue 17
 * §4), as one pure function: values in, a decision out or a coded refusal.
 * The service (`service.ts`) adds the replay guard (its audit store) and the
 * HPKE opening.
 *
 * Order: the record parses → its tlog-proof verifies against the access
 * log's c2sp.org/tlog-policy (log signature, witness quorum, RFC 6962
 * inclusion of exactly these bytes) → the record is fresh → its accessor is
 * a registered principal → the customer is enrolled → the access policy
 * accepts it with its approvals → every batch is the customer's, in the
 * record's scope and held at the record's site.
 */
import {
  AccessFormatError,
  accessRecordDigest,
  checkAccess,
  parseAccessRecord,
  type AccessDecision,
  type AccessPolicy,
  type AccessRecord,
} from '@glasshouse/access-format';
import { batchDigest, parseBatch, type TelemetryBatch } from '@glasshouse/residency';
import { TlogError, type Policy, verifyTlogProof } from '@glasshouse/tlog';
import { AccessError } from '../errors.js';
import type { RegisteredPrincipal } from '../principals.js';

/** How long after its `time` a record opens keys (default 5 minutes). */
export const DEFAULT_RECORD_VALIDITY_SECONDS = 300;
/** A record time this far in the future is refused (clock skew allowance). */
export const MAX_RECORD_SKEW_SECONDS = 60;
export const MAX_RELEASE_BATCHES = 500;

export interface ReleaseRequest {
  /** The access record: the exact access-log entry bytes. */
  readonly record: Uint8Array;
  /** Its c2sp.org/tlog-proof receipt. */
  readonly receipt: string;
  /** The approval request bytes the record names, when it names one. */
  readonly request?: Uint8Array | undefined;
  /** The approvals (DSSE envelopes) of that request. */
  readonly approvals?: readonly string[] | undefined;
  /** The batches whose data keys are asked for: exact batch bytes. */
  readonly batches: readonly Uint8Array[];
}

export interface ReleaseContext {
  /** The access log's c2sp.org/tlog-policy: its key and the witness quorum. */
  readonly accessLogPolicy: Policy;
  readonly accessPolicy: AccessPolicy;
  readonly principals: ReadonlyMap<string, RegisteredPrincipal>;
  /** The customer's key from its logged, witnessed enrollment; undefined when not enrolled. */
  customerKey(customer: string): Uint8Array | undefined;
  /** The site the residency policy designates for a region; undefined when none. */
  siteOfRegion(region: string): string | undefined;
  readonly validitySeconds: number;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

export interface CheckedRelease {
  readonly record: AccessRecord;
  /** `sha256:<hex>` of the record bytes (the replay key). */
  readonly digest: string;
  readonly index: bigint;
  readonly decision: AccessDecision;
  readonly batches: readonly { readonly digest: string; readonly batch: TelemetryBatch }[];
}

/** Parses the record only (so the service can alert on canaries before anything else refuses). */
export function parseReleaseRecord(bytes: Uint8Array): AccessRecord {
  try {
    return parseAccessRecord(bytes);
  } catch (cause) {
    throw new AccessError('RECORD_INVALID', 'the access record does not parse', {
      cause,
      evidence: { code: (cause as { code?: unknown }).code ?? null },
    });
  }
}

export function checkRelease(req: ReleaseRequest, ctx: ReleaseContext): CheckedRelease {
  const record = parseReleaseRecord(req.record);
  const digest = accessRecordDigest(req.record);
  const index = checkReleaseReceipt(req.record, digest, req.receipt, ctx);
  return { ...checkUnwitnessed(req, record, digest, ctx), index };
}

/** A two-phase release's first half: everything `release` carries but the receipt. */
export type PrepareRequest = Omit<ReleaseRequest, 'receipt'>;

/** What `checkPrepare` found: a `CheckedRelease` whose index only its receipt will prove. */
export type CheckedPrepare = Omit<CheckedRelease, 'index'>;

/**
 * Every check of `checkRelease` that needs no receipt, in the same order
 * (the receipt check comes at `releasePrepared`, before any key opens).
 */
export function checkPrepare(req: PrepareRequest, ctx: ReleaseContext): CheckedPrepare {
  const record = parseReleaseRecord(req.record);
  return checkUnwitnessed(req, record, accessRecordDigest(req.record), ctx);
}

/**
 * c2sp.org/tlog-proof + c2sp.org/tlog-policy: the checkpoint is the access
 * log's, cosigned by the quorum, and RFC 6962 §2.1.1 inclusion of
 * hashLeaf(record) at the index verifies. Answers the index.
 */
export function checkReleaseReceipt(
  recordBytes: Uint8Array,
  digest: string,
  receipt: string,
  ctx: Pick<ReleaseContext, 'accessLogPolicy' | 'now'>,
): bigint {
  try {
    return verifyTlogProof(receipt, recordBytes, ctx.accessLogPolicy, {
      now: BigInt(Math.floor(ctx.now / 1000)),
    }).index;
  } catch (cause) {
    if (cause instanceof TlogError && cause.code === 'POLICY_QUORUM_NOT_MET') {
      throw new AccessError(
        'RECORD_NOT_WITNESSED',
        'the checkpoint lacks the access log witness quorum',
        { cause, evidence: { record: digest } },
      );
    }
    throw new AccessError('RECORD_PROOF_INVALID', 'the record has no valid access-log receipt', {
      cause,
      evidence: { record: digest, code: (cause as { code?: unknown }).code ?? null },
    });
  }
}

/** Issue 17 §4: "neither expired nor used beyond its validity" (the use count is the audit's). */
export function checkRecordFresh(
  record: AccessRecord,
  ctx: Pick<ReleaseContext, 'validitySeconds' | 'now'>,
): void {
  const time = Date.parse(record.time);
  if (time > ctx.now + MAX_RECORD_SKEW_SECONDS * 1000) {
    throw new AccessError('RECORD_INVALID', 'the record is dated in the future', {
      evidence: { time: record.time, now: new Date(ctx.now).toISOString() },
    });
  }
  if (ctx.now > time + ctx.validitySeconds * 1000) {
    throw new AccessError('RECORD_EXPIRED', 'the record is older than its validity', {
      evidence: {
        time: record.time,
        now: new Date(ctx.now).toISOString(),
        validitySeconds: ctx.validitySeconds,
      },
    });
  }
}

function checkUnwitnessed(
  req: PrepareRequest,
  record: AccessRecord,
  digest: string,
  ctx: ReleaseContext,
): CheckedPrepare {
  checkRecordFresh(record, ctx);

  const principal = ctx.principals.get(record.accessor.principal);
  if (
    principal === undefined ||
    principal.entity !== record.accessor.entity ||
    principal.country !== record.accessor.country ||
    principal.role !== record.accessor.role
  ) {
    throw new AccessError('PRINCIPAL_UNKNOWN', 'the accessor is not a registered principal', {
      evidence: { principal: record.accessor.principal },
    });
  }

  const customerKey = ctx.customerKey(record.customer);
  if (customerKey === undefined) {
    throw new AccessError('CUSTOMER_UNKNOWN', 'the customer has no logged enrollment', {
      evidence: { customer: record.customer },
    });
  }

  // The access policy with its approvals (AccessFormatError codes pass through unchanged).
  const decision = checkAccess({
    policy: ctx.accessPolicy,
    record,
    ...(req.request === undefined ? {} : { request: req.request }),
    approvals: req.approvals ?? [],
    customerKey,
    now: new Date(ctx.now).toISOString(),
  });

  if (req.batches.length < 1 || req.batches.length > MAX_RELEASE_BATCHES) {
    throw new AccessError('BAD_REQUEST', `1..${MAX_RELEASE_BATCHES} batches per release`);
  }
  const seen = new Set<string>();
  const batches = req.batches.map((bytes) => {
    let batch: TelemetryBatch;
    try {
      batch = parseBatch(bytes);
    } catch (cause) {
      throw new AccessError('BATCH_INVALID', 'a batch does not parse', { cause });
    }
    const d = batchDigest(bytes);
    if (seen.has(d)) throw new AccessError('BAD_REQUEST', 'a batch is listed twice');
    seen.add(d);
    checkInScope(record, d, batch, ctx);
    return { digest: d, batch };
  });
  return { record, digest, decision, batches };
}

function checkInScope(
  record: AccessRecord,
  digest: string,
  batch: TelemetryBatch,
  ctx: ReleaseContext,
): void {
  const out = (why: string): never => {
    throw new AccessError('OUT_OF_SCOPE', `a batch is outside the record: ${why}`, {
      evidence: { batch: digest, customer: record.customer, site: record.site },
    });
  };
  if (batch.customer !== record.customer) out("another customer's batch");
  const { scope } = record;
  switch (scope.kind) {
    case 'batches':
      if (!scope.batches.includes(digest)) out('not among the batches the record names');
      break;
    case 'time-range': {
      const t = Date.parse(batch.createdAt);
      if (!(Date.parse(scope.from) <= t && t < Date.parse(scope.to))) {
        out('created outside the time range');
      }
      break;
    }
  }
  // The data is read at the site the record names: the residency policy designates it for the batch's region.
  if (ctx.siteOfRegion(batch.region) !== record.site) out('its region is not held at this site');
}

/** True for refusals that name what is wrong with the access (4xx), false for faults. */
export function isRefusal(err: unknown): err is AccessError | AccessFormatError {
  return err instanceof AccessError || err instanceof AccessFormatError;
}
