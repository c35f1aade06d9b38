/**
 * DSSE v1.0 (secure-systems-lab/dsse, protocol.md and envelope.md), the
 * subset this package needs, without `node:` imports: PAE, the JSON
 * envelope, and "every named party signed" verification.
 *
 * Where the spec leaves room, this module refuses:
 * - base64 is standard and padded only (envelope.md allows URL-safe too):
 *   every envelope here is written by this package, and one encoding per
 *   byte string means one log entry per fact;
 * - the envelope has exactly `payload`, `payloadType`, `signatures`, and each
 *   signature exactly `keyid` and `sig`; the keyid is required (it is how a
 *   signature is attributed to a party);
 * - a signature whose keyid names a party and fails rejects the envelope,
 *   a signature by an unknown keyid is skipped (protocol.md "Signature
 *   verification": unrecognised keys are not an error).
 */
import { canonicalJson, fromBase64, fromUtf8, toBase64, utf8 } from './bytes.js';
import { exactObject, type Fail } from './check.js';
import { ResidencyError, type ResidencyErrorCode } from './errors.js';
import { keyId, verifyEd25519 } from './keys.js';

/** The JSON envelope (DSSE envelope.md). */
export interface DsseEnvelope {
  readonly payload: string;
  readonly payloadType: string;
  readonly signatures: readonly DsseSignature[];
}

export interface DsseSignature {
  /** Hex SHA-256 of the signer's raw public key (see `keyId`). */
  readonly keyid: string;
  /** Standard base64 of the raw signature. */
  readonly sig: string;
}

/** A signature made elsewhere over the signing message: raw bytes or base64 as in an envelope. */
export interface DetachedSignature {
  readonly keyid: string;
  readonly sig: Uint8Array | string;
}

/** Two parties with three signatures each is already odd; more is refused. */
export const MAX_ENVELOPE_SIGNATURES = 8;
const MAX_KEYID_LENGTH = 128;
const MAX_SIG_BYTES = 512;

/**
 * DSSE protocol.md "Signature definition":
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body,
 * LEN = ASCII decimal byte length without leading zeros.
 */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8(payloadType);
  const head = utf8(`DSSEv1 ${type.length} `);
  const middle = utf8(` ${payload.length} `);
  const out = new Uint8Array(head.length + type.length + middle.length + payload.length);
  out.set(head, 0);
  out.set(type, head.length);
  out.set(middle, head.length + type.length);
  out.set(payload, head.length + type.length + middle.length);
  return out;
}

/** The envelope object (envelope.md) from a payload and signatures made elsewhere. */
export function buildEnvelope(
  payloadType: string,
  payload: Uint8Array,
  signatures: readonly DetachedSignature[],
): DsseEnvelope {
  if (signatures.length === 0 || signatures.length > MAX_ENVELOPE_SIGNATURES) {
    throw new ResidencyError(
      'ENVELOPE_INVALID',
      `an envelope carries 1..${MAX_ENVELOPE_SIGNATURES} signatures`,
    );
  }
  return {
    payload: toBase64(payload),
    payloadType,
    signatures: signatures.map((s) => ({
      keyid: s.keyid,
      sig: typeof s.sig === 'string' ? s.sig : toBase64(s.sig),
    })),
  };
}

/** Canonical JSON text of an envelope object, one line, newline-terminated. */
export function serializeEnvelope(envelope: DsseEnvelope): string {
  return `${canonicalJson(envelopeJson(envelope))}\n`;
}

/** The envelope with its keys in the fixed order, as embedded in log entries. */
export function envelopeJson(envelope: DsseEnvelope): {
  payload: string;
  payloadType: string;
  signatures: { keyid: string; sig: string }[];
} {
  return {
    payload: envelope.payload,
    payloadType: envelope.payloadType,
    signatures: envelope.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  };
}

/**
 * Checks the shape of an envelope object (envelope.md) and its payload type
 * (protocol.md: "Reject if PAYLOAD_TYPE is not a supported type"), and
 * decodes the payload. Throws `code` on any failure.
 */
export function checkEnvelope(
  value: unknown,
  payloadType: string,
  code: ResidencyErrorCode,
  maxPayloadBytes: number,
): { envelope: DsseEnvelope; payload: Uint8Array } {
  const fail: Fail = (what, evidence) => {
    throw new ResidencyError(code, `DSSE envelope: ${what}`, evidence ? { evidence } : {});
  };
  const obj = exactObject(
    value,
    'the envelope',
    ['payload', 'payloadType', 'signatures'],
    [],
    fail,
  );
  if (obj.payloadType !== payloadType) {
    fail('unexpected payload type', { payloadType: obj.payloadType, expected: payloadType });
  }
  if (typeof obj.payload !== 'string' || obj.payload.length > Math.ceil(maxPayloadBytes / 3) * 4) {
    fail('the payload is not a string within the size limit', { maxPayloadBytes });
  }
  const payload = fromBase64(obj.payload);
  if (payload === undefined) return fail('the payload is not strict standard base64');
  const sigs = obj.signatures;
  if (!Array.isArray(sigs) || sigs.length === 0 || sigs.length > MAX_ENVELOPE_SIGNATURES) {
    fail(`signatures is not an array of 1..${MAX_ENVELOPE_SIGNATURES}`);
  }
  const signatures = (sigs as unknown[]).map((s, index): DsseSignature => {
    const sig = exactObject(s, `signatures[${index}]`, ['keyid', 'sig'], [], fail);
    if (
      typeof sig.keyid !== 'string' ||
      sig.keyid === '' ||
      sig.keyid.length > MAX_KEYID_LENGTH ||
      typeof sig.sig !== 'string' ||
      sig.sig.length > Math.ceil(MAX_SIG_BYTES / 3) * 4
    ) {
      fail(`signatures[${index}] is not {keyid, sig} strings within limits`);
    }
    return { keyid: sig.keyid, sig: sig.sig };
  });
  return { envelope: { payload: obj.payload, payloadType, signatures }, payload };
}

/** One party whose signature an envelope must carry. */
export interface Party {
  readonly name: string;
  readonly key: Uint8Array;
}

/**
 * DSSE protocol.md "Signature verification", with a threshold of every
 * named party: each signature whose keyid is a party's keyid must verify
 * over PAE (`invalid` otherwise), and each party must have one that did
 * (`missing` otherwise). Parties must have distinct keys, or one signature
 * would count for two.
 */
export function verifyParties(
  envelope: DsseEnvelope,
  payload: Uint8Array,
  parties: readonly Party[],
  codes: { missing: ResidencyErrorCode; invalid: ResidencyErrorCode },
): void {
  const ids = parties.map((p) => keyId(p.key));
  if (new Set(ids).size !== ids.length) {
    throw new ResidencyError('KEY_INVALID', 'two parties that must both sign share one key', {
      evidence: { parties: parties.map((p) => p.name) },
    });
  }
  const message = pae(envelope.payloadType, payload);
  const signed = new Set<string>();
  envelope.signatures.forEach((signature, index) => {
    const at = ids.indexOf(signature.keyid);
    const party = parties[at];
    if (party === undefined) return; // an unknown key: skipped (protocol.md)
    const sig = fromBase64(signature.sig);
    if (sig === undefined || !verifyEd25519(party.key, message, sig)) {
      throw new ResidencyError(codes.invalid, `the ${party.name}'s signature does not verify`, {
        evidence: { index, keyid: signature.keyid, party: party.name },
      });
    }
    signed.add(party.name);
  });
  const absent = parties.filter((p) => !signed.has(p.name)).map((p) => p.name);
  if (absent.length > 0) {
    throw new ResidencyError(
      codes.missing,
      `no valid signature by the ${absent.join(' and the ')}`,
      {
        evidence: { missing: absent, keyids: envelope.signatures.map((s) => s.keyid) },
      },
    );
  }
}

/** Parses envelope text (JSON) of at most `maxBytes`; `code` on failure. */
export function parseEnvelopeText(
  text: string | Uint8Array,
  maxBytes: number,
  code: ResidencyErrorCode,
): unknown {
  const bytes = typeof text === 'string' ? utf8(text) : text;
  if (bytes.length > maxBytes) {
    throw new ResidencyError(code, 'the envelope is over the size limit', {
      evidence: { size: bytes.length, max: maxBytes },
    });
  }
  try {
    return JSON.parse(typeof text === 'string' ? text : fromUtf8(text)) as unknown;
  } catch (cause) {
    throw new ResidencyError(code, 'the envelope is not UTF-8 JSON', { cause });
  }
}
