// Over 500 lines: the whole of c2sp.org/signed-note (format, Ed25519 keys, verification) reads best as one checklist.
/**
 * Signed notes, c2sp.org/signed-note v1.0.0, with Ed25519 signatures (type 0x01).
 *
 * A note is a text ending in a newline, a blank line, and one or more lines
 * `— <key name> base64(key ID ‖ signature)`. Keys are identified by the pair
 * (name, key ID); verifier keys are `name+hexid+base64(type ‖ public key)` and
 * signer keys `PRIVATE+KEY+name+hexid+base64(type ‖ seed)`.
 *
 * The text of a note means nothing until a trusted key's signature over it has
 * been verified, so `openNote` is the only way to get at it.
 */
import {
  createSha256,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  fromBase64,
  randomBytes,
  toBase64,
} from '@glasshouse/crypto';
import { TlogError } from './errors.js';

/** Signature type identifier of plain Ed25519 note signatures. */
export const ED25519_KEY_TYPE = 0x01;

/** Default cap on the size of a note, in bytes of UTF-8. */
export const DEFAULT_MAX_NOTE_SIZE = 1024 * 1024;

/** Default cap on the number of signature lines in a note. */
export const DEFAULT_MAX_SIGNATURES = 100;

/** c2sp.org/signed-note: verifiers "MUST accept at least up to 16 signatures". */
export const MIN_SIGNATURE_LIMIT = 16;

/** Checks a signature made by the key it stands for. */
export interface NoteVerifier {
  readonly name: string;
  /** uint32 */
  readonly keyId: number;
  /** `message` is the note text in UTF-8; `signature` excludes the 4-byte key ID. */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** Produces the signature bytes (without key ID) over a note text in UTF-8. */
export interface NoteSigner {
  readonly name: string;
  /** uint32 */
  readonly keyId: number;
  sign(message: Uint8Array): Uint8Array;
}

/** A verifier parsed from a verifier key string. */
export interface NoteVerifierKey extends NoteVerifier {
  readonly publicKey: Uint8Array;
  readonly keyType: number;
  /** The verifier key string it was parsed from. */
  readonly text: string;
}

/** A signer parsed from a signer key string, with the matching verifier key. */
export interface NoteSignerKey extends NoteSigner {
  readonly verifierKey: string;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The signature bytes after the 4-byte key ID. */
  signature: Uint8Array;
}

export interface OpenedNote {
  text: string;
  /** One entry per known key, in order of first appearance. */
  verified: NoteSignature[];
  /** Signatures from keys not among the verifiers, identical lines once. */
  unverified: NoteSignature[];
}

export interface OpenNoteOptions {
  /** Bytes of UTF-8; default DEFAULT_MAX_NOTE_SIZE. */
  maxSize?: number;
  /** Signature lines, duplicates included; default DEFAULT_MAX_SIGNATURES, at least 16. */
  maxSignatures?: number;
}

const EM_DASH_SPACE = '\u2014 ';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// A lone surrogate has no UTF-8 encoding; with the u flag this matches only unpaired ones.
const LONE_SURROGATE = /\p{Cs}/u;
const UNICODE_SPACE = /\p{White_Space}/u;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX_KEY_ID = /^[0-9a-f]{8}$/;

const ED25519_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;

/**
 * Key names "MUST be non-empty and MUST NOT contain any Unicode spaces or
 * plus (U+002B) characters" (c2sp.org/signed-note). Control characters and
 * lone surrogates are refused too: no valid note can carry them.
 */
export function isValidKeyName(name: string): boolean {
  return (
    name.length > 0 &&
    !name.includes('+') &&
    !UNICODE_SPACE.test(name) &&
    !LONE_SURROGATE.test(name) &&
    firstControlCharacter(name) < 0
  );
}

/**
 * Standard, padded base64 (RFC 4648 §4) in its canonical form only; returns
 * undefined for anything else so each caller throws its own code. Canonical
 * means the unused bits of the last group are zero, so every byte string has
 * exactly one accepted encoding.
 */
export function decodeBase64Strict(s: string): Uint8Array | undefined {
  if (!BASE64.test(s)) return undefined;
  const bytes = fromBase64(s);
  if (bytes === undefined || toBase64(bytes) !== s) return undefined;
  return bytes;
}

export function encodeBase64(bytes: Uint8Array): string {
  return toBase64(bytes);
}

/** c2sp.org/signed-note: SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4], big-endian. */
export function keyIdFor(name: string, keyType: number, publicKey: Uint8Array): number {
  assertKeyType(keyType);
  const digest = createSha256()
    .update(encoder.encode(name))
    .update(Uint8Array.of(0x0a, keyType))
    .update(publicKey)
    .digest();
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0);
}

/** `name+hexid+base64(type ‖ public key)`, the key ID computed from the parts. */
export function formatVerifierKey(name: string, keyType: number, publicKey: Uint8Array): string {
  assertKeyName(name);
  const keyId = keyIdFor(name, keyType, publicKey);
  return `${name}+${hexKeyId(keyId)}+${encodeBase64(concat(Uint8Array.of(keyType), publicKey))}`;
}

/**
 * A new Ed25519 key pair for notes, as signer and verifier key strings. The
 * seed is random unless given (tests and deterministic fixtures).
 */
export function generateSignerKey(
  name: string,
  seed?: Uint8Array,
): { signerKey: string; verifierKey: string } {
  return generateEd25519KeyPair(name, ED25519_KEY_TYPE, seed);
}

/**
 * Key strings for an Ed25519 seed under a given signature type. Shared by the
 * note (0x01) and cosignature (0x04) key generators.
 */
export function generateEd25519KeyPair(
  name: string,
  keyType: number,
  seed: Uint8Array = randomBytes(ED25519_KEY_SIZE),
): { signerKey: string; verifierKey: string } {
  assertKeyName(name);
  assertKeyType(keyType);
  if (seed.length !== ED25519_KEY_SIZE) {
    throw new TlogError('KEY_MALFORMED', 'an Ed25519 seed is 32 bytes', {
      evidence: { seedLength: seed.length },
    });
  }
  const publicKey = ed25519PublicKey(seed);
  const keyId = keyIdFor(name, keyType, publicKey);
  const material = encodeBase64(concat(Uint8Array.of(keyType), seed));
  return {
    signerKey: `PRIVATE+KEY+${name}+${hexKeyId(keyId)}+${material}`,
    verifierKey: formatVerifierKey(name, keyType, publicKey),
  };
}

/** Parses an Ed25519 note verifier key `name+hexid+base64(0x01 ‖ public key)`. */
export function parseVerifierKey(s: string): NoteVerifierKey {
  const parsed = decodeEd25519VerifierKey(s, ED25519_KEY_TYPE);
  const publicKey = parsed.publicKey;
  return {
    name: parsed.name,
    keyId: parsed.keyId,
    keyType: parsed.keyType,
    publicKey,
    text: s,
    verify: (message, signature) => verifyEd25519(publicKey, message, signature),
  };
}

/** Parses an Ed25519 note signer key `PRIVATE+KEY+name+hexid+base64(0x01 ‖ seed)`. */
export function parseSignerKey(s: string): NoteSignerKey {
  const parsed = decodeEd25519SignerKey(s, [ED25519_KEY_TYPE]);
  return {
    name: parsed.name,
    keyId: parsed.keyId,
    verifierKey: formatVerifierKey(parsed.name, ED25519_KEY_TYPE, parsed.publicKey),
    sign: parsed.sign,
  };
}

/** The parts of a verifier key whose material is an Ed25519 public key. */
export interface Ed25519VerifierKeyParts {
  name: string;
  keyId: number;
  keyType: number;
  publicKey: Uint8Array;
}

/**
 * Parses `name+hexid+base64(type ‖ 32-byte Ed25519 public key)` for the given
 * type and checks the hex ID against the one computed from the parts. The
 * base64 may itself contain '+', so only the first two '+' separate fields.
 */
export function decodeEd25519VerifierKey(s: string, keyType: number): Ed25519VerifierKeyParts {
  const parts = splitKeyFields(s);
  if (parts === undefined) {
    throw new TlogError('KEY_MALFORMED', 'a verifier key is name+hexid+base64', {
      evidence: { key: s },
    });
  }
  const { name, hexId, material } = parts;
  assertKeyName(name);
  const keyId = parseHexKeyId(hexId);
  const bytes = decodeKeyMaterial(material);
  const type = bytes[0];
  if (type !== keyType) {
    throw new TlogError('KEY_UNSUPPORTED_TYPE', 'verifier key has another signature type', {
      evidence: { key: s, keyType: type, expected: keyType },
    });
  }
  const publicKey = bytes.slice(1);
  if (publicKey.length !== ED25519_KEY_SIZE) {
    throw new TlogError('KEY_MALFORMED', 'an Ed25519 public key is 32 bytes', {
      evidence: { key: s, publicKeyLength: publicKey.length },
    });
  }
  // c2sp.org/signed-note: key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]
  const computed = keyIdFor(name, keyType, publicKey);
  if (computed !== keyId) {
    throw new TlogError('KEY_ID_MISMATCH', 'key ID does not match the name and public key', {
      evidence: { key: s, keyId: hexId, computed: hexKeyId(computed) },
    });
  }
  return { name, keyId, keyType, publicKey };
}

/** The parts of a signer key whose material is an Ed25519 seed. */
export interface Ed25519SignerKeyParts {
  name: string;
  /** The type byte found in the key. */
  keyType: number;
  /** The key ID written in the key, checked against `keyType`. */
  keyId: number;
  publicKey: Uint8Array;
  /** Signs with the seed, which stays inside this closure (never a field). */
  sign: (message: Uint8Array) => Uint8Array;
}

/**
 * Parses `PRIVATE+KEY+name+hexid+base64(type ‖ 32-byte seed)` with a type among
 * `keyTypes`, and checks the hex ID against the public key derived from the seed
 * under the type found. Errors never carry the key string: it holds a secret.
 */
export function decodeEd25519SignerKey(
  s: string,
  keyTypes: readonly number[],
): Ed25519SignerKeyParts {
  const prefix = 'PRIVATE+KEY+';
  const parts = s.startsWith(prefix) ? splitKeyFields(s.slice(prefix.length)) : undefined;
  if (parts === undefined) {
    throw new TlogError('KEY_MALFORMED', 'a signer key is PRIVATE+KEY+name+hexid+base64');
  }
  const { name, hexId, material } = parts;
  if (!isValidKeyName(name)) {
    throw new TlogError('KEY_NAME_INVALID', 'signer key name is empty or has spaces or +');
  }
  const keyId = parseHexKeyId(hexId, name);
  const bytes = decodeKeyMaterial(material, name);
  const type = bytes[0] ?? -1;
  if (!keyTypes.includes(type)) {
    throw new TlogError('KEY_UNSUPPORTED_TYPE', 'signer key has another signature type', {
      evidence: { name, keyType: type, expected: [...keyTypes] },
    });
  }
  const seed = bytes.subarray(1);
  if (seed.length !== ED25519_KEY_SIZE) {
    throw new TlogError('KEY_MALFORMED', 'an Ed25519 seed is 32 bytes', {
      evidence: { name, seedLength: seed.length },
    });
  }
  const secret = seed.slice();
  const publicKey = ed25519PublicKey(secret);
  const computed = keyIdFor(name, type, publicKey);
  if (computed !== keyId) {
    throw new TlogError('KEY_ID_MISMATCH', 'key ID does not match the name and derived key', {
      evidence: { name, keyId: hexId, computed: hexKeyId(computed) },
    });
  }
  return {
    name,
    keyType: type,
    keyId,
    publicKey,
    sign: (message) => ed25519Sign(secret, message),
  };
}

/** Verifies an Ed25519 signature (RFC 8032); false for a wrong-sized one. */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== ED25519_SIGNATURE_SIZE) return false;
  return ed25519Verify(publicKey, message, signature);
}

/** `— name base64(keyID ‖ signature)` with its final newline (c2sp.org/signed-note). */
export function formatSignatureLine(name: string, keyId: number, signature: Uint8Array): string {
  if (!isValidKeyName(name)) {
    throw new TlogError('NOTE_SIGNER_INVALID', 'signer name is not a valid key name', {
      evidence: { name },
    });
  }
  if (!isUint32(keyId)) {
    throw new TlogError('NOTE_SIGNER_INVALID', 'key ID is not a uint32', {
      evidence: { name, keyId },
    });
  }
  // Go and C2SP verifiers refuse fewer than one signature byte after the key ID.
  if (signature.length === 0) {
    throw new TlogError('NOTE_SIGNER_INVALID', 'empty signature', { evidence: { name } });
  }
  const id = new Uint8Array(4);
  new DataView(id.buffer).setUint32(0, keyId);
  return `${EM_DASH_SPACE}${name} ${encodeBase64(concat(id, signature))}\n`;
}

/** Signs `text` with every signer; the note is the text, a blank line, the lines. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  assertNoteText(text);
  if (signers.length === 0) {
    // c2sp.org/signed-note: "followed by one or more signature lines"
    throw new TlogError('NOTE_SIGNER_INVALID', 'a note needs at least one signer');
  }
  const seen = new Set<string>();
  for (const signer of signers) {
    const key = `${signer.name}+${String(signer.keyId)}`;
    if (seen.has(key)) {
      throw new TlogError('NOTE_SIGNER_INVALID', 'the same key is listed twice', {
        evidence: { name: signer.name, keyId: signer.keyId },
      });
    }
    seen.add(key);
  }
  const message = encoder.encode(text);
  const lines = signers.map((s) => formatSignatureLine(s.name, s.keyId, s.sign(message)));
  return `${text}\n${lines.join('')}`;
}

/**
 * Parses a signed note and verifies the signatures of known keys.
 *
 * Rules (c2sp.org/signed-note): valid UTF-8 without control characters other
 * than newline; the text ends at the last blank line; each signature line is
 * well-formed. Signatures whose (name, key ID) matches no verifier are kept as
 * `unverified`; a known key's signature that fails rejects the whole note; and
 * at least one known signature must verify.
 *
 * Duplicates: every line of a known key is verified (the spec says a known
 * key's signature MUST be verified, so a second, bad line is not skipped the
 * way golang.org/x/mod/sumdb/note does), and the key is listed once in
 * `verified`, with its first signature. Identical unknown lines are listed once.
 */
export function openNote(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  opts: OpenNoteOptions = {},
): OpenedNote {
  const maxSize = opts.maxSize ?? DEFAULT_MAX_NOTE_SIZE;
  const maxSignatures = opts.maxSignatures ?? DEFAULT_MAX_SIGNATURES;
  if (!Number.isSafeInteger(maxSize) || maxSize <= 0) {
    throw new TlogError('NOTE_LIMIT_INVALID', 'maxSize must be a positive integer', {
      evidence: { maxSize },
    });
  }
  // c2sp.org/signed-note: MUST accept at least up to 16 signatures
  if (!Number.isSafeInteger(maxSignatures) || maxSignatures < MIN_SIGNATURE_LIMIT) {
    throw new TlogError('NOTE_LIMIT_INVALID', 'maxSignatures must be at least 16', {
      evidence: { maxSignatures },
    });
  }

  const s = decodeNote(note, maxSize);
  // c2sp.org/signed-note: MUST NOT contain ASCII control characters other than newline
  const control = firstControlCharacter(s, 0x0a);
  if (control >= 0) {
    throw new TlogError('NOTE_MALFORMED', 'note contains a control character', {
      evidence: { offset: control, charCode: s.charCodeAt(control) },
    });
  }
  // c2sp.org/signed-note: the text is separated from the signatures by the last empty line
  const split = s.lastIndexOf('\n\n');
  if (split < 0) {
    throw new TlogError('NOTE_MALFORMED', 'no blank line before the signatures');
  }
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) {
    throw new TlogError('NOTE_MALFORMED', 'signature block missing or not ending in newline');
  }
  const lines = block.slice(0, -1).split('\n');
  // c2sp.org/signed-note: verifiers SHOULD apply a maximum limit to the number of signatures
  if (lines.length > maxSignatures) {
    throw new TlogError('NOTE_TOO_MANY_SIGNATURES', 'note has too many signature lines', {
      evidence: { signatures: lines.length, maxSignatures },
    });
  }

  const known = new Map<string, NoteVerifier[]>();
  for (const v of verifiers) {
    const key = verifierKey(v.name, v.keyId);
    const list = known.get(key);
    if (list === undefined) known.set(key, [v]);
    else if (!list.includes(v)) list.push(v);
  }

  const message = encoder.encode(text);
  const verified: NoteSignature[] = [];
  const verifiedKeys = new Set<string>();
  const unverified: NoteSignature[] = [];
  const unknownLines = new Set<string>();
  for (const [index, line] of lines.entries()) {
    const sig = parseSignatureLine(line, index);
    const key = verifierKey(sig.name, sig.keyId);
    const candidates = known.get(key);
    if (candidates === undefined) {
      // c2sp.org/signed-note: verifiers MUST ignore signatures from unknown keys
      if (!unknownLines.has(line)) {
        unknownLines.add(line);
        unverified.push(sig);
      }
      continue;
    }
    const [verifier, other] = candidates;
    if (verifier === undefined || other !== undefined) {
      throw new TlogError('NOTE_VERIFIER_AMBIGUOUS', 'two verifiers share a name and key ID', {
        evidence: { name: sig.name, keyId: hexKeyId(sig.keyId) },
      });
    }
    // c2sp.org/signed-note: if a signature from a known key fails to verify, reject the note
    if (!verifier.verify(message, sig.signature)) {
      throw new TlogError('NOTE_SIGNATURE_INVALID', 'signature of a known key does not verify', {
        evidence: {
          name: sig.name,
          keyId: hexKeyId(sig.keyId),
          signature: encodeBase64(sig.signature),
          line: index,
        },
      });
    }
    if (!verifiedKeys.has(key)) {
      verifiedKeys.add(key);
      verified.push(sig);
    }
  }

  // c2sp.org/signed-note: if no signature from a known key verifies, clients MUST reject the note
  if (verified.length === 0) {
    throw new TlogError('NOTE_NO_VERIFIED_SIGNATURE', 'no signature from a known key', {
      evidence: {
        unverified: unverified.map((u) => ({ name: u.name, keyId: hexKeyId(u.keyId) })),
        text,
      },
    });
  }
  return { text, verified, unverified };
}

/** Eight lowercase hex digits, as in verifier keys. */
export function hexKeyId(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

function parseSignatureLine(line: string, index: number): NoteSignature {
  // c2sp.org/signed-note: em dash (U+2014), space, key name, space, base64 signature
  if (!line.startsWith(EM_DASH_SPACE)) {
    throw new TlogError('NOTE_MALFORMED', 'signature line does not start with an em dash', {
      evidence: { line: index },
    });
  }
  const rest = line.slice(EM_DASH_SPACE.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? '' : rest.slice(0, space);
  if (!isValidKeyName(name)) {
    throw new TlogError('NOTE_MALFORMED', 'signature line has no valid key name', {
      evidence: { line: index },
    });
  }
  const raw = decodeBase64Strict(rest.slice(space + 1));
  // c2sp.org/signed-note: signatures are the base64 encoding of 4+n bytes
  if (raw === undefined || raw.length < 5) {
    throw new TlogError('NOTE_MALFORMED', 'signature is not base64 of key ID and signature', {
      evidence: { line: index, name },
    });
  }
  const keyId = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(0);
  return { name, keyId, signature: raw.slice(4) };
}

function decodeNote(note: string | Uint8Array, maxSize: number): string {
  if (typeof note === 'string') {
    // A UTF-8 encoding is never shorter than the UTF-16 one: reject early, before encoding.
    if (note.length > maxSize || encoder.encode(note).length > maxSize) {
      throw new TlogError('NOTE_TOO_LARGE', 'note exceeds the size limit', {
        evidence: { maxSize },
      });
    }
    // c2sp.org/signed-note: MUST be valid UTF-8
    if (LONE_SURROGATE.test(note)) {
      throw new TlogError('NOTE_MALFORMED', 'note has a lone surrogate, not valid UTF-8');
    }
    return note;
  }
  if (note.length > maxSize) {
    throw new TlogError('NOTE_TOO_LARGE', 'note exceeds the size limit', {
      evidence: { size: note.length, maxSize },
    });
  }
  try {
    return decoder.decode(note);
  } catch (err) {
    // c2sp.org/signed-note: MUST be valid UTF-8
    throw new TlogError('NOTE_MALFORMED', 'note is not valid UTF-8', { cause: err });
  }
}

/** Refuses what could never be opened: the note text rules of c2sp.org/signed-note. */
function assertNoteText(text: string): void {
  if (text.length === 0 || !text.endsWith('\n')) {
    throw new TlogError('NOTE_MALFORMED', 'note text must be non-empty and end in newline');
  }
  if (LONE_SURROGATE.test(text) || firstControlCharacter(text, 0x0a) >= 0) {
    throw new TlogError('NOTE_MALFORMED', 'note text has a control character or lone surrogate');
  }
}

function splitKeyFields(s: string): { name: string; hexId: string; material: string } | undefined {
  const first = s.indexOf('+');
  const second = first < 0 ? -1 : s.indexOf('+', first + 1);
  if (second < 0) return undefined;
  return {
    name: s.slice(0, first),
    hexId: s.slice(first + 1, second),
    material: s.slice(second + 1),
  };
}

function parseHexKeyId(hexId: string, name?: string): number {
  if (!HEX_KEY_ID.test(hexId)) {
    throw new TlogError('KEY_MALFORMED', 'key ID is not 8 lowercase hex digits', {
      evidence: name === undefined ? { keyId: hexId } : { name, keyId: hexId },
    });
  }
  return Number.parseInt(hexId, 16);
}

function decodeKeyMaterial(material: string, name?: string): Uint8Array {
  const bytes = decodeBase64Strict(material);
  if (bytes === undefined || bytes.length < 2) {
    throw new TlogError('KEY_MALFORMED', 'key material is not base64 of type and key', {
      evidence: name === undefined ? { material } : { name },
    });
  }
  return bytes;
}

function assertKeyName(name: string): void {
  if (!isValidKeyName(name)) {
    throw new TlogError('KEY_NAME_INVALID', 'key name is empty or has spaces or +', {
      evidence: { name },
    });
  }
}

function assertKeyType(keyType: number): void {
  if (!Number.isInteger(keyType) || keyType < 0 || keyType > 0xff) {
    throw new TlogError('KEY_UNSUPPORTED_TYPE', 'signature type is one byte', {
      evidence: { keyType },
    });
  }
}

function verifierKey(name: string, keyId: number): string {
  return `${hexKeyId(keyId)}+${name}`;
}

function isUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** Index of the first character below U+0020 other than `allowed`, or -1. */
function firstControlCharacter(s: string, allowed = -1): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== allowed) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
