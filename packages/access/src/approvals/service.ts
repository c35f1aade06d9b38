/**
 * Approvals (issue 17 §5): an accessor files a request naming scope and
 * justification; the approvers the access policy names for the class (the
 * supervisor, the customer, or both) sign an approve or deny decision over
 * the request's digest; requests and approvals expire. Break-glass accesses
 * need no approval but get a review — a supervisor-signed approval payload
 * whose `request` is the access record's digest — before a deadline.
 */
import {
  accessRequestDigest,
  openApproval,
  parseAccessRequest,
  requestStatus,
  type AccessPolicy,
  type AccessRequest,
  type RequestStatus,
} from '@glasshouse/access-format';
import { AccessError } from '../errors.js';
import type { RegisteredPrincipal } from '../principals.js';
import type { ResidencyFacts } from '../residency-facts.js';
import type { ApprovalStore, BreakGlassAccess, StoredDecision, StoredReview } from './store.js';

/** Default time a break-glass access has to get its review: 24 hours. */
export const DEFAULT_REVIEW_SECONDS = 86_400;
const MAX_SKEW_MS = 60_000;

export type { RequestStatus };

export interface RequestView {
  readonly digest: string;
  readonly request: AccessRequest;
  readonly bytes: Uint8Array;
  readonly status: RequestStatus;
  readonly decisions: readonly StoredDecision[];
}

export interface BreakGlassView extends BreakGlassAccess {
  readonly review: StoredReview | null;
  /** True when the deadline passed without a review. */
  readonly overdue: boolean;
}

export interface ApprovalsOptions {
  readonly store: ApprovalStore;
  readonly accessPolicy: AccessPolicy;
  readonly principals: ReadonlyMap<string, RegisteredPrincipal>;
  readonly residency: ResidencyFacts;
  readonly reviewSeconds?: number;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
}

export class Approvals {
  readonly store: ApprovalStore;
  readonly #o: ApprovalsOptions;
  readonly #now: () => number;

  constructor(options: ApprovalsOptions) {
    this.#o = options;
    this.store = options.store;
    this.#now = options.now ?? Date.now;
  }

  /** Files a request made by `principal` (its signer): it must name that principal as accessor. */
  async submit(bytes: Uint8Array, principal: RegisteredPrincipal): Promise<RequestView> {
    const request = parseAccessRequest(bytes);
    const a = request.accessor;
    const p = principal.accessor;
    if (
      a.principal !== p.principal ||
      a.entity !== p.entity ||
      a.country !== p.country ||
      a.role !== p.role
    ) {
      throw new AccessError('REQUESTER_MISMATCH', 'the request names another accessor', {
        evidence: { signer: p.principal, accessor: a.principal },
      });
    }
    const now = this.#now();
    if (Date.parse(request.requestedAt) > now + MAX_SKEW_MS) {
      throw new AccessError('BAD_REQUEST', 'requestedAt is in the future');
    }
    if (Date.parse(request.expiresAt) <= now) {
      throw new AccessError('REQUEST_EXPIRED', 'the request has already expired');
    }
    const digest = accessRequestDigest(bytes);
    await this.store.putRequest({
      digest,
      request: bytes,
      customer: request.customer,
      principal: a.principal,
      requestedAt: request.requestedAt,
      expiresAt: request.expiresAt,
    });
    return this.get(digest);
  }

  async get(digest: string): Promise<RequestView> {
    const stored = await this.store.request(digest);
    if (stored === null) {
      throw new AccessError('REQUEST_NOT_FOUND', 'no such request', { evidence: { digest } });
    }
    const request = parseAccessRequest(stored.request);
    const decisions = await this.store.decisions(digest);
    return {
      digest,
      request,
      bytes: stored.request,
      decisions,
      status: this.#status(request, decisions),
    };
  }

  async list(opts: { customer?: string; status?: RequestStatus } = {}): Promise<RequestView[]> {
    const rows = await this.store.requests(
      opts.customer === undefined ? {} : { customer: opts.customer },
    );
    const views = await Promise.all(rows.map((r) => this.get(r.digest)));
    return opts.status === undefined ? views : views.filter((v) => v.status === opts.status);
  }

  /**
   * Adds an approver's decision: the request exists and has not expired,
   * the envelope is signed by a key of the role it names (the customer's
   * enrolled key, or a supervisor key of the access policy) and names this
   * request.
   */
  async decide(digest: string, envelope: string): Promise<StoredDecision> {
    const view = await this.get(digest);
    const now = this.#now();
    if (Date.parse(view.request.expiresAt) <= now) {
      throw new AccessError('REQUEST_EXPIRED', 'the request expired unanswered', {
        evidence: { digest, expiresAt: view.request.expiresAt },
      });
    }
    const opened = openApproval(envelope, this.#keys(view.request.customer));
    if (opened.approval.request !== digest) {
      throw new AccessError('BAD_REQUEST', 'the approval names another request', {
        evidence: { digest, approval: opened.approval.request },
      });
    }
    const decision: StoredDecision = {
      request: digest,
      role: opened.approval.role,
      decision: opened.approval.decision,
      decidedAt: opened.approval.decidedAt,
      expiresAt: opened.approval.expiresAt,
      envelope,
    };
    await this.store.addDecision(decision);
    return decision;
  }

  /** The request bytes and approval envelopes the access check needs for `digest`. */
  async evidence(digest: string): Promise<{ request: Uint8Array; approvals: string[] } | null> {
    const stored = await this.store.request(digest);
    if (stored === null) return null;
    const decisions = await this.store.decisions(digest);
    return { request: stored.request, approvals: decisions.map((d) => d.envelope) };
  }

  /** Records a logged break-glass access with its review deadline. */
  async breakGlassLogged(b: Omit<BreakGlassAccess, 'reviewDue'>): Promise<BreakGlassAccess> {
    const due = Date.parse(b.loggedAt) + (this.#o.reviewSeconds ?? DEFAULT_REVIEW_SECONDS) * 1000;
    const access = { ...b, reviewDue: new Date(due).toISOString().replace('.000Z', 'Z') };
    await this.store.addBreakGlass(access);
    return access;
  }

  /** The supervisor's review of a break-glass access: an approval payload over the record digest. */
  async review(record: string, envelope: string): Promise<StoredReview> {
    const access = await this.store.breakGlass(record);
    if (access === null) {
      throw new AccessError('REVIEW_NOT_EXPECTED', 'no break-glass access with this record', {
        evidence: { record },
      });
    }
    const opened = openApproval(envelope, this.#keys(access.customer));
    if (opened.approval.role !== 'supervisor' || opened.approval.request !== record) {
      throw new AccessError('BAD_REQUEST', "a review is the supervisor's, over the record digest", {
        evidence: { record, role: opened.approval.role, names: opened.approval.request },
      });
    }
    const review: StoredReview = {
      record,
      decision: opened.approval.decision,
      decidedAt: opened.approval.decidedAt,
      envelope,
    };
    if (!(await this.store.addReview(review))) {
      const first = await this.store.review(record);
      if (first !== null) return first;
    }
    return review;
  }

  async breakGlassAccesses(): Promise<BreakGlassView[]> {
    const now = this.#now();
    const list = await this.store.breakGlassAccesses();
    return Promise.all(
      list.map(async (b) => {
        const review = await this.store.review(b.record);
        const late = review === null ? now : Date.parse(review.decidedAt);
        return { ...b, review, overdue: late > Date.parse(b.reviewDue) };
      }),
    );
  }

  #keys(customer: string): { supervisor: readonly Uint8Array[]; customer: Uint8Array } {
    const key = this.#o.residency.customerKey(customer);
    if (key === undefined) {
      throw new AccessError('CUSTOMER_UNKNOWN', 'the customer has no logged enrollment', {
        evidence: { customer },
      });
    }
    return { supervisor: this.#o.accessPolicy.supervisorKeys, customer: key };
  }

  #status(request: AccessRequest, decisions: readonly StoredDecision[]): RequestStatus {
    return requestStatus(this.#o.accessPolicy, request, decisions, this.#now());
  }
}
