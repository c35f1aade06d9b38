/**
 * Sealing the personal fields of a telemetry batch on the endpoint.
 *
 * Each batch has a fresh 32-byte data key. The key is sealed to the
 * supervisor's key-release X25519 key with HPKE (RFC 9180) in base mode,
 * single-shot (§6.1), suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
 * AES-256-GCM, info "glasshouse personal fields v1", aad = the batch id.
 * Each event's personal fields {device, host, user, path} are encrypted
 * with AES-256-GCM under the data key with a random 12-byte nonce and
 * aad = "<batchId>:<eventIndex>", so a ciphertext cannot be moved to
 * another event or batch unnoticed. The vendor only ever holds ciphertext;
 * only the key-release private key opens the data key.
 */
import { aesGcmOpen, aesGcmSeal, x25519PublicKey } from '@glasshouse/crypto';
import {
  canonicalJson,
  concatBytes,
  fromBase64,
  fromUtf8,
  randomBytes,
  sha256Hex,
  toBase64,
  toHex,
  utf8,
} from './bytes.js';
import {
  BATCH_SCHEMA,
  encodeBatch,
  MAX_PERSONAL_BYTES,
  type TelemetryBatch,
  type TelemetryEvent,
  type Verdict,
} from './batch.js';
import { exactObject, type Fail } from './check.js';
import { ResidencyError } from './errors.js';
import { HPKE_ENC_BYTES, hpkeOpenBase, hpkeSealBase, type HpkeSealed } from './hpke.js';

/** RFC 9180 §5.1 `info`: binds the context to this use. */
export const HPKE_INFO = 'glasshouse personal fields v1';
const X25519_KEY_BYTES = 32;
const DATA_KEY_BYTES = 32;
const NONCE_BYTES = 12;
/** RFC 9180 §7.1: Nenc of DHKEM(X25519, HKDF-SHA256) is 32. */
const ENC_BYTES = HPKE_ENC_BYTES;

/** The personal fields of one event: sealed on the endpoint, never in clear at the vendor. */
export interface PersonalFields {
  readonly device: string;
  readonly host: string;
  readonly user: string;
  readonly path: string;
}

export interface PlainEvent {
  readonly sha256: string;
  readonly rule: string | null;
  readonly verdict: Verdict;
  readonly timeBucket: string;
  readonly personal: PersonalFields;
}

export interface BatchInput {
  readonly customer: string;
  readonly region: string;
  readonly productVersion: string;
  readonly createdAt: string;
  readonly events: readonly PlainEvent[];
}

export interface KeyReleaseKeyPair {
  /** Raw X25519 public key, 32 bytes (RFC 7748 §5). */
  readonly publicKey: Uint8Array;
  /** Raw X25519 private key, 32 bytes. */
  readonly privateKey: Uint8Array;
}

function assertX25519(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
    throw new ResidencyError('KEY_INVALID', `${what} is not a raw 32-byte X25519 key`);
  }
}

/** A fresh key-release key pair (the supervisor's; the private key never leaves its directory). */
export function generateKeyReleaseKeyPair(): Promise<KeyReleaseKeyPair> {
  // RFC 7748 §5: any 32 random bytes are a private key (X25519 clamps them).
  const privateKey = randomBytes(X25519_KEY_BYTES);
  return Promise.resolve({ publicKey: x25519PublicKey(privateKey), privateKey });
}

/** The public key of a key-release private key (RFC 7748 §6.1). */
export function keyReleasePublicKey(privateKey: Uint8Array): Uint8Array {
  assertX25519(privateKey, 'the key-release private key');
  return x25519PublicKey(privateKey);
}

/** Key id of a key-release public key: first 16 hex of SHA-256 of its raw 32 bytes. */
export function keyReleaseKeyId(publicKey: Uint8Array): string {
  assertX25519(publicKey, 'the key-release public key');
  return sha256Hex(publicKey).slice(0, 16);
}

function personalAad(batchId: string, index: number): Uint8Array<ArrayBuffer> {
  return utf8(`${batchId}:${index}`);
}

/**
 * The API stays promise-based (callers await it; WebCrypto, its engine before, was async) while
 * the crypto interface is synchronous: a throw becomes a rejection, as it was.
 */
function settled<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(fn());
  });
}

function personalJson(p: PersonalFields): string {
  return canonicalJson({ device: p.device, host: p.host, user: p.user, path: p.path });
}

/**
 * Seals a batch for `keyReleasePublicKey` (raw X25519): a random batch id
 * and data key, the data key sealed with HPKE, each event's personal fields
 * encrypted with it. Returns the batch and its bytes (what the agent sends).
 */
export function sealBatch(
  input: BatchInput,
  keyReleasePublicKey: Uint8Array,
): Promise<{ batch: TelemetryBatch; bytes: Uint8Array }> {
  return settled(() => sealBatchNow(input, keyReleasePublicKey));
}

function sealBatchNow(
  input: BatchInput,
  keyReleasePublicKey: Uint8Array,
): { batch: TelemetryBatch; bytes: Uint8Array } {
  assertX25519(keyReleasePublicKey, 'the key-release public key');
  const batchId = toHex(randomBytes(16));
  const dataKey = randomBytes(DATA_KEY_BYTES);
  let sealed: HpkeSealed;
  try {
    // RFC 9180 §6.1: SealBase(pkR, info, aad, pt) -> (enc, ct).
    sealed = hpkeSealBase({
      aead: 'AES-256-GCM',
      recipientPublicKey: keyReleasePublicKey,
      info: utf8(HPKE_INFO),
      aad: utf8(batchId),
      plaintext: dataKey,
    });
  } catch (cause) {
    throw new ResidencyError('KEY_INVALID', 'the key-release public key is of small order', {
      cause,
    });
  }
  // One call to the random source for every nonce of the batch.
  const nonces = randomBytes(NONCE_BYTES * input.events.length);
  const events = input.events.map((event, index): TelemetryEvent => {
    const plain = utf8(personalJson(event.personal));
    if (plain.length + NONCE_BYTES + 16 > MAX_PERSONAL_BYTES) {
      throw new ResidencyError('BATCH_INVALID', 'the personal fields of an event are too long', {
        evidence: { index, size: plain.length },
      });
    }
    const nonce = nonces.subarray(index * NONCE_BYTES, (index + 1) * NONCE_BYTES);
    const ciphertext = aesGcmSeal(dataKey, nonce, plain, personalAad(batchId, index));
    return {
      sha256: event.sha256,
      rule: event.rule,
      verdict: event.verdict,
      timeBucket: event.timeBucket,
      personal: toBase64(concatBytes(nonce, ciphertext)),
    };
  });
  dataKey.fill(0);
  const batch: TelemetryBatch = {
    schema: BATCH_SCHEMA,
    batchId,
    customer: input.customer,
    region: input.region,
    productVersion: input.productVersion,
    createdAt: input.createdAt,
    sealedKey: toBase64(concatBytes(sealed.enc, sealed.ct)),
    keyRelease: keyReleaseKeyId(keyReleasePublicKey),
    events,
  };
  return { batch, bytes: encodeBatch(batch) };
}

/**
 * Opens a batch's data key with the key-release private key (raw X25519):
 * KEY_RELEASE_KEY_MISMATCH when the batch names another key-release key,
 * SEALED_KEY_OPEN_FAILED when HPKE open fails (RFC 9180 §6.1 OpenBase).
 */
export function openBatchKey(
  batch: TelemetryBatch,
  keyReleasePrivateKey: Uint8Array,
): Promise<Uint8Array> {
  return settled(() => openBatchKeyNow(batch, keyReleasePrivateKey));
}

function openBatchKeyNow(batch: TelemetryBatch, keyReleasePrivateKey: Uint8Array): Uint8Array {
  const publicKey = keyReleasePublicKey(keyReleasePrivateKey);
  const keyId = keyReleaseKeyId(publicKey);
  if (keyId !== batch.keyRelease) {
    throw new ResidencyError(
      'KEY_RELEASE_KEY_MISMATCH',
      'the batch is sealed to another key-release key',
      {
        evidence: { batch: batch.keyRelease, key: keyId },
      },
    );
  }
  const sealed = fromBase64(batch.sealedKey);
  if (sealed?.length !== ENC_BYTES + DATA_KEY_BYTES + 16) {
    throw new ResidencyError('BATCH_INVALID', 'sealedKey is not enc ‖ ciphertext of a 32-byte key');
  }
  let opened: Uint8Array;
  try {
    // RFC 9180 §6.1: OpenBase(enc, skR, info, aad, ct); enc first (Nenc = 32).
    opened = hpkeOpenBase({
      aead: 'AES-256-GCM',
      recipientPrivateKey: keyReleasePrivateKey,
      recipientPublicKey: publicKey,
      enc: sealed.subarray(0, ENC_BYTES),
      info: utf8(HPKE_INFO),
      aad: utf8(batch.batchId),
      ct: sealed.subarray(ENC_BYTES),
    });
  } catch (cause) {
    throw new ResidencyError(
      'SEALED_KEY_OPEN_FAILED',
      'the sealed data key does not open with this key',
      {
        cause,
        evidence: { batchId: batch.batchId, keyRelease: batch.keyRelease },
      },
    );
  }
  if (opened.length !== DATA_KEY_BYTES) {
    throw new ResidencyError('SEALED_KEY_OPEN_FAILED', 'the sealed data key is not 32 bytes');
  }
  return opened;
}

const personalInvalid: Fail = (what) => {
  throw new ResidencyError('PERSONAL_OPEN_FAILED', `personal fields: ${what}`);
};

/**
 * Decrypts the personal fields of event `index` with the batch's data key
 * (from openBatchKey): PERSONAL_OPEN_FAILED when the index is out of range,
 * the tag fails (wrong key, moved or altered ciphertext) or the plaintext
 * is not {device, host, user, path}.
 */
export function openPersonal(
  batch: TelemetryBatch,
  index: number,
  dataKey: Uint8Array,
): Promise<PersonalFields> {
  return settled(() => openWithKey(batch, index, decryptionKey(dataKey)));
}

/**
 * Decrypts the personal fields of every event, in order (the data key is
 * imported once); the same refusals as openPersonal.
 */
export function openAllPersonal(
  batch: TelemetryBatch,
  dataKey: Uint8Array,
): Promise<PersonalFields[]> {
  return settled(() => {
    const key = decryptionKey(dataKey);
    return batch.events.map((_, index) => openWithKey(batch, index, key));
  });
}

function decryptionKey(dataKey: Uint8Array): Uint8Array {
  if (dataKey.length !== DATA_KEY_BYTES) {
    throw new ResidencyError('KEY_INVALID', 'a data key is 32 bytes');
  }
  return dataKey;
}

function openWithKey(batch: TelemetryBatch, index: number, key: Uint8Array): PersonalFields {
  const event = Number.isSafeInteger(index) ? batch.events[index] : undefined;
  if (event === undefined) {
    throw new ResidencyError('PERSONAL_OPEN_FAILED', 'no event at this index', {
      evidence: { index, events: batch.events.length },
    });
  }
  const sealed = fromBase64(event.personal);
  if (sealed === undefined || sealed.length < NONCE_BYTES + 16) {
    return personalInvalid('not a nonce and an AES-GCM ciphertext');
  }
  const plain = aesGcmOpen(
    key,
    sealed.subarray(0, NONCE_BYTES),
    sealed.subarray(NONCE_BYTES),
    personalAad(batch.batchId, index),
  );
  if (plain === null) {
    throw new ResidencyError(
      'PERSONAL_OPEN_FAILED',
      'the personal fields do not open with this data key',
      { evidence: { batchId: batch.batchId, index } },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(plain)) as unknown;
  } catch (cause) {
    throw new ResidencyError('PERSONAL_OPEN_FAILED', 'personal fields: not UTF-8 JSON', { cause });
  }
  const v = exactObject(
    value,
    'the personal fields',
    ['device', 'host', 'user', 'path'],
    [],
    personalInvalid,
  );
  for (const field of ['device', 'host', 'user', 'path'] as const) {
    if (typeof v[field] !== 'string') personalInvalid(`${field} is not a string`);
  }
  return {
    device: v.device as string,
    host: v.host as string,
    user: v.user as string,
    path: v.path as string,
  };
}
