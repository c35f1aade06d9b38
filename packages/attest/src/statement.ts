/**
 * in-toto Attestation Framework v1 Statements (in-toto/attestation
 * spec/v1/statement.md) in DSSE envelopes (spec/v1/envelope.md).
 *
 * A Statement binds a predicate to subjects by digest. Parsing follows the
 * framework's parsing rules: unknown fields are kept and ignored; known fields
 * must have their types. Nothing in a payload counts before its envelope has
 * been verified, so `verifyStatementEnvelope` is the way in.
 */
import {
  type EnvelopeSigner,
  type EnvelopeVerifier,
  type Envelope,
  signEnvelope,
  verifyEnvelope,
} from './dsse.js';
import { AttestError } from './errors.js';
import {
  type Fail,
  type JsonObject,
  isRecord,
  isUnset,
  requireDigestSet,
  requireObject,
  requireResourceDescriptor,
  requireUri,
  stableStringify,
} from './fields.js';

/** statement.md: "Always `https://in-toto.io/Statement/v1` for this version". */
export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1';
/** envelope.md: the payloadType of a DSSE envelope holding a Statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
// envelope.md also allows application/vnd.in-toto.<predicate>+json.
const IN_TOTO_PAYLOAD_TYPES = /^application\/vnd\.in-toto(?:\.[A-Za-z0-9_.-]+)?\+json$/;

/** Default cap on a Statement payload, in bytes. */
export const DEFAULT_MAX_STATEMENT_SIZE = 4 * 1024 * 1024;

/**
 * Algorithms a consumer accepts when matching digests (digest_set.md:
 * "Consumers MUST only accept algorithms that they consider secure").
 */
export const ACCEPTED_DIGEST_ALGORITHMS: readonly string[] = [
  'sha256',
  'sha384',
  'sha512',
  'sha3_256',
  'sha3_384',
  'sha3_512',
];

/** DigestSet (digest_set.md): algorithm → digest. */
export type DigestSet = Record<string, string>;

/** ResourceDescriptor (resource_descriptor.md). */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: DigestSet;
  /** base64 */
  content?: string;
  downloadLocation?: string;
  mediaType?: string;
  annotations?: Record<string, unknown>;
}

/** A subject: statement.md "Each element MUST have `digest` set". */
export type Subject = ResourceDescriptor & { digest: DigestSet };

export interface Statement<P = unknown> {
  _type: typeof STATEMENT_TYPE_V1;
  subject: Subject[];
  predicateType: string;
  predicate?: P;
}

export interface StatementInput<P> {
  subject: readonly Subject[];
  predicateType: string;
  predicate?: P;
}

export interface VerifyStatementOptions {
  keys: readonly EnvelopeVerifier[];
  threshold?: number;
  /** When set, the Statement must carry this predicate type. */
  predicateType?: string;
  /** Default DEFAULT_MAX_STATEMENT_SIZE. */
  maxSize?: number;
  /** See `VerifyEnvelopeOptions.strictBase64`. */
  strictBase64?: boolean;
}

export interface VerifiedStatement {
  statement: Statement;
  verifiedBy: EnvelopeVerifier[];
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

const fail: Fail = (kind, path, reason) => {
  throw new AttestError(
    kind === 'missing' ? 'STATEMENT_FIELD_MISSING' : 'STATEMENT_FIELD_INVALID',
    `${path}: ${reason}`,
    { evidence: { path } },
  );
};

/** A Statement from its parts, validated. */
export function buildStatement<P>(input: StatementInput<P>): Statement<P> {
  const statement: Statement<P> = {
    _type: STATEMENT_TYPE_V1,
    subject: input.subject.map((s) => ({ ...s, digest: { ...s.digest } })),
    predicateType: input.predicateType,
  };
  if (input.predicate !== undefined) statement.predicate = input.predicate;
  validateStatement(statement);
  return statement;
}

/**
 * Checks a JSON value against statement.md and returns it as a Statement.
 * The predicate is not checked here (see the predicate validators).
 */
export function validateStatement(value: unknown): Statement {
  if (!isRecord(value)) {
    throw new AttestError('STATEMENT_MALFORMED', 'a Statement is a JSON object');
  }
  // statement.md `_type`: "Always https://in-toto.io/Statement/v1"
  if (value._type !== STATEMENT_TYPE_V1) {
    throw new AttestError('STATEMENT_TYPE_UNSUPPORTED', 'not an in-toto Statement v1', {
      evidence: { _type: value._type },
    });
  }
  // statement.md `subject`: array of ResourceDescriptor, required, each with digest.
  const subject = value.subject;
  if (isUnset(subject)) fail('missing', 'subject', 'required');
  if (!Array.isArray(subject)) fail('invalid', 'subject', 'not an array');
  if (subject.length === 0) fail('missing', 'subject', 'at least one subject');
  subject.forEach((s: unknown, i) => {
    const rd = requireResourceDescriptor(s, `subject[${i}]`, fail);
    requireDigestSet(rd.digest, `subject[${i}].digest`, fail);
  });
  // statement.md `predicateType`: TypeURI, required.
  requireUri(value.predicateType, 'predicateType', fail);
  // statement.md `predicate`: object, optional.
  if (!isUnset(value.predicate)) requireObject(value.predicate, 'predicate', fail);
  return value as unknown as Statement;
}

/** The Statement as JSON bytes, keys sorted so equal Statements give equal bytes. */
export function serializeStatement(statement: Statement): Uint8Array {
  return encoder.encode(stableStringify(statement));
}

/** Parses Statement JSON bytes (UTF-8) with a size cap and validates it. */
export function parseStatement(
  payload: Uint8Array,
  maxSize: number = DEFAULT_MAX_STATEMENT_SIZE,
): Statement {
  if (payload.length > maxSize) {
    throw new AttestError('STATEMENT_TOO_LARGE', 'Statement is over the size limit', {
      evidence: { size: payload.length, maxSize },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(payload));
  } catch (cause) {
    throw new AttestError('STATEMENT_MALFORMED', 'Statement is not UTF-8 JSON', { cause });
  }
  return validateStatement(value);
}

/** Signs a Statement into a DSSE envelope with payloadType application/vnd.in-toto+json. */
export function signStatement(statement: Statement, signers: readonly EnvelopeSigner[]): Envelope {
  validateStatement(statement);
  return signEnvelope(IN_TOTO_PAYLOAD_TYPE, serializeStatement(statement), signers);
}

/**
 * Verifies the envelope with public keys only (DSSE), then requires an
 * in-toto payload type (envelope.md), parses the Statement and, when asked,
 * checks its predicate type (the authenticated one — envelope.md: consumers
 * "SHOULD only rely on the predicateType field in the Statement layer").
 */
export function verifyStatementEnvelope(
  envelope: Envelope,
  options: VerifyStatementOptions,
): VerifiedStatement {
  const verified = verifyEnvelope(envelope, {
    keys: options.keys,
    threshold: options.threshold ?? 1,
    strictBase64: options.strictBase64 ?? false,
  });
  if (!IN_TOTO_PAYLOAD_TYPES.test(verified.payloadType)) {
    throw new AttestError('ENVELOPE_PAYLOAD_TYPE_UNSUPPORTED', 'not an in-toto payload type', {
      evidence: { payloadType: verified.payloadType },
    });
  }
  const statement = parseStatement(verified.payload, options.maxSize);
  if (options.predicateType !== undefined && statement.predicateType !== options.predicateType) {
    throw new AttestError('STATEMENT_PREDICATE_TYPE_MISMATCH', 'unexpected predicate type', {
      evidence: { predicateType: statement.predicateType, expected: options.predicateType },
    });
  }
  return { statement, verifiedBy: verified.verifiedBy };
}

/**
 * Whether two digest sets name the same bytes. Stricter than digest_set.md's
 * "match if ANY acceptable field matches": at least one accepted algorithm is
 * shared and every shared accepted algorithm agrees, so a set carrying one
 * right and one wrong digest does not match.
 */
export function digestSetsMatch(
  a: DigestSet,
  b: DigestSet,
  accepted: readonly string[] = ACCEPTED_DIGEST_ALGORITHMS,
): boolean {
  let shared = 0;
  for (const algorithm of accepted) {
    const x = Object.hasOwn(a, algorithm) ? a[algorithm] : undefined;
    const y = Object.hasOwn(b, algorithm) ? b[algorithm] : undefined;
    if (x === undefined || y === undefined) continue;
    if (x !== y) return false;
    shared++;
  }
  return shared > 0;
}

/**
 * Whether a subject of the Statement has a matching digest and, when `name`
 * is given, that name. statement.md: subjects are "matched purely by digest";
 * the name is a policy the consumer may add.
 */
export function subjectMatches(
  statement: Statement,
  name: string | undefined,
  digest: DigestSet,
  accepted: readonly string[] = ACCEPTED_DIGEST_ALGORITHMS,
): boolean {
  return statement.subject.some(
    (s) => (name === undefined || s.name === name) && digestSetsMatch(s.digest, digest, accepted),
  );
}

/** Throws STATEMENT_SUBJECT_NOT_FOUND unless `subjectMatches`. */
export function verifySubject(
  statement: Statement,
  name: string | undefined,
  digest: DigestSet,
  accepted: readonly string[] = ACCEPTED_DIGEST_ALGORITHMS,
): void {
  if (!subjectMatches(statement, name, digest, accepted)) {
    throw new AttestError('STATEMENT_SUBJECT_NOT_FOUND', 'no subject has that digest', {
      evidence: { name, digest, subjects: statement.subject },
    });
  }
}

/** Narrowing helper for predicates: the predicate as a JSON object, or {}. */
export function predicateObject(statement: Statement): JsonObject {
  return isRecord(statement.predicate) ? statement.predicate : {};
}
