/**
 * Attestations uploaded to the assembly line: parsed strictly and checked
 * against the release they name and the pinned supervisor key.
 */
import {
  decodeBase64,
  linkFileName,
  envelopeFromJson,
  IN_TOTO_PAYLOAD_TYPE,
  metablockSignedBy,
  parseLinkMetablock,
  parseStatement,
  serializeEnvelope,
  serializeMetablock,
  SLSA_VSA_V1,
  type Envelope,
  type LinkMetadata,
  type Metablock,
  type PublicKey,
} from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import {
  APPROVAL_PREDICATE_TYPE,
  ATTESTATION_KINDS,
  BUILD_STEP_NAME,
  MISMATCH_PREDICATE_TYPE,
  REVIEW_PREDICATE_TYPE,
  verifySupervisorStatement,
  type AttestationKind,
  type ReleaseRecord,
} from '@glasshouse/release-format';
import { ReleaseError } from '../errors.js';

/** The largest attestation the API stores (envelope or metablock JSON). */
export const MAX_ATTESTATION_BYTES = 4 * 1024 * 1024;

export type UploadKind = Exclude<AttestationKind, 'provenance' | 'layout'>;

export type ParsedAttestation = {
  bytes: Uint8Array;
  keyids: string[];
  fileName?: string;
} & (
  | { kind: 'link'; metablock: Metablock<LinkMetadata> }
  | { kind: Exclude<UploadKind, 'link'>; envelope: Envelope }
);

/**
 * `{kind: 'link', metablock}` (a legacy in-toto link) or
 * `{kind: 'vsa'|'approval'|'review'|'mismatch-report', envelope}` (a DSSE
 * envelope carrying an in-toto Statement). Stored re-serialised, so the
 * stored bytes are exactly what was parsed.
 */
export function parseUploadedAttestation(body: unknown): ParsedAttestation {
  const bad = (message: string, cause?: unknown): never => {
    throw new ReleaseError(
      'ASSEMBLY_BAD_ATTESTATION',
      message,
      cause === undefined ? {} : { cause },
    );
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return bad('the body must be a JSON object');
  }
  const fields = Object.keys(body);
  const { kind } = body as Record<string, unknown>;
  const uploadable = ATTESTATION_KINDS.filter(
    (k) => k !== 'provenance' && k !== 'layout',
  ) as string[];
  if (typeof kind !== 'string' || !uploadable.includes(kind)) {
    return bad(`kind must be one of ${uploadable.join(', ')}`);
  }
  const payloadField = kind === 'link' ? 'metablock' : 'envelope';
  for (const f of fields) {
    if (f !== 'kind' && f !== payloadField)
      return bad(`unknown field ${JSON.stringify(f)} for kind ${kind}`);
  }
  const payload = (body as Record<string, unknown>)[payloadField];
  if (payload === undefined) return bad(`${payloadField} is required for kind ${kind}`);
  try {
    if (kind === 'link') {
      const text = JSON.stringify(payload);
      const metablock = parseLinkMetablock(text, { maxSize: MAX_ATTESTATION_BYTES });
      const serialized = Buffer.from(serializeMetablock(metablock));
      const keyids = metablock.signatures.map((s) => s.keyid);
      const first = keyids[0];
      return {
        kind,
        metablock,
        bytes: serialized,
        keyids,
        ...(first === undefined ? {} : { fileName: linkFileName(metablock.signed.name, first) }),
      };
    }
    const envelope = envelopeFromJson(payload);
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
      return bad(`the envelope's payloadType must be ${IN_TOTO_PAYLOAD_TYPE}`);
    }
    parseStatement(decodeBase64(envelope.payload, 'payload'));
    const serialized = Buffer.from(serializeEnvelope(envelope));
    if (serialized.length > MAX_ATTESTATION_BYTES) return bad('the envelope is too large');
    return {
      kind: kind as Exclude<UploadKind, 'link'>,
      envelope,
      bytes: serialized,
      keyids: envelope.signatures.flatMap((s) => (s.keyid === undefined ? [] : [s.keyid])),
    };
  } catch (cause) {
    if (cause instanceof ReleaseError) throw cause;
    const code = cause instanceof CodedError ? `${cause.code}: ` : '';
    return bad(`${code}${(cause as Error).message}`, cause);
  }
}

const PREDICATE_OF: Record<Exclude<UploadKind, 'link'>, string> = {
  vsa: SLSA_VSA_V1,
  approval: APPROVAL_PREDICATE_TYPE,
  review: REVIEW_PREDICATE_TYPE,
  'mismatch-report': MISMATCH_PREDICATE_TYPE,
};

/**
 * An upload must be the supervisor's and about this release: a link for
 * the `build` step whose products are the artifacts (in-toto-spec §4.3.1:
 * both functionaries must report the same products), or a Statement of the
 * kind's predicate type whose subjects are the artifacts.
 */
export function checkUpload(
  parsed: ParsedAttestation,
  record: ReleaseRecord,
  key: PublicKey,
): void {
  const bad = (message: string, cause?: unknown): never => {
    throw new ReleaseError(
      'ASSEMBLY_BAD_ATTESTATION',
      message,
      cause === undefined ? {} : { cause },
    );
  };
  if (parsed.kind === 'link') {
    const { metablock } = parsed;
    if (!metablockSignedBy(metablock, key)) bad('the link is not signed by the supervisor key');
    if (metablock.signed.name !== BUILD_STEP_NAME)
      bad(`the link is not for step ${BUILD_STEP_NAME}`);
    const products = Object.entries(metablock.signed.products)
      .map(([name, digest]) => `${name} ${digest.sha256 ?? ''}`)
      .sort();
    const artifacts = record.artifacts.map((a) => `${a.name} ${a.sha256}`).sort();
    if (products.join('\n') !== artifacts.join('\n')) {
      bad("the link's products are not the release's artifacts");
    }
    return;
  }
  try {
    verifySupervisorStatement(parsed.envelope, {
      key,
      predicateType: PREDICATE_OF[parsed.kind],
      release: record,
    });
  } catch (cause) {
    bad(`the ${parsed.kind} does not verify: ${(cause as Error).message}`, cause);
  }
}
