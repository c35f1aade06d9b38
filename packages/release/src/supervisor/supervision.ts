/**
 * What the supervisor signs about a release. Pure: every fact, time
 * included, comes in as an argument. Their predicate types, the check anyone
 * makes with the supervisor's public key, and the release layout that names
 * both roles are shared vocabulary (@glasshouse/release-format).
 *
 * - a review:   in-toto Statement, predicate REVIEW_PREDICATE_TYPE
 * - a rebuild:  a legacy in-toto link for the `build` step (provenance.ts),
 *               and a SLSA VSA v1 with verificationResult PASSED
 * - approval:   in-toto Statement, predicate APPROVAL_PREDICATE_TYPE
 * - mismatch:   in-toto Statement, predicate MISMATCH_PREDICATE_TYPE naming
 *               every differing file
 */
import {
  buildVerificationSummary,
  buildStatement,
  signStatement,
  verificationSummaryStatement,
  type Envelope,
  type ResourceDescriptor,
  type SigningKey,
  type Statement,
  type VerificationSummaryV1,
  sha256Hex,
} from '@glasshouse/attest';
import { canonicalJson } from '@glasshouse/bundle';
import {
  APPROVAL_PREDICATE_TYPE,
  MISMATCH_PREDICATE_TYPE,
  REVIEW_PREDICATE_TYPE,
  releaseResourceUri,
} from '@glasshouse/release-format';
import { ReleaseError } from '../errors.js';
import type { ArtifactDifference } from './rebuild-diff.js';
import { buildSubjects, type BuiltArtifact } from '../build/provenance.js';

/** `policy.uri` of the supervisor's VSA: rebuild from the same commit, identical bytes. */
export const REBUILD_POLICY_URI = 'https://glasshouse.example/supervisor/policy/rebuild/v1';
/** The default `verifier.id` of the supervisor's VSAs. */
export const DEFAULT_VERIFIER_ID = 'https://glasshouse.example/supervisor/rebuilder/v1';
/**
 * A level outside the SLSA tracks (verification_summary.md: custom values
 * MUST NOT start with `SLSA_`): an independent rebuild produced the same bytes.
 */
export const REPRODUCED_LEVEL = 'GLASSHOUSE_REPRODUCED';

const MAX_REVIEWER = 200;
const MAX_NOTE = 16 * 1024;
const REVIEWER = /^[\p{L}\p{N}][\p{L}\p{N} ._@'-]*$/u;

/** What the supervisor requires before it approves. */
export interface ApprovalPolicy {
  /** A review by an allowed reviewer must be on the release. */
  readonly requireReview: boolean;
  /** Who may review; empty means any named reviewer. */
  readonly reviewers: readonly string[];
}

/** The parts of a release record the supervisor's statements name. */
export interface ReleaseFacts {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly commit: string;
  readonly artifacts: readonly BuiltArtifact[];
}

export interface ReviewPredicate {
  releaseId: string;
  source: { uri: string; gitCommit: string };
  reviewer: string;
  note: string;
  /** RFC 3339 UTC */
  reviewedAt: string;
}

export interface ApprovalPredicate {
  releaseId: string;
  /** The release's name and version: where its files may be published (`<name>/<version>/…`). */
  name: string;
  version: string;
  decision: 'approved';
  verifier: { id: string };
  /** RFC 3339 UTC */
  approvedAt: string;
  policy: ApprovalPolicy;
  /** What the approval rests on, by digest: provenance, both links, the VSA, reviews. */
  evidence: ResourceDescriptor[];
}

export interface MismatchPredicate {
  releaseId: string;
  verifier: { id: string };
  /** RFC 3339 UTC */
  checkedAt: string;
  /** Artifact names, and `artifact!member` inside archives, that differ. */
  differingFiles: string[];
  differences: ArtifactDifference[];
  /** diffoscope's text report per differing artifact, when it ran. */
  diffoscope?: Record<string, { output: string; truncated: boolean }>;
}

/** Checks a reviewer name: printable, short, no control characters. */
export function checkReviewer(reviewer: string): string {
  if (reviewer.length === 0 || reviewer.length > MAX_REVIEWER || !REVIEWER.test(reviewer)) {
    throw new ReleaseError(
      'SUPERVISOR_BAD_REVIEW',
      `the reviewer name must be 1-${MAX_REVIEWER} letters, digits, spaces or ._@'-`,
    );
  }
  return reviewer;
}

/** The Statement of a review of `release`. */
export function reviewStatement(input: {
  release: ReleaseFacts;
  reviewer: string;
  note: string;
  reviewedAt: Date;
}): Statement<ReviewPredicate> {
  checkReviewer(input.reviewer);
  if (input.note.trim() === '' || input.note.length > MAX_NOTE) {
    throw new ReleaseError('SUPERVISOR_BAD_REVIEW', `the note must be 1-${MAX_NOTE} characters`);
  }
  return buildStatement({
    subject: buildSubjects(input.release.artifacts),
    predicateType: REVIEW_PREDICATE_TYPE,
    predicate: {
      releaseId: input.release.id,
      source: { uri: input.release.source, gitCommit: input.release.commit },
      reviewer: input.reviewer,
      note: input.note,
      reviewedAt: input.reviewedAt.toISOString(),
    },
  });
}

/** SHA-256 of the policy's canonical JSON: the VSA's `policy.digest`. */
export function policyDigest(policy: ApprovalPolicy): string {
  return sha256Hex(
    new TextEncoder().encode(
      canonicalJson({ requireReview: policy.requireReview, reviewers: [...policy.reviewers] }),
    ),
  );
}

/**
 * The SLSA VSA of a matching rebuild (verification_summary.md): subject the
 * artifacts, `resourceUri` the source at the commit, the policy by URI and
 * digest, the attestations it checked by digest, PASSED. `verifiedLevels`
 * is SLSA_BUILD_LEVEL_2 (the vendor's provenance was signed by the pinned
 * builder key) and REPRODUCED_LEVEL.
 */
export function rebuildVsaStatement(input: {
  release: ReleaseFacts;
  verifierId: string;
  timeVerified: Date;
  policy: ApprovalPolicy;
  inputAttestations: readonly (ResourceDescriptor & { digest: Record<string, string> })[];
}): Statement<VerificationSummaryV1> {
  const vsa = buildVerificationSummary({
    verifierId: input.verifierId,
    timeVerified: input.timeVerified,
    resourceUri: releaseResourceUri(input.release),
    policy: { uri: REBUILD_POLICY_URI, digest: { sha256: policyDigest(input.policy) } },
    inputAttestations: [...input.inputAttestations],
    verificationResult: 'PASSED',
    verifiedLevels: ['SLSA_BUILD_LEVEL_2', REPRODUCED_LEVEL],
    slsaVersion: '1.0',
  });
  return verificationSummaryStatement(buildSubjects(input.release.artifacts), vsa);
}

export function approvalStatement(input: {
  release: ReleaseFacts;
  verifierId: string;
  approvedAt: Date;
  policy: ApprovalPolicy;
  evidence: readonly ResourceDescriptor[];
}): Statement<ApprovalPredicate> {
  return buildStatement({
    subject: buildSubjects(input.release.artifacts),
    predicateType: APPROVAL_PREDICATE_TYPE,
    predicate: {
      releaseId: input.release.id,
      name: input.release.name,
      version: input.release.version,
      decision: 'approved',
      verifier: { id: input.verifierId },
      approvedAt: input.approvedAt.toISOString(),
      policy: { requireReview: input.policy.requireReview, reviewers: [...input.policy.reviewers] },
      evidence: [...input.evidence],
    },
  });
}

export function mismatchStatement(input: {
  release: ReleaseFacts;
  verifierId: string;
  checkedAt: Date;
  differingFiles: readonly string[];
  differences: readonly ArtifactDifference[];
  diffoscope?: Record<string, { output: string; truncated: boolean }>;
}): Statement<MismatchPredicate> {
  const predicate: MismatchPredicate = {
    releaseId: input.release.id,
    verifier: { id: input.verifierId },
    checkedAt: input.checkedAt.toISOString(),
    differingFiles: [...input.differingFiles],
    // JSON round trip: drop undefined optional fields, which canonical JSON refuses.
    differences: JSON.parse(JSON.stringify(input.differences)) as ArtifactDifference[],
  };
  if (input.diffoscope !== undefined && Object.keys(input.diffoscope).length > 0) {
    predicate.diffoscope = input.diffoscope;
  }
  return buildStatement({
    subject: buildSubjects(input.release.artifacts),
    predicateType: MISMATCH_PREDICATE_TYPE,
    predicate,
  });
}

/** Signs a supervisor Statement (review, VSA, approval, mismatch) in DSSE. */
export function signSupervisorStatement(statement: Statement, key: SigningKey): Envelope {
  return signStatement(statement, [key]);
}
