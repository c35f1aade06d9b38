/**
 * DSSE, the Dead Simple Signing Envelope v1.0 (secure-systems-lab/dsse
 * protocol.md and envelope.md).
 *
 * A signature covers PAE(UTF8(payloadType), payload), so the payload type is
 * authenticated and no canonicalisation is needed. The payload and the
 * signatures travel base64-encoded in a JSON envelope.
 *
 * Decisions where the spec leaves room, all on the side of refusing:
 * - A signature that fails is skipped, as "Multi-signature Verification" says;
 *   the envelope is accepted only if at least `threshold` distinct trusted keys
 *   verified. A failing signature therefore rejects exactly when it is needed
 *   to reach the threshold.
 * - KEYID is an unauthenticated hint: a signature whose keyid names none of
 *   the trusted keys is ignored; one without keyid is tried against every key.
 * - The envelope JSON is strict: only `payload`, `payloadType`, `signatures`
 *   and, per signature, `keyid` and `sig`. An unknown field is refused rather
 *   than ignored, so a changed field name cannot hide a keyid.
 * - Base64 may be standard or URL-safe (the spec's MUST), padded or not, but
 *   one alphabet per string and with zero unused bits. The one way left to
 *   change a byte without changing the content is to swap `+`/`-` or `/`/`_`
 *   in a string that has no other of these; `strictBase64` closes it for
 *   envelopes this project wrote itself.
 */
import { fromBase64, toBase64 as encodeBase64, utf8Length } from '@glasshouse/crypto';
import { AttestError, type AttestErrorCode } from './errors.js';

/** The JSON envelope (DSSE envelope.md), base64 fields as found. */
export interface Envelope {
  payload: string;
  payloadType: string;
  signatures: EnvelopeSignature[];
}

export interface EnvelopeSignature {
  /** Optional, unauthenticated hint (DSSE protocol.md "KEYID"). */
  keyid?: string;
  sig: string;
}

/** Signs PAE bytes. An Ed25519 `SigningKey` is one. */
export interface EnvelopeSigner {
  /** Written as the signature's keyid when non-empty. */
  readonly keyid?: string | undefined;
  sign(pae: Uint8Array): Uint8Array;
}

/** Checks a signature over PAE bytes. An Ed25519 `PublicKey` is one. */
export interface EnvelopeVerifier {
  /** When set, only signatures without keyid or with this keyid are tried. */
  readonly keyid?: string | undefined;
  verify(pae: Uint8Array, signature: Uint8Array): boolean;
}

export interface VerifyEnvelopeOptions {
  /** The trusted keys; distinct keys, at most one per keyid. */
  keys: readonly EnvelopeVerifier[];
  /** How many distinct keys must have signed; default 1. */
  threshold?: number;
  /** When set, the only payload type accepted (DSSE: "Reject if PAYLOAD_TYPE is not a supported type"). */
  payloadType?: string | readonly string[];
  /**
   * Accept only standard, padded base64 (what `signEnvelope` writes) instead
   * of both alphabets. DSSE requires both by default; but `+`→`-` and `/`→`_`
   * are one-byte changes that decode to the same bytes, so only this mode
   * fixes every byte of an envelope. For envelopes this project produced.
   */
  strictBase64?: boolean;
}

export interface VerifiedEnvelope {
  payloadType: string;
  payload: Uint8Array;
  /** The keys whose signatures verified, in the order of `options.keys`. */
  verifiedBy: EnvelopeVerifier[];
}

export interface ParseEnvelopeOptions {
  /** Bytes; default DEFAULT_MAX_ENVELOPE_SIZE. */
  maxSize?: number;
  /** Default DEFAULT_MAX_SIGNATURES. */
  maxSignatures?: number;
}

export const DEFAULT_MAX_ENVELOPE_SIZE = 4 * 1024 * 1024;
export const DEFAULT_MAX_SIGNATURES = 16;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ENVELOPE_FIELDS = new Set(['payload', 'payloadType', 'signatures']);
const SIGNATURE_FIELDS = new Set(['keyid', 'sig']);
const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * DSSE protocol.md "PAE": "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body,
 * LEN the ASCII decimal of the byte length without leading zeros.
 */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = encoder.encode(payloadType);
  const head = encoder.encode(`DSSEv1 ${type.length} `);
  const middle = encoder.encode(` ${payload.length} `);
  const out = new Uint8Array(head.length + type.length + middle.length + payload.length);
  out.set(head, 0);
  out.set(type, head.length);
  out.set(middle, head.length + type.length);
  out.set(payload, head.length + type.length + middle.length);
  return out;
}

/** Signs `payload` with every signer (DSSE protocol.md "To sign"); standard base64 out. */
export function signEnvelope(
  payloadType: string,
  payload: Uint8Array,
  signers: readonly EnvelopeSigner[],
): Envelope {
  assertPayloadType(payloadType, 'ENVELOPE_SIGNER_INVALID');
  if (signers.length === 0) {
    throw new AttestError('ENVELOPE_SIGNER_INVALID', 'an envelope needs at least one signer');
  }
  const seen = new Set<string>();
  for (const signer of signers) {
    const keyid = signer.keyid ?? '';
    if (keyid !== '' && seen.has(keyid)) {
      throw new AttestError('ENVELOPE_SIGNER_INVALID', 'the same keyid is listed twice', {
        evidence: { keyid },
      });
    }
    seen.add(keyid);
  }
  const message = pae(payloadType, payload);
  return {
    payload: toBase64(payload),
    payloadType,
    signatures: signers.map((signer) => {
      const sig = toBase64(signer.sign(message));
      return signer.keyid ? { keyid: signer.keyid, sig } : { sig };
    }),
  };
}

/** The envelope as compact JSON text. */
export function serializeEnvelope(envelope: Envelope): string {
  return JSON.stringify({
    payload: envelope.payload,
    payloadType: envelope.payloadType,
    signatures: envelope.signatures.map((s) =>
      s.keyid === undefined ? { sig: s.sig } : { keyid: s.keyid, sig: s.sig },
    ),
  });
}

/**
 * Parses envelope JSON (bytes are UTF-8) strictly: size and signature count
 * capped, the exact fields of DSSE envelope.md with string values, non-empty
 * payload type, at least one signature. Base64 is decoded at verification.
 */
export function parseEnvelope(
  input: string | Uint8Array,
  options: ParseEnvelopeOptions = {},
): Envelope {
  const maxSize = options.maxSize ?? DEFAULT_MAX_ENVELOPE_SIZE;
  const maxSignatures = options.maxSignatures ?? DEFAULT_MAX_SIGNATURES;
  const size = typeof input === 'string' ? utf8Length(input) : input.length;
  if (size > maxSize) {
    throw new AttestError('ENVELOPE_TOO_LARGE', 'envelope is over the size limit', {
      evidence: { size, maxSize },
    });
  }
  let text: string;
  let value: unknown;
  try {
    text = typeof input === 'string' ? input : decoder.decode(input);
    value = JSON.parse(text);
  } catch (cause) {
    throw new AttestError('ENVELOPE_MALFORMED', 'envelope is not UTF-8 JSON', { cause });
  }
  return envelopeFromJson(value, maxSignatures);
}

/** Checks an already-parsed JSON value the way `parseEnvelope` does. */
export function envelopeFromJson(
  value: unknown,
  maxSignatures: number = DEFAULT_MAX_SIGNATURES,
): Envelope {
  if (!isRecord(value)) malformed('envelope is not a JSON object');
  for (const field of Object.keys(value)) {
    if (!ENVELOPE_FIELDS.has(field)) malformed('unknown envelope field', { field });
  }
  const { payload, payloadType, signatures } = value;
  if (typeof payload !== 'string') malformed('payload is not a string');
  if (typeof payloadType !== 'string') malformed('payloadType is not a string');
  assertPayloadType(payloadType, 'ENVELOPE_MALFORMED');
  // in-toto attestation envelope.md: "signature ... MUST be defined as an array"
  if (!Array.isArray(signatures)) malformed('signatures is not an array');
  if (signatures.length === 0) malformed('no signatures');
  if (signatures.length > maxSignatures) {
    throw new AttestError('ENVELOPE_TOO_MANY_SIGNATURES', 'too many signatures', {
      evidence: { count: signatures.length, maxSignatures },
    });
  }
  const parsed = signatures.map((s: unknown, index): EnvelopeSignature => {
    if (!isRecord(s)) malformed('a signature is not an object', { index });
    for (const field of Object.keys(s)) {
      if (!SIGNATURE_FIELDS.has(field)) malformed('unknown signature field', { index, field });
    }
    if (typeof s.sig !== 'string') malformed('sig is not a string', { index });
    if (s.keyid === undefined) return { sig: s.sig };
    if (typeof s.keyid !== 'string') malformed('keyid is not a string', { index });
    return { keyid: s.keyid, sig: s.sig };
  });
  return { payload, payloadType, signatures: parsed };
}

/**
 * DSSE protocol.md "Multi-signature Verification": decodes the envelope,
 * verifies each signature over PAE against the trusted keys its keyid allows,
 * skips signatures that fail, and requires `threshold` distinct keys. Then
 * checks the payload type. Returns the authenticated payload.
 */
export function verifyEnvelope(
  envelope: Envelope,
  options: VerifyEnvelopeOptions,
): VerifiedEnvelope {
  const threshold = options.threshold ?? 1;
  const keys = options.keys;
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > keys.length) {
    throw new AttestError('ENVELOPE_VERIFY_OPTIONS_INVALID', 'threshold must be 1..keys', {
      evidence: { threshold, keys: keys.length },
    });
  }
  const keyids = new Set<string>();
  for (const key of keys) {
    if (!key.keyid) continue;
    if (keyids.has(key.keyid)) {
      throw new AttestError('ENVELOPE_VERIFY_OPTIONS_INVALID', 'two trusted keys share a keyid', {
        evidence: { keyid: key.keyid },
      });
    }
    keyids.add(key.keyid);
  }
  // Re-check the shape: the envelope may come from a caller, not from parseEnvelope.
  const checked = envelopeFromJson(envelope, Number.MAX_SAFE_INTEGER);
  // DSSE protocol.md: "Receive and decode ... Reject if decoding fails."
  const strict = options.strictBase64 ?? false;
  const payload = decodeBase64(checked.payload, 'payload', strict);
  const message = pae(checked.payloadType, payload);
  const accepted = new Set<EnvelopeVerifier>();
  const skipped: { index: number; keyid: string | undefined }[] = [];
  checked.signatures.forEach((signature, index) => {
    const sig = decodeBase64(signature.sig, `signatures[${index}].sig`, strict);
    const hint = signature.keyid ?? '';
    let verified = false;
    for (const key of keys) {
      if (accepted.has(key)) continue;
      // DSSE protocol.md: "Optionally, filter acceptable public keys by KEYID."
      if (hint !== '' && key.keyid && key.keyid !== hint) continue;
      if (key.verify(message, sig)) {
        accepted.add(key);
        verified = true;
        break;
      }
    }
    if (!verified) skipped.push({ index, keyid: signature.keyid });
  });
  // DSSE protocol.md: "Reject if the cardinality of ACCEPTED_KEYS is less than t."
  if (accepted.size < threshold) {
    throw new AttestError('ENVELOPE_THRESHOLD_NOT_MET', 'too few trusted keys signed', {
      evidence: {
        threshold,
        verified: [...accepted].map((k) => k.keyid ?? null),
        skipped,
      },
    });
  }
  // DSSE protocol.md: "Reject if PAYLOAD_TYPE is not a supported type."
  if (options.payloadType !== undefined) {
    const allowed =
      typeof options.payloadType === 'string' ? [options.payloadType] : options.payloadType;
    if (!allowed.includes(checked.payloadType)) {
      throw new AttestError('ENVELOPE_PAYLOAD_TYPE_UNSUPPORTED', 'unexpected payload type', {
        evidence: { payloadType: checked.payloadType, allowed: [...allowed] },
      });
    }
  }
  return {
    payloadType: checked.payloadType,
    payload,
    verifiedBy: keys.filter((k) => accepted.has(k)),
  };
}

/**
 * DSSE protocol.md: "Either standard or URL-safe base64 encodings are
 * allowed ... verifiers MUST accept either." One alphabet per string, padding
 * optional but correct when present, unused trailing bits zero. `strict`:
 * standard alphabet, padded.
 */
export function decodeBase64(s: string, field = 'base64', strict = false): Uint8Array {
  const urlSafe = /[-_]/.test(s);
  if (!(urlSafe ? URL_SAFE_BASE64 : STANDARD_BASE64).test(s) || !validPadding(s)) {
    invalidBase64(field);
  }
  if (strict && (urlSafe || s.length % 4 !== 0)) invalidBase64(field);
  const bytes = fromBase64(s) ?? invalidBase64(field);
  // Canonical: re-encoding gives the same characters (zero unused bits).
  let again = encodeBase64(bytes).replace(/=+$/, '');
  if (urlSafe) again = again.replaceAll('+', '-').replaceAll('/', '_');
  if (again !== s.replace(/=+$/, '')) invalidBase64(field);
  return bytes;
}

/** Standard, padded base64 (RFC 4648 §4), what `signEnvelope` writes. */
export function toBase64(bytes: Uint8Array): string {
  return encodeBase64(bytes);
}

function validPadding(s: string): boolean {
  const unpadded = s.replace(/=+$/, '');
  const pad = s.length - unpadded.length;
  if (unpadded.length % 4 === 1) return false;
  if (pad === 0) return true;
  return s.length % 4 === 0 && pad === (4 - (unpadded.length % 4)) % 4;
}

function invalidBase64(field: string): never {
  throw new AttestError('ENVELOPE_BASE64_INVALID', `${field} is not base64`, {
    evidence: { field },
  });
}

function assertPayloadType(payloadType: string, code: AttestErrorCode): void {
  // DSSE protocol.md: PAYLOAD_TYPE is required; a lone surrogate has no UTF8().
  if (payloadType.length === 0 || /\p{Cs}/u.test(payloadType)) {
    throw new AttestError(code, 'payloadType must be a non-empty Unicode string', {
      evidence: { payloadType },
    });
  }
}

function malformed(message: string, evidence: Record<string, unknown> = {}): never {
  throw new AttestError('ENVELOPE_MALFORMED', message, { evidence });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
