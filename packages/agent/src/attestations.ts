/**
 * The supervision checks on one artifact, pure: the supervisor's SLSA VSA
 * says PASSED for exactly this digest and comes from the pinned verifier,
 * and the vendor's SLSA provenance was signed by the pinned builder key,
 * names the pinned builder id and source, and the same commit the VSA
 * names.
 */
import {
  parseEnvelope,
  provenanceOf,
  SLSA_PROVENANCE_V1,
  SLSA_VSA_V1,
  verificationSummaryOf,
  verifyStatementEnvelope,
  verifyVerificationSummary,
  type PublicKey,
  type Statement,
} from '@glasshouse/attest';
import { hasCode } from '@glasshouse/errors';
import { releaseResourceUri } from '@glasshouse/release-format';
import { AgentError, type AgentErrorCode } from './errors.js';

export interface SupervisionTrust {
  readonly supervisorKey: PublicKey;
  readonly verifierId: string;
  readonly builderKey: PublicKey;
  readonly builderId: string;
  readonly source: string;
}

export interface ArtifactRef {
  /** The artifact's file name (the subject name in the statements). */
  readonly name: string;
  readonly sha256: string;
}

export interface VerifiedSupervision {
  /** The commit the artifact was built and rebuilt from. */
  readonly commit: string;
  readonly resourceUri: string;
}

/** Throws the first failed check; returns what was verified. */
export function verifySupervision(
  artifact: ArtifactRef,
  evidence: { readonly vsa: Uint8Array; readonly provenance: Uint8Array },
  trust: SupervisionTrust,
): VerifiedSupervision {
  const { commit, resourceUri } = verifyVsaFor(artifact, evidence.vsa, trust);
  const built = verifyProvenanceFor(artifact, evidence.provenance, trust);
  // The supervisor rebuilt what the builder built: one commit.
  if (built !== commit) {
    throw new AgentError(
      'AGENT_PROVENANCE_SOURCE_MISMATCH',
      'the provenance and the VSA name different commits',
      { evidence: { provenance: built, vsa: commit } },
    );
  }
  return { commit, resourceUri };
}

/**
 * SLSA verification_summary.md: the VSA is signed by the pinned supervisor
 * key, `verifier.id` is the pinned one ("Consumers MUST accept only
 * specific (signer, verifier) pairs"), the result is PASSED, a subject is
 * this artifact's digest, and `resourceUri` is the pinned source at some
 * commit (`git+<source>@<commit>`, releaseResourceUri), which is returned.
 */
export function verifyVsaFor(
  artifact: ArtifactRef,
  bytes: Uint8Array,
  trust: SupervisionTrust,
): VerifiedSupervision {
  const statement = verifiedStatement(bytes, trust.supervisorKey, SLSA_VSA_V1, 'AGENT_VSA_INVALID');
  let vsa;
  try {
    vsa = verificationSummaryOf(statement);
    verifyVerificationSummary(vsa, { verifierId: trust.verifierId });
  } catch (cause) {
    const code: AgentErrorCode = hasCode(cause, 'VSA_VERIFIER_MISMATCH')
      ? 'AGENT_VSA_VERIFIER_MISMATCH'
      : hasCode(cause, 'VSA_NOT_PASSED')
        ? 'AGENT_VSA_NOT_PASSED'
        : 'AGENT_VSA_INVALID';
    throw new AgentError(code, 'the VSA does not approve this release', { cause });
  }
  requireSubject(statement, artifact, 'AGENT_VSA_DIGEST_MISMATCH', 'the VSA');
  const prefix = releaseResourceUri({ source: trust.source, commit: '' });
  const commit = vsa.resourceUri.startsWith(prefix) ? vsa.resourceUri.slice(prefix.length) : '';
  if (!/^[0-9a-f]{40,64}$/.test(commit)) {
    throw new AgentError('AGENT_VSA_SOURCE_MISMATCH', 'the VSA is about another source', {
      evidence: { resourceUri: vsa.resourceUri, expected: `${prefix}<commit>` },
    });
  }
  return { commit, resourceUri: `${prefix}${commit}` };
}

/**
 * SLSA provenance.md: signed by the pinned builder key, `builder.id` the
 * pinned one, `externalParameters.source` the pinned repository, a subject
 * this artifact's digest. Returns the commit built.
 */
export function verifyProvenanceFor(
  artifact: ArtifactRef,
  bytes: Uint8Array,
  trust: SupervisionTrust,
): string {
  const statement = verifiedStatement(
    bytes,
    trust.builderKey,
    SLSA_PROVENANCE_V1,
    'AGENT_PROVENANCE_INVALID',
  );
  let provenance;
  try {
    provenance = provenanceOf(statement);
  } catch (cause) {
    throw new AgentError('AGENT_PROVENANCE_INVALID', 'the provenance is not SLSA v1', { cause });
  }
  if (provenance.runDetails.builder.id !== trust.builderId) {
    throw new AgentError(
      'AGENT_PROVENANCE_BUILDER_MISMATCH',
      'the provenance names another builder',
      {
        evidence: { builderId: provenance.runDetails.builder.id, expected: trust.builderId },
      },
    );
  }
  const source = provenance.buildDefinition.externalParameters.source as
    { uri?: unknown; digest?: { gitCommit?: unknown } } | undefined;
  const commit = source?.digest?.gitCommit;
  if (source?.uri !== trust.source || typeof commit !== 'string' || commit === '') {
    throw new AgentError(
      'AGENT_PROVENANCE_SOURCE_MISMATCH',
      'the provenance names another source',
      {
        evidence: { source: source?.uri ?? null, expected: trust.source },
      },
    );
  }
  requireSubject(statement, artifact, 'AGENT_PROVENANCE_DIGEST_MISMATCH', 'the provenance');
  return commit;
}

function verifiedStatement(
  bytes: Uint8Array,
  key: PublicKey,
  predicateType: string,
  code: AgentErrorCode,
): Statement {
  try {
    // DSSE: signature over PAE by the pinned key; in-toto statement.md: the predicate type.
    return verifyStatementEnvelope(parseEnvelope(bytes), { keys: [key], predicateType }).statement;
  } catch (cause) {
    throw new AgentError(code, `not a ${predicateType} statement signed by the pinned key`, {
      cause,
      evidence: { keyid: key.keyid },
    });
  }
}

/** in-toto statement.md: the subject names the artifact by digest. */
function requireSubject(
  statement: Statement,
  artifact: ArtifactRef,
  code: AgentErrorCode,
  what: string,
): void {
  const found = statement.subject.some(
    (s) =>
      s.digest.sha256 === artifact.sha256 && (s.name === undefined || s.name === artifact.name),
  );
  if (!found) {
    throw new AgentError(code, `${what} is not about this artifact's digest`, {
      evidence: {
        artifact,
        subjects: statement.subject.map((s) => ({ name: s.name, sha256: s.digest.sha256 })),
      },
    });
  }
}
