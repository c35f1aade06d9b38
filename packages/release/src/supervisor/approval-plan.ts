/**
 * What the supervisor signs when a rebuild matches: its own link for the
 * `build` step, a SLSA VSA and the approval, in upload order (the assembly
 * line accepts the approval only once the other two are there). Pure: the
 * key signs (Ed25519 is deterministic) and the time comes in as an argument;
 * keeping and uploading are the caller's one step.
 */
import {
  serializeEnvelope,
  serializeMetablock,
  sha256Hex,
  type ResourceDescriptor,
  type SigningKey,
} from '@glasshouse/attest';
import type { ReleaseRecord } from '@glasshouse/release-format';
import { buildStepLink, signBuildStepLink } from '../build/provenance.js';
import type { Recipe } from '../build/recipe.js';
import {
  approvalStatement,
  rebuildVsaStatement,
  signSupervisorStatement,
  type ApprovalPolicy,
} from './supervision.js';

export type AttestationInput = ResourceDescriptor & { digest: Record<string, string> };

export interface ApprovalPlanInput {
  readonly release: ReleaseRecord;
  /** The recipe and the source digests of the supervisor's own rebuild. */
  readonly recipe: Recipe;
  readonly materials: Readonly<Record<string, string>>;
  readonly verifierId: string;
  readonly policy: ApprovalPolicy;
  /** The vendor's provenance and link and the accepted reviews: the VSA's inputs. */
  readonly inputAttestations: readonly AttestationInput[];
  readonly now: Date;
  readonly key: SigningKey;
}

/** One signed document: the bytes kept in records/ and the upload body. */
export interface SignedDocument {
  readonly kind: 'link' | 'vsa' | 'approval';
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly upload: Readonly<Record<string, unknown>>;
}

export interface ApprovalPlan {
  /** Link, VSA, approval: the order they must be uploaded in. */
  readonly documents: readonly [SignedDocument, SignedDocument, SignedDocument];
  /** The file name in-toto-verify expects for the supervisor's link. */
  readonly linkFileName: string;
}

export function planApproval(input: ApprovalPlanInput): ApprovalPlan {
  const { release, key } = input;
  const link = signBuildStepLink(
    buildStepLink(input.recipe, input.materials, release.artifacts),
    key,
  );
  const linkDoc = signed('link', serializeMetablock(link.metablock), {
    kind: 'link',
    metablock: link.metablock,
  });

  const vsaEnvelope = signSupervisorStatement(
    rebuildVsaStatement({
      release,
      verifierId: input.verifierId,
      timeVerified: input.now,
      policy: input.policy,
      inputAttestations: input.inputAttestations,
    }),
    key,
  );
  const vsaDoc = signed('vsa', serializeEnvelope(vsaEnvelope), {
    kind: 'vsa',
    envelope: vsaEnvelope,
  });

  const approvalEnvelope = signSupervisorStatement(
    approvalStatement({
      release,
      verifierId: input.verifierId,
      approvedAt: input.now,
      policy: input.policy,
      evidence: [
        ...input.inputAttestations,
        { name: 'rebuilder-link', digest: { sha256: linkDoc.sha256 } },
        { name: 'vsa', digest: { sha256: vsaDoc.sha256 } },
      ],
    }),
    key,
  );
  const approvalDoc = signed('approval', serializeEnvelope(approvalEnvelope), {
    kind: 'approval',
    envelope: approvalEnvelope,
  });
  return { documents: [linkDoc, vsaDoc, approvalDoc], linkFileName: link.fileName };
}

function signed(
  kind: SignedDocument['kind'],
  text: string,
  upload: Record<string, unknown>,
): SignedDocument {
  const bytes = new TextEncoder().encode(text);
  return { kind, bytes, sha256: sha256Hex(bytes), upload };
}
