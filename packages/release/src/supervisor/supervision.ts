/**
 * What the supervisor signs about a release, and how anyone checks it with
 * public keys only. Pure: every fact, time included, comes in as an argument.
 *
 * - a review:   in-toto Statement, predicate REVIEW_PREDICATE_TYPE
 * - a rebuild:  a legacy in-toto link for the `build` step (provenance.ts),
 *               and a SLSA VSA v1 with verificationResult PASSED
 * - approval:   in-toto Statement, predicate APPROVAL_PREDICATE_TYPE
 * - mismatch:   in-toto Statement, predicate MISMATCH_PREDICATE_TYPE naming
 *               every differing file
 *
 * and the in-toto layout an endpoint verifies a delivered release against:
 * a `build` step of threshold 2 whose functionaries are the vendor's builder
 * and the supervisor's rebuilder, and an inspection that matches the
 * delivered files with the step's products.
 */
import {
  buildLayout,
  buildVerificationSummary,
  buildStatement,
  signStatement,
  verifyStatementEnvelope,
  verificationSummaryStatement,
  SLSA_VSA_V1,
  type Envelope,
  type LayoutMetadata,
  type PublicKey,
  type ResourceDescriptor,
  type SigningKey,
  type Statement,
  type VerificationSummaryV1,
  sha256Hex,
} from '@glasshouse/attest';
import { canonicalJson } from '@glasshouse/bundle';
import { releaseResourceUri } from '@glasshouse/release-format';
import { ReleaseError } from '../errors.js';
import type { ArtifactDifference } from './rebuild-diff.js';
import { BUILD_STEP_NAME, buildSubjects, type BuiltArtifact } from '../build/provenance.js';

export const REVIEW_PREDICATE_TYPE = 'https://glasshouse.example/supervisor/review/v1';
export const APPROVAL_PREDICATE_TYPE = 'https://glasshouse.example/supervisor/approval/v1';
export const MISMATCH_PREDICATE_TYPE = 'https://glasshouse.example/supervisor/rebuild-mismatch/v1';
/** `policy.uri` of the supervisor's VSA: rebuild from the same commit, identical bytes. */
export const REBUILD_POLICY_URI = 'https://glasshouse.example/supervisor/policy/rebuild/v1';
/** The default `verifier.id` of the supervisor's VSAs. */
export const DEFAULT_VERIFIER_ID = 'https://glasshouse.example/supervisor/rebuilder/v1';
/**
 * A level outside the SLSA tracks (verification_summary.md: custom values
 * MUST NOT start with `SLSA_`): an independent rebuild produced the same bytes.
 */
export const REPRODUCED_LEVEL = 'GLASSHOUSE_REPRODUCED';
/** The inspection of the release layout: the endpoint runs it on the delivered files. */
export const DELIVERY_INSPECTION_NAME = 'check-delivered-artifacts';

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

/**
 * Verifies a Statement the supervisor signed about `release`: a valid DSSE
 * signature by `key`, the expected predicate type, subjects that are exactly
 * the release's artifacts (by name and SHA-256), and — for the predicates
 * that carry one — the release id. Returns the Statement; throws
 * SUPERVISOR_ATTESTATION_INVALID naming what failed.
 */
export function verifySupervisorStatement(
  envelope: Envelope,
  options: { key: PublicKey; predicateType: string; release: ReleaseFacts },
): Statement {
  let statement: Statement;
  try {
    statement = verifyStatementEnvelope(envelope, {
      keys: [options.key],
      predicateType: options.predicateType,
    }).statement;
  } catch (cause) {
    throw new ReleaseError(
      'SUPERVISOR_ATTESTATION_INVALID',
      `not a ${options.predicateType} statement signed by key ${options.key.keyid}`,
      { cause },
    );
  }
  checkSubjectsAreArtifacts(statement, options.release);
  const predicate = statement.predicate as { releaseId?: unknown } | undefined;
  if (options.predicateType !== SLSA_VSA_V1 && predicate?.releaseId !== options.release.id) {
    throw new ReleaseError(
      'SUPERVISOR_ATTESTATION_INVALID',
      'the statement is about another release',
      {
        evidence: { releaseId: predicate?.releaseId, expected: options.release.id },
      },
    );
  }
  return statement;
}

/** in-toto statement.md: the subjects name the artifacts; here they must be exactly the release's. */
function checkSubjectsAreArtifacts(statement: Statement, release: ReleaseFacts): void {
  const want = release.artifacts.map((a) => `${a.name}\n${a.sha256}`).sort();
  const got = statement.subject.map((s) => `${s.name ?? ''}\n${s.digest.sha256 ?? ''}`).sort();
  if (want.length !== got.length || want.some((w, i) => w !== got[i])) {
    throw new ReleaseError(
      'SUPERVISOR_ATTESTATION_INVALID',
      "the statement's subjects are not the release's artifacts",
      { evidence: { subjects: statement.subject, artifacts: release.artifacts } },
    );
  }
}

/** How long a release layout stays valid by default. */
export const DEFAULT_LAYOUT_VALIDITY_DAYS = 365;

/**
 * The in-toto layout of an approved release (in-toto-spec §4.3): one `build`
 * step, threshold 2, functionaries the vendor builder and the supervisor
 * rebuilder, which must both report the same materials and products
 * (§4.3.1); the products are exactly the artifacts. The inspection runs on
 * the endpoint in a directory holding the delivered files and requires each
 * to match the step's product (§4.3.3 MATCH) and nothing else to be there.
 */
export function releaseLayout(input: {
  release: ReleaseFacts;
  builderKey: PublicKey;
  rebuilderKey: PublicKey;
  /** The builder link's command, repeated as the step's expected_command. */
  expectedCommand: readonly string[];
  expires: Date;
}): LayoutMetadata {
  const { release } = input;
  const names = release.artifacts.map((a) => a.name);
  const match = names.map((name) => ['MATCH', name, 'WITH', 'PRODUCTS', 'FROM', BUILD_STEP_NAME]);
  return buildLayout({
    expires: input.expires,
    readme:
      `Release ${release.id}: ${release.name} ${release.version}, built from ` +
      `${release.source} at ${release.commit} by the vendor's builder and rebuilt ` +
      `to the same bytes by the supervisor.`,
    steps: [
      {
        name: BUILD_STEP_NAME,
        threshold: 2,
        functionaries: [input.builderKey, input.rebuilderKey],
        expectedCommand: [...input.expectedCommand],
        expectedMaterials: [['ALLOW', '*']],
        expectedProducts: [...names.map((name) => ['CREATE', name]), ['DISALLOW', '*']],
      },
    ],
    inspect: [
      {
        name: DELIVERY_INSPECTION_NAME,
        run: ['sha256sum', '--', ...names],
        expectedMaterials: [...match, ['DISALLOW', '*']],
        expectedProducts: [...match, ['DISALLOW', '*']],
      },
    ],
  });
}
