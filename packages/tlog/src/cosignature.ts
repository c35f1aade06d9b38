/**
 * Ed25519 cosignatures, c2sp.org/tlog-cosignature v1.0.1 (signature type 0x04).
 *
 * A cosignature is an ordinary note signature line on a checkpoint whose
 * signature bytes are `timestamp (u64, big-endian) ‖ Ed25519 signature (64)`,
 * the Ed25519 signature being over
 *
 *     cosignature/v1
 *     time <timestamp>
 *     <the whole checkpoint note text>
 *
 * Keys. Verifier keys are vkeys of type 0x04: `name+hexid+base64(0x04 ‖ key)`,
 * the ID computed with type 0x04; a vkey of type 0x01 names a log key and is
 * refused here, so one string never stands for two kinds of signer. The spec
 * defines no private key format; signer keys use the note format
 * `PRIVATE+KEY+name+hexid+base64(type ‖ seed)` with type 0x04 (what
 * `generateCosignerKey` writes). Type 0x01 signer keys are accepted as well,
 * because witnesses commonly generate their key as an ordinary note key: the
 * hex ID of such a key is its 0x01 ID, while the signatures it makes here
 * always carry the 0x04 ID.
 */
import { parseCheckpoint } from './checkpoint.js';
import { TlogError } from './errors.js';
import {
  ED25519_KEY_TYPE,
  decodeEd25519SignerKey,
  decodeEd25519VerifierKey,
  formatSignatureLine,
  formatVerifierKey,
  generateEd25519KeyPair,
  hexKeyId,
  keyIdFor,
  verifyEd25519,
  type NoteSigner,
  type NoteVerifier,
  type NoteVerifierKey,
  type OpenedNote,
} from './note.js';

/** Signature type identifier of timestamped Ed25519 cosignatures. */
export const COSIGNATURE_KEY_TYPE = 0x04;

/** c2sp.org/tlog-cosignature: the timestamp "MUST NOT exceed 2^63 - 1". */
export const MAX_COSIGNATURE_TIMESTAMP = (1n << 63n) - 1n;

/** Size of `timestamped_signature` for Ed25519: u64 timestamp ‖ 64-byte signature. */
export const COSIGNATURE_SIZE = 72;

/** A cosigner's verifier, usable with `openNote`, parsed from a type 0x04 vkey. */
export type CosignatureVerifier = NoteVerifierKey;

/** A witness's signing key. */
export interface Cosigner {
  readonly name: string;
  /** The 0x04 key ID its signature lines carry. */
  readonly keyId: number;
  /** Its type 0x04 verifier key. */
  readonly verifierKey: string;
  /** `timestamp ‖ signature` over a checkpoint's note text; refuses non-checkpoints. */
  cosign(checkpointText: string, timestamp: bigint | number): Uint8Array;
}

/** A verified cosignature and the time its cosigner vouched for. */
export interface Cosignature {
  name: string;
  keyId: number;
  timestamp: bigint;
}

export interface CosignatureTimeOptions {
  /** Current POSIX time in seconds; without it no future check is made. */
  now?: bigint;
  /** Seconds a timestamp may lie ahead of `now`; default 0. */
  maxFutureSkew?: bigint;
}

/** A new cosigner key pair with type 0x04 signer and verifier keys. */
export function generateCosignerKey(
  name: string,
  seed?: Uint8Array,
): { signerKey: string; verifierKey: string } {
  return generateEd25519KeyPair(name, COSIGNATURE_KEY_TYPE, seed);
}

/** Parses a cosigner's signer key (type 0x04, or 0x01: see the module comment). */
export function parseCosignerKey(signerKey: string): Cosigner {
  const parsed = decodeEd25519SignerKey(signerKey, [COSIGNATURE_KEY_TYPE, ED25519_KEY_TYPE]);
  const { name, publicKey, sign } = parsed;
  return {
    name,
    // c2sp.org/tlog-cosignature: SHA-256(<name> || "\n" || 0x04 || public key)[:4]
    keyId: keyIdFor(name, COSIGNATURE_KEY_TYPE, publicKey),
    verifierKey: formatVerifierKey(name, COSIGNATURE_KEY_TYPE, publicKey),
    cosign(checkpointText, timestamp) {
      // Cosigning is a statement about a checkpoint; anything else is refused.
      parseCheckpoint(checkpointText);
      const ts = toTimestamp(timestamp);
      const signature = sign(cosignatureMessage(checkpointText, ts));
      return concat(encodeTimestamp(ts), signature);
    },
  };
}

/** Parses a cosigner's verifier key `name+hexid+base64(0x04 ‖ Ed25519 public key)`. */
export function parseCosignatureVerifierKey(vkey: string): CosignatureVerifier {
  const parsed = decodeEd25519VerifierKey(vkey, COSIGNATURE_KEY_TYPE);
  const publicKey = parsed.publicKey;
  return {
    name: parsed.name,
    keyId: parsed.keyId,
    keyType: parsed.keyType,
    publicKey,
    text: vkey,
    verify(message, signature) {
      // c2sp.org/tlog-cosignature: the signature is a 72-byte timestamped_signature
      if (signature.length !== COSIGNATURE_SIZE) return false;
      const ts = readTimestamp(signature);
      // c2sp.org/tlog-cosignature: timestamp MUST NOT exceed 2^63 - 1
      if (ts > MAX_COSIGNATURE_TIMESTAMP) return false;
      const signed = concat(header(ts), message);
      return verifyEd25519(publicKey, signed, signature.subarray(8));
    },
  };
}

/**
 * The message an Ed25519 cosignature signs (c2sp.org/tlog-cosignature):
 * `cosignature/v1\ntime <ts>\n` followed by the checkpoint note text.
 */
export function cosignatureMessage(checkpointText: string, timestamp: bigint | number): Uint8Array {
  return concat(header(toTimestamp(timestamp)), encoder.encode(checkpointText));
}

/**
 * A NoteSigner that cosigns with the time `now()` returns (POSIX seconds), so
 * `signNote` can produce cosigned checkpoints.
 */
export function cosignatureSigner(
  signerKey: string | Cosigner,
  now: () => bigint | number,
): NoteSigner {
  const cosigner = typeof signerKey === 'string' ? parseCosignerKey(signerKey) : signerKey;
  return {
    name: cosigner.name,
    keyId: cosigner.keyId,
    sign: (message) => cosigner.cosign(decodeText(message), now()),
  };
}

/**
 * The cosignature line (with its final newline) to append to the signed
 * checkpoint whose note text is `noteText`.
 */
export function cosignCheckpoint(
  noteText: string,
  signerKey: string | Cosigner,
  timestamp: bigint | number,
): string {
  const cosigner = typeof signerKey === 'string' ? parseCosignerKey(signerKey) : signerKey;
  return formatSignatureLine(cosigner.name, cosigner.keyId, cosigner.cosign(noteText, timestamp));
}

/**
 * The timestamp of a cosignature, from the signature bytes after the key ID
 * (as `openNote` reports them). Says nothing about validity on its own.
 */
export function cosignatureTimestamp(signature: Uint8Array): bigint {
  if (signature.length !== COSIGNATURE_SIZE) {
    throw new TlogError('COSIGNATURE_MALFORMED', 'cosignature is not timestamp and signature', {
      evidence: { length: signature.length },
    });
  }
  const ts = readTimestamp(signature);
  // c2sp.org/tlog-cosignature: timestamp MUST NOT exceed 2^63 - 1
  if (ts > MAX_COSIGNATURE_TIMESTAMP) {
    throw new TlogError('COSIGNATURE_TIMESTAMP_INVALID', 'timestamp exceeds 2^63 - 1', {
      evidence: { timestamp: ts.toString() },
    });
  }
  return ts;
}

/**
 * Verifies one cosignature (signature bytes after the key ID) over a
 * checkpoint's note text; with `opts.now`, also refuses one dated too far in
 * the future, which the spec permits.
 */
export function verifyCosignature(
  checkpointText: string,
  signature: Uint8Array,
  verifier: NoteVerifier,
  opts: CosignatureTimeOptions = {},
): void {
  const ts = cosignatureTimestamp(signature);
  if (!verifier.verify(encoder.encode(checkpointText), signature)) {
    throw new TlogError('COSIGNATURE_INVALID', 'cosignature does not verify', {
      evidence: { name: verifier.name, keyId: hexKeyId(verifier.keyId), timestamp: ts.toString() },
    });
  }
  checkNotFuture({ name: verifier.name, keyId: verifier.keyId, timestamp: ts }, opts);
}

/**
 * The cosignatures among a note's verified signatures that come from the
 * given cosigner verifiers, with their timestamps. With `opts.now`, ones dated
 * beyond `now + maxFutureSkew` are set apart in `futureDated` rather than
 * failing the note: one witness's clock should not sink a quorum.
 */
export function collectCosignatures(
  opened: OpenedNote,
  verifiers: readonly NoteVerifier[],
  opts: CosignatureTimeOptions = {},
): { accepted: Cosignature[]; futureDated: Cosignature[] } {
  const cosigners = new Set(verifiers.map((v) => `${hexKeyId(v.keyId)}+${v.name}`));
  const accepted: Cosignature[] = [];
  const futureDated: Cosignature[] = [];
  for (const sig of opened.verified) {
    if (!cosigners.has(`${hexKeyId(sig.keyId)}+${sig.name}`)) continue;
    const cosignature = {
      name: sig.name,
      keyId: sig.keyId,
      timestamp: cosignatureTimestamp(sig.signature),
    };
    if (isFuture(cosignature.timestamp, opts)) futureDated.push(cosignature);
    else accepted.push(cosignature);
  }
  return { accepted, futureDated };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeText(message: Uint8Array): string {
  try {
    return decoder.decode(message);
  } catch (err) {
    // c2sp.org/signed-note: a note text is valid UTF-8
    throw new TlogError('COSIGNATURE_MALFORMED', 'message to cosign is not UTF-8', { cause: err });
  }
}

function header(ts: bigint): Uint8Array {
  // c2sp.org/tlog-cosignature: header line, then `time`, a space, decimal with no leading zeroes
  return encoder.encode(`cosignature/v1\ntime ${ts.toString()}\n`);
}

function toTimestamp(t: bigint | number): bigint {
  const ts = typeof t === 'bigint' ? t : Number.isSafeInteger(t) ? BigInt(t) : -1n;
  if (ts < 0n || ts > MAX_COSIGNATURE_TIMESTAMP) {
    throw new TlogError('COSIGNATURE_TIMESTAMP_INVALID', 'timestamp is not in 0..2^63-1', {
      evidence: { timestamp: String(t) },
    });
  }
  return ts;
}

function encodeTimestamp(ts: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, ts);
  return out;
}

function readTimestamp(signature: Uint8Array): bigint {
  return new DataView(signature.buffer, signature.byteOffset, signature.byteLength).getBigUint64(0);
}

function isFuture(ts: bigint, opts: CosignatureTimeOptions): boolean {
  // c2sp.org/tlog-cosignature: verifiers MAY reject cosignatures with timestamps in the future
  return opts.now !== undefined && ts > opts.now + (opts.maxFutureSkew ?? 0n);
}

function checkNotFuture(cosignature: Cosignature, opts: CosignatureTimeOptions): void {
  if (isFuture(cosignature.timestamp, opts)) {
    throw new TlogError('COSIGNATURE_FROM_FUTURE', 'cosignature is dated in the future', {
      evidence: {
        name: cosignature.name,
        keyId: hexKeyId(cosignature.keyId),
        timestamp: cosignature.timestamp.toString(),
        now: String(opts.now),
      },
    });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
