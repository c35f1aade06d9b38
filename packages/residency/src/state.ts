/**
 * ResidencyState: the pure fold over the residency log that the router,
 * each site and the supervisor's monitor run. It only sees entry bytes and
 * their indices; whoever feeds it has checked them against a witnessed
 * checkpoint. A refused entry leaves the state as it was (fail closed).
 */
import { openEnrollmentEnvelope, type Enrollment } from './enrollment.js';
import { ResidencyError } from './errors.js';
import { keyId } from './keys.js';
import {
  openPolicyEnvelope,
  verifyPolicyChain,
  type PolicyKeys,
  type ResidencyPolicy,
} from './policy.js';
import { parseResidencyLogEntry } from './residency-log.js';

export interface LoggedPolicy {
  readonly policy: ResidencyPolicy;
  /** `sha256:<hex>` of the payload. */
  readonly digest: string;
  /** Index of its residency-log entry. */
  readonly index: bigint;
}

export interface LoggedEnrollment {
  readonly enrollment: Enrollment;
  readonly index: bigint;
}

export type AppliedEntry =
  | {
      readonly kind: 'policy';
      readonly index: bigint;
      readonly policy: ResidencyPolicy;
      readonly digest: string;
    }
  | { readonly kind: 'enrollment'; readonly index: bigint; readonly enrollment: Enrollment };

export class ResidencyState {
  readonly keys: PolicyKeys;
  #policy: LoggedPolicy | null = null;
  readonly #policies = new Map<string, LoggedPolicy>();
  /** customer → every enrollment, oldest first. */
  readonly #enrollments = new Map<string, LoggedEnrollment[]>();
  #lastIndex = -1n;

  private constructor(keys: PolicyKeys) {
    this.keys = { vendorKey: keys.vendorKey, supervisorKey: keys.supervisorKey };
  }

  /** The state before the first entry, trusting these two residency keys. */
  static empty(keys: PolicyKeys): ResidencyState {
    // Two parties means two keys: one key for both would make one signature count twice.
    if (keyId(keys.vendorKey) === keyId(keys.supervisorKey)) {
      throw new ResidencyError(
        'KEY_INVALID',
        'the vendor and the supervisor keys are the same key',
      );
    }
    return new ResidencyState(keys);
  }

  /** The latest logged policy version, or null before the first. */
  get policy(): LoggedPolicy | null {
    return this.#policy;
  }

  /** Index of the last applied entry; -1n before the first. */
  get lastIndex(): bigint {
    return this.#lastIndex;
  }

  /** Every logged policy version by its digest. */
  policyByDigest(digest: string): ResidencyPolicy | undefined {
    return this.#policies.get(digest)?.policy;
  }

  /** The logged version with its index. */
  loggedPolicy(digest: string): LoggedPolicy | undefined {
    return this.#policies.get(digest);
  }

  /** The latest enrollment of a customer. */
  enrollment(customer: string): LoggedEnrollment | undefined {
    return this.#enrollments.get(customer)?.at(-1);
  }

  /** Every logged enrollment of a customer, oldest first. */
  enrollmentHistory(customer: string): readonly LoggedEnrollment[] {
    return this.#enrollments.get(customer) ?? [];
  }

  /** Customers with an enrollment. */
  customers(): string[] {
    return [...this.#enrollments.keys()];
  }

  /**
   * Applies the entry at `index` (indices strictly increase; a monitor may
   * skip a refused entry and go on). Throws the entry's coded error and
   * changes nothing when it is refused.
   */
  apply(index: bigint, entryBytes: Uint8Array): AppliedEntry {
    if (index <= this.#lastIndex) {
      throw new ResidencyError(
        'RESIDENCY_ENTRY_OUT_OF_ORDER',
        'entries are applied in increasing index order',
        {
          evidence: { index: index.toString(), lastIndex: this.#lastIndex.toString() },
        },
      );
    }
    const entry = parseResidencyLogEntry(entryBytes);
    switch (entry.kind) {
      case 'policy': {
        const opened = openPolicyEnvelope(entry.envelope, this.keys);
        // Issue 16 §1: each version names the digest of the previous one.
        verifyPolicyChain(this.#policy, opened.policy);
        const logged: LoggedPolicy = { policy: opened.policy, digest: opened.digest, index };
        this.#policy = logged;
        this.#policies.set(opened.digest, logged);
        this.#lastIndex = index;
        return { kind: 'policy', index, policy: opened.policy, digest: opened.digest };
      }
      case 'enrollment': {
        const { enrollment } = openEnrollmentEnvelope(entry.envelope, this.keys);
        const history = this.#enrollments.get(enrollment.customer) ?? [];
        checkReEnrollment(history.at(-1)?.enrollment, history[0]?.enrollment, enrollment);
        this.#enrollments.set(enrollment.customer, [...history, { enrollment, index }]);
        this.#lastIndex = index;
        return { kind: 'enrollment', index, enrollment };
      }
    }
  }
}

/**
 * DATA-HALF "Residency state": a re-enrollment has sequence = previous + 1
 * and is signed by the same customer key as the first enrollment, so the
 * vendor cannot re-home a customer with a key of its own making.
 */
function checkReEnrollment(
  last: Enrollment | undefined,
  first: Enrollment | undefined,
  next: Enrollment,
): void {
  const expected = (last?.sequence ?? 0) + 1;
  if (next.sequence !== expected) {
    throw new ResidencyError(
      'ENROLLMENT_SEQUENCE_BROKEN',
      'the enrollment sequence does not follow the last one',
      {
        evidence: { customer: next.customer, expected, actual: next.sequence },
      },
    );
  }
  if (first !== undefined && first.customerKey !== next.customerKey) {
    throw new ResidencyError(
      'ENROLLMENT_KEY_CHANGED',
      'a re-enrollment is signed by another customer key',
      {
        evidence: { customer: next.customer, first: first.customerKey, next: next.customerKey },
      },
    );
  }
}
