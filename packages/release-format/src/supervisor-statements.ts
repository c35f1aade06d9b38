/**
 * The statements the supervisor signs about a release, as both roles read
 * them: their predicate types, and the check anyone makes with the
 * supervisor's public key (the vendor's assembly line on upload, the
 * supervisor on its own reviews). Pure. The supervisor writes them
 * (release: supervisor/supervision.ts).
 */
import {
  verifyStatementEnvelope,
  SLSA_VSA_V1,
  type Envelope,
  type PublicKey,
  type Statement,
} from '@glasshouse/attest';
import { ReleaseFormatError } from './errors.js';

export const REVIEW_PREDICATE_TYPE = 'https://glasshouse.example/supervisor/review/v1';
export const APPROVAL_PREDICATE_TYPE = 'https://glasshouse.example/supervisor/approval/v1';
export const MISMATCH_PREDICATE_TYPE = 'https://glasshouse.example/supervisor/rebuild-mismatch/v1';

/** What a statement about a release must name: the release id and its artifacts. */
export interface StatementRelease {
  readonly id: string;
  readonly artifacts: readonly { readonly name: string; readonly sha256: string }[];
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
  options: { key: PublicKey; predicateType: string; release: StatementRelease },
): Statement {
  let statement: Statement;
  try {
    statement = verifyStatementEnvelope(envelope, {
      keys: [options.key],
      predicateType: options.predicateType,
    }).statement;
  } catch (cause) {
    throw new ReleaseFormatError(
      'SUPERVISOR_ATTESTATION_INVALID',
      `not a ${options.predicateType} statement signed by key ${options.key.keyid}`,
      { cause },
    );
  }
  checkSubjectsAreArtifacts(statement, options.release);
  const predicate = statement.predicate as { releaseId?: unknown } | undefined;
  if (options.predicateType !== SLSA_VSA_V1 && predicate?.releaseId !== options.release.id) {
    throw new ReleaseFormatError(
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
function checkSubjectsAreArtifacts(statement: Statement, release: StatementRelease): void {
  const want = release.artifacts.map((a) => `${a.name}\n${a.sha256}`).sort();
  const got = statement.subject.map((s) => `${s.name ?? ''}\n${s.digest.sha256 ?? ''}`).sort();
  if (want.length !== got.length || want.some((w, i) => w !== got[i])) {
    throw new ReleaseFormatError(
      'SUPERVISOR_ATTESTATION_INVALID',
      "the statement's subjects are not the release's artifacts",
      { evidence: { subjects: statement.subject, artifacts: release.artifacts } },
    );
  }
}
