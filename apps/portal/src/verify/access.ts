/**
 * The access log, replayed in the browser: its checkpoint under the access
 * log's c2sp.org/tlog-policy, every entry hashed back to the signed root,
 * each entry parsed strictly by @glasshouse/access-format's
 * parseAccessRecord, and each record's own RFC 9162 inclusion proof (built
 * from the log's hash tiles) verified against the checkpoint.
 *
 * Then what the access gateway publishes (issue 17 §5): the approval
 * requests with the approvers' signed decisions and the break-glass
 * accesses with the supervisor's reviews. The gateway's JSON is only a
 * carrier: each request's bytes must hash to its digest, each decision is
 * an approval envelope opened by @glasshouse/access-format's openApproval
 * against the access policy's supervisor keys or the customer's key from
 * its enrollment in the witnessed residency log, each status is recomputed
 * here (requestStatus), and each logged record is checked against the
 * access policy with its approvals (checkAccess, as of the record's time,
 * as the supervisor's monitor does).
 */
import {
  accessRecordDigest,
  accessRequestDigest,
  checkAccess,
  openApproval,
  parseAccessPolicy,
  parseAccessRecord,
  parseAccessRequest,
  requestStatus,
  type AccessPolicy,
  type AccessRecord,
  type AccessRequest,
  type RequestStatus,
} from '@glasshouse/access-format';
import { CodedError } from '@glasshouse/errors';
import { decodePublicKey, keyId } from '@glasshouse/residency';
import {
  decodeBase64Strict,
  encodeBase64,
  hashLeaf,
  inclusionProof,
  tileHashReader,
  tilePath,
  tilesForInclusion,
  verifyInclusion,
  type Checkpoint,
  type TileRef,
} from '@glasshouse/tlog';
import type { PortalConfig } from '../config.js';
import { reasonOf, skipped, step, type Check } from './check.js';
import { ENTRIES_CHECK, replayEntries } from './entries.js';
import { fetchJson, type Fetcher } from './fetch.js';
import { fetchTiles, fetchWitnessedCheckpoint } from './logs.js';
import { verifyResidency } from './residency.js';

export interface LoggedAccess {
  readonly index: number;
  readonly record: AccessRecord;
  /** `sha256:<hex>` of the entry: what a break-glass review names. */
  readonly digest: string;
  /** Milliseconds since the epoch of `record.time`. */
  readonly time: number;
  /** This record's inclusion proof against the verified checkpoint. */
  readonly inclusion: Check;
  /** The access policy check with its approvals; undefined when it could not run. */
  readonly policy: Check | undefined;
}

export interface VerifiedDecision {
  readonly role: string;
  readonly decision: string;
  readonly decidedAt: string;
  readonly expiresAt: string;
  readonly check: Check;
}

export interface ApprovalRequestView {
  readonly digest: string;
  readonly request: AccessRequest | undefined;
  /** Recomputed in the browser from the verified decisions; undefined when the request is invalid. */
  readonly status: RequestStatus | undefined;
  /** What the gateway says the status is. */
  readonly claimed: string;
  readonly decisions: readonly VerifiedDecision[];
  readonly check: Check;
}

export interface BreakGlassView {
  readonly access: LoggedAccess;
  /** The review deadline the gateway gives; undefined when it does not list the access. */
  readonly reviewDue: string | undefined;
  readonly review: { readonly decision: string; readonly decidedAt: string } | undefined;
  readonly overdue: boolean;
  readonly check: Check;
}

export interface AccessReport {
  readonly checks: readonly Check[];
  readonly records: readonly LoggedAccess[];
  readonly requests: readonly ApprovalRequestView[];
  readonly breakGlass: readonly BreakGlassView[];
}

const fail = (code: string, message: string): never => {
  throw new CodedError(code, message);
};

const gatewayInvalid = (what: string): never =>
  fail('PORTAL_GATEWAY_INVALID', `the gateway's answer: ${what}`);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function listOf(value: unknown, field: string): Record<string, unknown>[] {
  const list = isObject(value) ? value[field] : undefined;
  if (!Array.isArray(list) || !list.every(isObject)) gatewayInvalid(`${field} is not a list`);
  return list as Record<string, unknown>[];
}

function stringOf(v: Record<string, unknown>, field: string): string {
  const s = v[field];
  return typeof s === 'string' ? s : gatewayInvalid(`${field} is not a string`);
}

/** Each record's RFC 9162 §2.1.3 inclusion proof, from the hash tiles, against the checkpoint. */
async function proveInclusion(
  base: string,
  cp: Checkpoint,
  entries: readonly { index: number; bytes: Uint8Array }[],
  fetcher: Fetcher | undefined,
): Promise<Map<number, Check>> {
  const base0 = {
    title: 'Included in the log',
    what: 'The entry, hashed as an RFC 9162 leaf (SHA-256(0x00 ‖ entry)), with the inclusion proof built from the log’s hash tiles (c2sp.org/tlog-tiles), leads to the root the verified checkpoint signs (RFC 9162 §2.1.3.2).',
    against: `checkpoint ${cp.origin}, size ${cp.size}, root ${encodeBase64(cp.rootHash)}`,
  };
  const refs = new Map<string, TileRef>();
  for (const e of entries) {
    for (const ref of tilesForInclusion(BigInt(e.index), cp.size)) refs.set(tilePath(ref), ref);
  }
  const out = new Map<number, Check>();
  let tiles: Map<string, Uint8Array>;
  try {
    tiles = await fetchTiles(base, [...refs.values()], fetcher);
  } catch (err) {
    for (const e of entries) {
      out.set(e.index, {
        ...base0,
        id: `inclusion-${e.index}`,
        verdict: 'fail',
        summary: reasonOf(err),
      });
    }
    return out;
  }
  const read = tileHashReader(cp.size, tiles);
  for (const e of entries) {
    const index = BigInt(e.index);
    const leaf = hashLeaf(e.bytes);
    const checked = await step({ ...base0, id: `inclusion-${e.index}` }, async () => {
      const proof = await inclusionProof(index, cp.size, read);
      verifyInclusion(leaf, index, cp.size, proof, cp.rootHash);
      return {
        value: proof,
        summary: `entry ${e.index} of ${cp.size}: ${proof.length} proof hashes lead to the signed root`,
        proof: [
          `leaf hash ${encodeBase64(leaf)}`,
          `index ${e.index}, tree size ${cp.size}`,
          `proof ${proof.map(encodeBase64).join(' ') || '(none: a one-entry tree)'}`,
          `from tiles ${tilesForInclusion(index, cp.size).map(tilePath).join(', ')}`,
        ],
      };
    });
    out.set(
      e.index,
      checked.check.verdict === 'pass'
        ? checked.check
        : { ...checked.check, proof: [`leaf hash ${encodeBase64(leaf)}`, `index ${e.index}`] },
    );
  }
  return out;
}

/** The approvers' keys: the access policy's supervisor keys, the customers' keys from the residency log. */
export interface Keys {
  readonly policy: AccessPolicy;
  readonly customerKey: (customer: string) => Uint8Array | undefined;
}

function keysText(keys: Keys, customer: string): string {
  const c = keys.customerKey(customer);
  return [
    ...keys.policy.supervisorKeys.map((k) => `supervisor key ${keyId(k)}`),
    c === undefined
      ? `customer ${customer}: no enrollment in the residency log`
      : `customer ${customer} key ${keyId(c)} (its residency-log enrollment)`,
  ].join('\n');
}

function openDecisions(
  envelopes: readonly string[],
  digest: string,
  customer: string,
  keys: Keys,
  idPrefix: string,
): VerifiedDecision[] {
  return envelopes.map((envelope, i) => {
    const base = {
      id: `${idPrefix}-${i}`,
      title: 'Signed decision',
      what: 'A DSSE envelope (application/vnd.glasshouse.access-approval+json) with exactly one Ed25519 signature by a key of the role its payload names, over this request’s digest (@glasshouse/access-format openApproval).',
      against: keysText(keys, customer),
    };
    try {
      const customerKey =
        keys.customerKey(customer) ??
        fail('PORTAL_CUSTOMER_UNKNOWN', `${customer} has no enrollment in the residency log`);
      const opened = openApproval(envelope, {
        supervisor: keys.policy.supervisorKeys,
        customer: customerKey,
      });
      const a = opened.approval;
      if (a.request !== digest) {
        fail('PORTAL_APPROVAL_OTHER_REQUEST', `the signed decision names ${a.request}`);
      }
      return {
        role: a.role,
        decision: a.decision,
        decidedAt: a.decidedAt,
        expiresAt: a.expiresAt,
        check: {
          ...base,
          verdict: 'pass',
          summary: `${a.decision} by the ${a.role} at ${a.decidedAt}, signed by key ${keyId(opened.signer)}`,
          proof: [envelope],
        },
      };
    } catch (err) {
      return {
        role: '?',
        decision: '?',
        decidedAt: '',
        expiresAt: '',
        check: { ...base, verdict: 'fail', summary: reasonOf(err), proof: [envelope] },
      };
    }
  });
}

/** A request as the gateway lists it: its claimed digest, bytes, envelopes and status. */
export interface RawRequest {
  readonly digest: string;
  readonly bytes: Uint8Array | undefined;
  readonly envelopes: readonly string[];
  readonly claimed: string;
}

export function verifyRequest(raw: RawRequest, keys: Keys, now: Date): ApprovalRequestView {
  const base = {
    id: `request-${raw.digest}`,
    title: 'Approval request',
    what: 'The request’s exact bytes hash to its digest (sha256), parse as a canonical glasshouse.access-request/v1, and every decision on it verifies; the status is recomputed from the verified decisions under the access policy (requestStatus).',
  };
  let request: AccessRequest;
  try {
    if (raw.bytes === undefined) fail('PORTAL_GATEWAY_INVALID', 'the request is not base64');
    const bytes = raw.bytes as Uint8Array;
    const digest = accessRequestDigest(bytes);
    if (digest !== raw.digest) {
      fail('PORTAL_REQUEST_DIGEST_MISMATCH', `the request's bytes hash to ${digest}`);
    }
    request = parseAccessRequest(bytes);
  } catch (err) {
    return {
      digest: raw.digest,
      request: undefined,
      status: undefined,
      claimed: raw.claimed,
      decisions: [],
      check: { ...base, verdict: 'fail', summary: reasonOf(err) },
    };
  }
  const decisions = openDecisions(
    raw.envelopes,
    raw.digest,
    request.customer,
    keys,
    `decision-${raw.digest}`,
  );
  const valid = decisions.filter((d) => d.check.verdict === 'pass');
  const status = requestStatus(keys.policy, request, valid, now.getTime());
  const bad = decisions.length - valid.length;
  const claimedNote = raw.claimed === status ? '' : ` (the gateway says ${raw.claimed})`;
  return {
    digest: raw.digest,
    request,
    status,
    claimed: raw.claimed,
    decisions,
    check:
      bad === 0
        ? {
            ...base,
            verdict: 'pass',
            summary: `${status}${claimedNote}: ${valid.length} signed decision(s) verified`,
            against: keysText(keys, request.customer),
            proof: [`digest ${raw.digest}`, ...decisions.map((d) => d.check.summary)],
          }
        : {
            ...base,
            verdict: 'fail',
            summary: `${bad} decision(s) failed: ${decisions.find((d) => d.check.verdict === 'fail')?.check.summary ?? ''}`,
            against: keysText(keys, request.customer),
            proof: decisions.map((d) => d.check.summary),
          },
  };
}

function policyCheck(
  a: { index: number; record: AccessRecord },
  keys: Keys,
  requests: ReadonlyMap<string, RawRequest>,
): Check {
  const base = {
    id: `policy-${a.index}`,
    title: 'Meets the access policy',
    what: 'The record’s class and justification are allowed by the access policy; an access that needs approvals names a request that describes exactly this access, and every required approver signed an approval in time, valid at the record’s time (@glasshouse/access-format checkAccess); break-glass and approval-free classes name no request.',
  };
  const r = a.record;
  try {
    const customerKey =
      keys.customerKey(r.customer) ??
      fail('PORTAL_CUSTOMER_UNKNOWN', `${r.customer} has no enrollment in the residency log`);
    const raw = r.approval === null ? undefined : requests.get(r.approval);
    const decision = checkAccess({
      policy: keys.policy,
      record: r,
      ...(raw?.bytes === undefined ? {} : { request: raw.bytes }),
      approvals: raw?.envelopes ?? [],
      customerKey,
      now: r.time,
    });
    return {
      ...base,
      verdict: 'pass',
      summary: decision.breakGlass
        ? 'break-glass: no approval, a review is due'
        : decision.approvedBy.length === 0
          ? `no approval needed for ${r.dataClass} with ${r.justification.code}`
          : `approved by the ${decision.approvedBy.join(' and the ')}`,
      against: keysText(keys, r.customer),
      ...(raw === undefined ? {} : { proof: [`request ${raw.digest}`, ...raw.envelopes] }),
    };
  } catch (err) {
    return {
      ...base,
      verdict: 'fail',
      summary: reasonOf(err),
      against: keysText(keys, r.customer),
    };
  }
}

export function verifyBreakGlass(
  access: LoggedAccess,
  listed: Record<string, unknown> | undefined,
  keys: Keys,
  now: Date,
): BreakGlassView {
  const base = {
    id: `break-glass-${access.index}`,
    title: 'Break-glass review',
    what: 'A break-glass access gets the supervisor’s review before its deadline: an approval envelope of the supervisor’s, over the access record’s digest (issue 17 §5), opened by openApproval against the access policy’s supervisor keys. Overdue: no review by the deadline, or one signed after it.',
    against: keys.policy.supervisorKeys.map((k) => `supervisor key ${keyId(k)}`).join('\n'),
  };
  let reviewDue: string | undefined;
  let review: BreakGlassView['review'];
  let overdue = false;
  const proof = [`record ${access.digest}`];
  const view = (verdict: Check['verdict'], summary: string): BreakGlassView => ({
    access,
    reviewDue,
    review,
    overdue,
    check: { ...base, verdict, summary, proof },
  });
  try {
    if (listed === undefined) {
      fail(
        'PORTAL_BREAK_GLASS_UNLISTED',
        `the gateway lists no review deadline for the break-glass access at entry ${access.index}`,
      );
    }
    const l = listed as Record<string, unknown>;
    reviewDue = stringOf(l, 'reviewDue');
    const due = Date.parse(reviewDue);
    if (!(due > access.time)) gatewayInvalid(`reviewDue ${reviewDue} is not after the access`);
    if (l.index !== access.index) gatewayInvalid(`index ${String(l.index)} is not ${access.index}`);
    const r = l.review;
    if (r === null || r === undefined) {
      overdue = now.getTime() > due;
      if (overdue) fail('PORTAL_REVIEW_OVERDUE', `no review, and the deadline ${reviewDue} passed`);
      return view('note', `awaiting the supervisor's review, due ${reviewDue}`);
    }
    if (!isObject(r)) gatewayInvalid('review is not an object');
    const envelope = stringOf(r as Record<string, unknown>, 'envelope');
    proof.push(envelope);
    const customer = access.record.customer;
    const opened = openApproval(envelope, {
      supervisor: keys.policy.supervisorKeys,
      customer:
        keys.customerKey(customer) ??
        fail('PORTAL_CUSTOMER_UNKNOWN', `${customer} has no enrollment in the residency log`),
    });
    const a = opened.approval;
    if (a.role !== 'supervisor' || a.request !== access.digest) {
      fail(
        'PORTAL_REVIEW_INVALID',
        `a review is the supervisor's over the record digest; this is the ${a.role}'s over ${a.request}`,
      );
    }
    review = { decision: a.decision, decidedAt: a.decidedAt };
    overdue = Date.parse(a.decidedAt) > due;
    if (overdue) {
      fail('PORTAL_REVIEW_OVERDUE', `reviewed at ${a.decidedAt}, after the deadline ${reviewDue}`);
    }
    return view(
      'pass',
      `${a.decision === 'approve' ? 'approved' : 'denied'} by the supervisor at ${a.decidedAt} (due ${reviewDue}), signed by key ${keyId(opened.signer)}`,
    );
  } catch (err) {
    return view('fail', reasonOf(err));
  }
}

/** A summary check over many: pass when every one passed (notes count as passed). */
function overall(
  base: Omit<Check, 'verdict' | 'summary'>,
  each: readonly Check[],
  good: string,
): Check {
  const failed = each.filter((c) => c.verdict === 'fail');
  return failed.length === 0
    ? { ...base, verdict: 'pass', summary: good }
    : {
        ...base,
        verdict: 'fail',
        summary: `${failed.length} of ${each.length} failed: ${failed[0]?.summary ?? ''}`,
        proof: failed.map((c) => `${c.id}: ${c.summary}`),
      };
}

export async function verifyAccess(
  config: PortalConfig,
  now: Date,
  fetcher?: Fetcher,
): Promise<AccessReport> {
  const none = { records: [], requests: [], breakGlass: [] };
  const log = config.logs.find((l) => l.id === 'access-log');
  if (log === undefined) return { checks: [], ...none };
  const checks: Check[] = [];
  const cpStep = await step(
    {
      id: 'checkpoint',
      title: 'Access log checkpoint',
      what: "The access log's checkpoint is signed by its log key and cosigned to its policy's quorum (c2sp.org/tlog-policy).",
    },
    () => fetchWitnessedCheckpoint(log.base, log.policy, log.policyText, now, fetcher),
  );
  checks.push(cpStep.check);
  const cp = cpStep.value;
  if (cp === undefined) {
    checks.push(skipped(ENTRIES_CHECK, 'no verified checkpoint'));
    return { checks, ...none };
  }
  const entries = await replayEntries(log.base, cp, fetcher);
  checks.push(entries.check);
  const parsed: { index: number; bytes: Uint8Array; record: AccessRecord }[] = [];
  const refused: string[] = [];
  (entries.read ?? []).forEach((bytes, index) => {
    try {
      parsed.push({ index, bytes, record: parseAccessRecord(bytes) });
    } catch (err) {
      refused.push(`entry ${index}: ${reasonOf(err)}`);
    }
  });
  if (entries.read === undefined) return { checks, ...none };
  const recordsBase = {
    id: 'records',
    title: 'Access records',
    what: 'Each entry is a well-formed, canonical access record (@glasshouse/access-format: schema, pseudonyms, site, scope, accessor, justification code with its ticket or legal reference, time, counter).',
  };
  checks.push(
    refused.length === 0
      ? {
          ...recordsBase,
          verdict: 'pass',
          summary: `${parsed.length} records, every one well-formed`,
        }
      : {
          ...recordsBase,
          verdict: 'fail',
          summary: `${refused.length} malformed entries`,
          proof: refused,
        },
  );
  const inclusion = await proveInclusion(log.base, cp, parsed, fetcher);
  checks.push(
    overall(
      {
        id: 'inclusion',
        title: 'Each record’s inclusion proof',
        what: 'For every record: its leaf hash, its index and the inclusion proof from the hash tiles lead to the signed root (RFC 9162 §2.1.3.2). Each record’s tick in the table opens its own proof.',
        against: `checkpoint ${cp.origin}, size ${cp.size}, root ${encodeBase64(cp.rootHash)}`,
      },
      [...inclusion.values()],
      `${inclusion.size} of ${inclusion.size} records proven included`,
    ),
  );

  // The approvers' keys: the configured access policy and the residency log's enrollments.
  const policyBase = {
    id: 'access-policy',
    title: 'Access policy and approvers’ keys',
    what: 'The access policy the portal’s operator configured (glasshouse.access-policy/v1: approvers and justifications per data class, the supervisor’s approval keys) parses; customers’ keys come from their enrollments in the residency log, replayed and folded here under the trust bundle (the Residency page’s checks).',
  };
  let keys: Keys | undefined;
  if (config.accessPolicy === null) {
    checks.push(skipped(policyBase, 'the portal is configured without an access policy'));
  } else {
    const policyText = config.accessPolicy;
    const policyStep = await step(policyBase, async () => {
      const policy = parseAccessPolicy(new TextEncoder().encode(policyText));
      const residency = await verifyResidency(config, now, fetcher, { ingest: false });
      const failed = residency.checks.find((c) => c.verdict === 'fail');
      const state = residency.state;
      if (failed !== undefined || state === undefined) {
        fail(
          'PORTAL_CUSTOMER_KEYS_UNVERIFIED',
          `the residency log did not verify: ${failed === undefined ? 'no residency log' : `${failed.title}: ${failed.summary}`}`,
        );
      }
      const customers = state?.customers() ?? [];
      return {
        value: {
          policy,
          customerKey: (c: string) => {
            const e = state?.enrollment(c);
            return e === undefined ? undefined : decodePublicKey(e.enrollment.customerKey);
          },
        },
        summary: `policy v${policy.version}: ${policy.supervisorKeys.length} supervisor key(s), ${policy.classes.length} class(es); ${customers.length} customer key(s) from the residency log`,
        against: policyText,
        proof: [
          ...policy.classes.map(
            (c) =>
              `${c.dataClass}: approvers ${c.approvers.join(' + ') || 'none'}; ${c.justifications.join(', ')}`,
          ),
          ...policy.supervisorKeys.map((k) => `supervisor key ${keyId(k)} ${encodeBase64(k)}`),
        ],
      };
    });
    checks.push(policyStep.check);
    keys = policyStep.value;
  }

  const logged: LoggedAccess[] = [];
  const requests: ApprovalRequestView[] = [];
  const breakGlass: BreakGlassView[] = [];
  const rawRequests = new Map<string, RawRequest>();
  let requestsRead = false;
  let breakGlassListed: Map<string, Record<string, unknown>> | undefined;
  const approvalsBase = {
    id: 'approvals',
    title: 'Approvals',
    what: 'The gateway’s approval requests (GET v1/requests): each request’s bytes hash to its digest, each approver’s decision is a valid signature by a key of its role; the status shown is recomputed here.',
  };
  const breakGlassBase = {
    id: 'break-glass',
    title: 'Break-glass reviews',
    what: 'Every break-glass access in the log has the supervisor’s signed review, made before its deadline (GET v1/break-glass gives the deadlines and reviews).',
  };
  if (keys !== undefined && config.gateway !== null) {
    const gateway = config.gateway;
    const read = await step({ ...approvalsBase, id: 'approvals-read' }, async () => {
      const list = listOf(await fetchJson(`${gateway}v1/requests`, fetcher), 'requests');
      return {
        value: list.map((r): RawRequest => ({
          digest: stringOf(r, 'digest'),
          bytes: decodeBase64Strict(stringOf(r, 'request')),
          envelopes: Array.isArray(r.approvals)
            ? r.approvals.map((e) => (typeof e === 'string' ? e : gatewayInvalid('approvals')))
            : gatewayInvalid('approvals is not a list'),
          claimed: stringOf(r, 'status'),
        })),
        summary: '',
      };
    });
    if (read.value === undefined) {
      checks.push({ ...read.check, id: 'approvals' });
    } else {
      requestsRead = true;
      for (const raw of read.value) {
        rawRequests.set(raw.digest, raw);
        requests.push(verifyRequest(raw, keys, now));
      }
      const counts = new Map<string, number>();
      for (const r of requests)
        counts.set(r.status ?? 'invalid', (counts.get(r.status ?? 'invalid') ?? 0) + 1);
      checks.push(
        overall(
          approvalsBase,
          requests.map((r) => r.check),
          `${requests.length} request(s), every decision's signature verified: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}`,
        ),
      );
    }
    const listed = await step({ ...breakGlassBase }, async () => {
      const list = listOf(await fetchJson(`${gateway}v1/break-glass`, fetcher), 'accesses');
      return {
        value: new Map(list.map((b) => [stringOf(b, 'record'), b])),
        summary: '',
      };
    });
    if (listed.value === undefined) checks.push(listed.check);
    breakGlassListed = listed.value;
  } else {
    const because =
      keys === undefined
        ? 'no verified access policy'
        : 'the portal is configured without a gateway';
    checks.push(skipped(approvalsBase, because), skipped(breakGlassBase, because));
  }

  for (const p of parsed) {
    const inc = inclusion.get(p.index);
    const access: LoggedAccess = {
      index: p.index,
      record: p.record,
      digest: accessRecordDigest(p.bytes),
      time: Date.parse(p.record.time),
      inclusion:
        inc ??
        skipped(
          { id: `inclusion-${p.index}`, title: 'Included in the log', what: ENTRIES_CHECK.what },
          'no proof was built',
        ),
      policy: keys !== undefined && requestsRead ? policyCheck(p, keys, rawRequests) : undefined,
    };
    logged.push(access);
    if (keys !== undefined && breakGlassListed !== undefined) {
      if (p.record.justification.code === 'BREAK_GLASS') {
        breakGlass.push(verifyBreakGlass(access, breakGlassListed.get(access.digest), keys, now));
      }
    }
  }
  const policyChecks = logged.flatMap((a) => (a.policy === undefined ? [] : [a.policy]));
  if (keys !== undefined && requestsRead) {
    checks.push(
      overall(
        {
          id: 'policy',
          title: 'Every record meets the access policy',
          what: 'Each logged record, checked with checkAccess as of its own time: class and justification allowed, and the approvals it needed signed by the right keys before the request expired.',
        },
        policyChecks,
        `${policyChecks.length} of ${policyChecks.length} records meet the policy`,
      ),
    );
  }
  if (breakGlassListed !== undefined) {
    const overdue = breakGlass.filter((b) => b.overdue).length;
    const reviewed = breakGlass.filter((b) => b.review !== undefined).length;
    checks.push(
      overall(
        breakGlassBase,
        breakGlass.map((b) => b.check),
        `${breakGlass.length} break-glass access(es): ${reviewed} reviewed, ${breakGlass.length - reviewed} awaiting review, ${overdue} overdue`,
      ),
    );
  }
  return { checks, records: logged, requests, breakGlass };
}
